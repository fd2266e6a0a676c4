"""Version diffs: English by word, Chinese by character, blocks aligned, output escaped and complete."""

from __future__ import annotations

import time
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from econtract.documents.textdiff import (
    DIFF_TOO_LARGE,
    MAX_HTML_BYTES,
    MAX_TOKENS,
    Change,
    DiffTooLarge,
    block_texts,
    diff_html,
    extract_blocks,
    tokenize,
)


def changes(old: str, new: str) -> list[tuple[str, str]]:
    return [(change.kind, change.text) for change in diff_html(old, new).changes]


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


def tags_of(html: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(html)
    collector.close()
    return collector


def test_tokens_are_words_for_latin_and_characters_for_cjk() -> None:
    # Given mixed text, when tokenised, then words, spaces, punctuation and each CJK character apart.
    assert tokenize("Pay 30 days’ fee-free，甲方（卖方）。カナ한국") == [
        "Pay",
        " ",
        "30",
        " ",
        "days’",
        " ",
        "fee-free",
        "，",
        "甲",
        "方",
        "（",
        "卖",
        "方",
        "）",
        "。",
        "カ",
        "ナ",
        "한",
        "국",
    ]
    assert tokenize("㐀𠀀“a”") == ["㐀", "𠀀", "“", "a", "”"]


def test_an_english_word_replaced() -> None:
    # Given "thirty days" becoming "sixty days", then exactly one deletion and one insertion.
    result = diff_html("<p>Payment within thirty days.</p>", "<p>Payment within sixty days.</p>")
    assert result.changes == [Change("delete", "thirty", 0), Change("insert", "sixty", 0)]
    assert (result.insertions, result.deletions) == (1, 1)
    assert result.html == '<p class="diff-block">Payment within <del>thirty</del><ins>sixty</ins> days.</p>'


def test_a_chinese_character_replaced() -> None:
    # Given 三十日 becoming 六十日, then the one character is deleted and the other inserted.
    assert changes("<p>甲方应于三十日内付款</p>", "<p>甲方应于六十日内付款</p>") == [
        ("delete", "三"),
        ("insert", "六"),
    ]


def test_a_paragraph_inserted_in_the_middle_is_one_inserted_block() -> None:
    # Given a new paragraph between two unchanged ones, then it is the only change, as its own block.
    old = "<h1>合同</h1><p>第一条 标的。</p><p>第二条 价款。</p><p>第三条 违约责任。</p>"
    new = "<h1>合同</h1><p>第一条 标的。</p><p>第二条之一 交付方式：快递。</p><p>第二条 价款。</p><p>第三条 违约责任。</p>"
    result = diff_html(old, new)
    assert [(c.kind, c.text, c.block) for c in result.changes] == [
        ("insert", "第二条之一 交付方式：快递。", 2)
    ]
    assert result.blocks[2].old_index is None and result.blocks[2].new_index == 2
    assert '<p class="diff-block diff-inserted"><ins>第二条之一 交付方式：快递。</ins></p>' in result.html
    assert result.deletions == 0


def test_a_paragraph_deleted() -> None:
    # Given a paragraph removed, then it is shown deleted in place and nothing else changes.
    old = "<p>Clause one.</p><p>Clause two is void.</p><p>Clause three.</p>"
    new = "<p>Clause one.</p><p>Clause three.</p>"
    result = diff_html(old, new)
    assert [(c.kind, c.text, c.block) for c in result.changes] == [("delete", "Clause two is void.", 1)]
    assert (
        result.html.splitlines()[1] == '<p class="diff-block diff-deleted"><del>Clause two is void.</del></p>'
    )
    assert (result.insertions, result.deletions) == (0, 5)


def test_a_table_cell_changed() -> None:
    # Given a price cell changed, then the row is one line and only the amount changes.
    old = "<table><tr><th>项目</th><th>金额</th></tr><tr><td>首付款</td><td>¥100,000</td></tr></table>"
    new = "<table><tr><th>项目</th><th>金额</th></tr><tr><td>首付款</td><td>¥150,000</td></tr></table>"
    result = diff_html(old, new)
    assert changes(old, new) == [("delete", "100"), ("insert", "150")]
    assert result.html.splitlines() == [
        '<p class="diff-block diff-row">项目 | 金额</p>',
        '<p class="diff-block diff-row">首付款 | ¥<del>100</del><ins>150</ins>,000</p>',
    ]


def test_an_edit_in_a_full_contract_is_found_in_its_block() -> None:
    # Given the bilingual contract of the sanitiser tests with its payment term changed, then that
    # word is the only change, in the payment paragraph, and the field and image tokens are equal.
    from econtract.documents.tests.test_sanitizing import CONTRACT

    result = diff_html(CONTRACT, CONTRACT.replace("thirty days", "sixty days"))
    assert [(c.kind, c.text) for c in result.changes] == [("delete", "thirty"), ("insert", "sixty")]
    changed = result.blocks[result.changes[0].block]
    assert block_texts(CONTRACT)[changed.old_index or 0].startswith("付款：买方应于三十日内付款。")
    assert "[signature: buyer]" in result.html and "[image: 公章 seal]" in result.html


def test_a_mixed_chinese_english_sentence() -> None:
    # Given a bilingual sentence with one Chinese and one English edit, then each is found at its level.
    old = "<p>买方 Buyer 应在 30 days 内支付全款。</p>"
    new = "<p>卖方 Buyer 应在 45 days 内支付全款。</p>"
    assert changes(old, new) == [("delete", "买"), ("insert", "卖"), ("delete", "30"), ("insert", "45")]


def test_a_punctuation_only_change() -> None:
    # Given a comma turned into a full stop, then that one mark is the change.
    assert changes("<p>甲方签字，乙方盖章</p>", "<p>甲方签字。乙方盖章</p>") == [
        ("delete", "，"),
        ("insert", "。"),
    ]


def test_identical_documents_have_no_changes() -> None:
    # Given the same document twice (markup differences only), then there is nothing to show as changed.
    old = '<p style="text-align:center">Same <strong>text</strong></p><ul><li>item</li></ul>'
    new = '<p class="text-align-left">Same text</p>\n<ul>\n  <li>item</li>\n</ul>'
    result = diff_html(old, new)
    assert result.changes == []
    assert (result.insertions, result.deletions) == (0, 0)
    assert "<ins>" not in result.html and "<del>" not in result.html


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>", "<p>safe</p>"),
        (
            "<p>safe</p>",
            "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;</p>",
        ),
        ("<p>same &lt;script&gt;</p>", "<p>same &lt;script&gt; more</p>"),
    ],
)
def test_markup_typed_as_text_is_escaped(old: str, new: str) -> None:
    # Given "<script>" typed as text in either version, then the diff shows it escaped, never as a tag.
    result = diff_html(old, new)
    assert "&lt;script&gt;" in result.html
    assert tags_of(result.html).tags <= {"p", "ins", "del"}


def test_no_markup_or_attribute_of_either_version_is_carried_over() -> None:
    # Given hostile markup in both versions, then the rendering uses only its own tags and classes.
    old = '<p onclick="x" style="color:red"><a href="javascript:x">link</a><script>evil()</script></p>'
    new = '<p><img src=x onerror=alert(1) alt="seal"><iframe src="https://evil"></iframe>link</p>'
    result = diff_html(old, new)
    assert tags_of(result.html).tags <= {"p", "ins", "del"}
    assert tags_of(result.html).attributes == {"class"}
    assert "evil()" not in result.html


def test_a_signature_field_shows_as_one_token() -> None:
    # Given a field span whose party changes, then the field token is replaced whole, placeholder unseen.
    old = '<p>签字：<span class="ec-field ec-field-signature" data-kind="signature" data-party="buyer">[签名]</span></p>'
    new = '<p>签字：<span class="ec-field ec-field-signature" data-kind="signature" data-party="seller">[签名]</span></p>'
    assert block_texts(old) == ["签字：[signature: buyer]"]
    assert changes(old, new) == [("delete", "[signature: buyer]"), ("insert", "[signature: seller]")]


def test_blocks_follow_the_editor_structure() -> None:
    # Given headings, nested lists, a quote and a table, then blocks carry the kind and list level.
    html = (
        "<h2>第一条</h2><ol><li><p>一级</p><ul><li><p>二级</p></li></ul></li></ol>"
        "<blockquote><p>引用</p></blockquote><table><tr><td><p>a</p><p>b</p></td><td>c</td></tr></table>"
        '<p>line one<br>line two</p><div class="page-break"></div><h6>small</h6>'
    )
    assert [(b.kind, b.text, b.level) for b in extract_blocks(html)] == [
        ("h2", "第一条", 0),
        ("li", "一级", 1),
        ("li", "二级", 2),
        ("quote", "引用", 0),
        ("row", "a b | c", 0),
        ("p", "line one", 0),
        ("p", "line two", 0),
        ("h4", "small", 0),
    ]


def test_list_items_render_inside_a_list() -> None:
    # Given a changed list item, then the rendering keeps it a list item, nested level as a class.
    result = diff_html(
        "<ul><li>a</li><li>b<ul><li>c</li></ul></li></ul>", "<ul><li>a</li><li>b<ul><li>d</li></ul></li></ul>"
    )
    assert result.html.splitlines() == [
        '<ul class="diff-list">',
        '<li class="diff-block diff-level-1">a</li>',
        '<li class="diff-block diff-level-1">b</li>',
        '<li class="diff-block diff-level-2"><del>c</del><ins>d</ins></li>',
        "</ul>",
    ]


def test_a_version_over_two_megabytes_is_refused() -> None:
    # Given a new version past the byte limit, then the diff is refused with its code.
    with pytest.raises(DiffTooLarge) as refused:
        diff_html("<p>a</p>", "<p>" + "x" * MAX_HTML_BYTES + "</p>")
    assert refused.value.code == DIFF_TOO_LARGE
    assert isinstance(refused.value, ValueError)


def test_a_version_with_too_many_tokens_is_refused() -> None:
    # Given an old version of more than 200,000 tokens (well under 2 MB), then the diff is refused.
    with pytest.raises(DiffTooLarge) as refused:
        diff_html("<p>" + "合" * (MAX_TOKENS + 1) + "</p>", "<p>a</p>")
    assert refused.value.code == DIFF_TOO_LARGE


def test_large_versions_diff_in_bounded_time() -> None:
    # Given two long, different Chinese paragraphs near the token limit, then the diff finishes quickly
    # and still reconstructs both texts.
    old = "<p>" + "甲方应于三十日内付款。" * 9000 + "</p>"
    new = "<p>" + "乙方应于六十日内交货，" * 9000 + "</p>"
    started = time.monotonic()
    result = diff_html(old, new)
    assert time.monotonic() - started < 20
    assert result.old_texts() == block_texts(old) and result.new_texts() == block_texts(new)


@pytest.mark.parametrize("piece", ["<a", "<!--", "</"])
def test_pathological_markup_diffs_in_bounded_time(piece: str) -> None:
    # Given a version of unfinished tags (quadratic for html.parser on raw input), then the diff,
    # which parses the sanitised form, ends in seconds.
    started = time.monotonic()
    result = diff_html(piece * 400_000, "<p>a</p>")
    assert time.monotonic() - started < 10
    assert result.new_texts() == ["a"]


def test_a_version_refused_by_the_sanitiser_is_too_large_to_diff() -> None:
    # Given a version nested too deep, then the diff is refused with the diff's own code.
    with pytest.raises(DiffTooLarge) as refused:
        diff_html("<p>a</p>", "<div>" * 300)
    assert refused.value.code == DIFF_TOO_LARGE and "html_too_deep" in str(refused.value)


WORDS = st.sampled_from(
    [
        "甲方",
        "乙方",
        "三十",
        "六十",
        "日",
        "内",
        "付款",
        "，",
        "。",
        "the",
        "buyer",
        "shall",
        "pay",
        "30",
        "days",
        " ",
        "  ",
        "&amp;",
        "&lt;b&gt;",
    ]
)
PARAGRAPH = st.lists(WORDS, min_size=1, max_size=12).map("".join)
BLOCK = st.tuples(st.sampled_from(["p", "h2", "li", "td"]), PARAGRAPH).map(
    lambda pair: f"<{pair[0]}>{pair[1]}</{pair[0]}>"
)
DOCUMENT = st.lists(BLOCK, max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(DOCUMENT, DOCUMENT)
def test_the_runs_rebuild_both_versions(old: str, new: str) -> None:
    # Given any two documents, when diffed, then equal+deleted runs give the old block texts, equal+inserted
    # runs give the new ones, and the counts match the runs.
    result = diff_html(old, new)
    assert result.old_texts() == block_texts(old)
    assert result.new_texts() == block_texts(new)
    assert result.insertions == sum(
        1 for op in result.opcodes if op.kind == "insert" for token in op.tokens if not token.isspace()
    )
    assert [(c.kind, c.text) for c in result.changes] == [
        (op.kind, op.text) for op in result.opcodes if op.kind != "equal"
    ]
    if block_texts(old) == block_texts(new):
        assert result.changes == []

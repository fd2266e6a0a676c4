"""The archive search: Chinese words inside sentences, English stems, permissions, snippets, files.

Every database test runs on SQLite (FTS5) and, with ECONTRACT_TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
import zlib

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from econtract.accounts.enterprise_models import Department
from econtract.accounts.models import Membership
from econtract.accounts.services import add_member, create_enterprise
from econtract.contracts import search, textextract, tokens
from econtract.contracts.models import Category, Contract, ContractFile, Tag
from econtract.contracts.search_models import ExtractedText, SearchEntry
from econtract.documents.samples import make_contract_pdf
from econtract.documents.tests.pdfbuild import build_pdf, flate_bomb_pdf, stream

HOSTILE_QUERIES = [
    '"',
    '""',
    "*",
    "AND OR NOT",
    "(",
    ")",
    "NEAR",
    "NEAR(a b)",
    "'; DROP TABLE contracts_contract; --",
    "title:采购",
    "^agreement",
    "a AND",
    "-agreement",
    "agree*",
    "'",
    "\\",
    ":*",
    "!",
    "&|<->",
    "{head}: x",
    '"unbalanced 采购',
    "采" * 400,
    "x " * 200,
]


# --- tokens (no database) --------------------------------------------------------------------------


def test_a_cjk_run_is_indexed_as_bigrams_then_its_last_character():
    assert tokens.index_form("年度采购框架协议") == "年度 度采 采购 购框 框架 架协 协议 议"
    assert tokens.index_form("甲") == "甲"
    assert tokens.index_form("第3条 ISO9001认证") == "第 3 条 iso9001 认证 证"


def test_latin_words_are_folded_and_stemmed():
    assert tokens.index_form("Agreements AGREED signing Café ＡＢＣ") == "agreement agre sign cafe abc"


def test_normalize_joins_chinese_split_by_a_line_break_and_drops_control_characters():
    assert (
        tokens.normalize("年度采购\r\n框架协议\x00 and\u202e  more\u00ad text")
        == "年度采购框架协议 and more text"
    )


def test_query_words_are_phrases_of_their_tokens():
    def parsed(q):
        return [str(phrase) for phrase in tokens.parse_query(q)]

    assert parsed("采购框架") == ["采购 购框 框架"]
    assert parsed("采 agreements") == ["采*", "agreement"]
    assert parsed('"framework agreement" 第3条') == ["framework agreement", "第 3 条*"]
    assert parsed("采购 框架") == ["采购", "框架"]  # typed apart: both anywhere
    assert parsed("采购A") == ["采购 购 a"]
    assert parsed("HT-2026-00001") == ["ht 2026 00001"]
    for q in ['"', "*", "(", "!", "'"]:
        assert parsed(q) == []
    assert parsed("AND OR NOT NEAR") == ["and", "or", "not", "near"]  # words, not operators


# Words chosen to exercise every step of Porter's algorithm.
PORTER_WORDS = """
caresses ponies ties caress cats feed agreed plastered bled motoring sing conflated troubled sized
hopping tanned falling hissing fizzed failing filing happy sky relational conditional rational
valenci hesitanci digitizer conformabli radicalli differentli vileli analogousli vietnamization
predication operator feudalism decisiveness hopefulness callousness formaliti sensitiviti
sensibiliti triplicate formative formalize electriciti electrical hopeful goodness revival allowance
inference airliner gyroscopic adjustable defensible irritant replacement adjustment dependent
adoption homologou communism activate angulariti homologous effective bowdlerize probate rate cease
controll roll agreements agreement contracts contracting termination terminated supplementary
obligations warranties indemnification liability liabilities confidentiality parties party
""".split()


def test_the_porter_stemmer_is_sqlites():
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(w UNINDEXED, x, tokenize = 'porter ascii')")
    connection.executemany("INSERT INTO t (w, x) VALUES (?, ?)", [(word, word) for word in PORTER_WORDS])
    connection.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    stems = dict(connection.execute("SELECT t.w, v.term FROM v JOIN t ON t.rowid = v.doc"))
    assert {word: tokens.porter_stem(word) for word in PORTER_WORDS} == stems


def test_phrases_are_found_where_the_index_finds_them():
    text = tokens.normalize("年度采购框架协议，采，购 Framework Agreements")
    spans = list(tokens.find_phrases(text, tokens.parse_query("采购框架 agreement")))
    assert [text[start:end] for start, end in spans] == ["采购框架", "Agreements"]
    assert list(tokens.find_phrases(text, tokens.parse_query("采购协议"))) == []


def test_the_fast_snippet_search_agrees_with_the_token_by_token_one():
    import random

    rng = random.Random(3)
    pieces = [
        "采购",
        "框架",
        "协议",
        "采",
        "购",
        "，",
        " ",
        "Agreements",
        "agreed",
        "hoping",
        "hope",
        "happy",
        "3",
        "A",
        "x",
    ]
    queries = ["采购", "采购框架", "采", "购", "agreement", "agree", "hope", "happi", "采购A", "3条", "x 采"]
    for _ in range(300):
        text = tokens.normalize("".join(rng.choices(pieces, k=rng.randint(1, 40))))
        for q in queries:
            phrases = tokens.parse_query(q)
            slow = sorted(tokens.find_phrases(text, phrases))
            first = tokens.first_match(text, phrases)
            assert (first[0] if first else None) == (slow[0][0] if slow else None), (text, q)
            assert tokens.match_spans(text, phrases, 0, len(text)) == sorted(set(slow)), (text, q)


# --- the archive ----------------------------------------------------------------------------------


def contract(org, user, title, number, *, department=None, **fields):
    return Contract.objects.create(
        organization=org,
        created_by=user,
        source=Contract.Source.UPLOAD,
        title=title,
        number=number,
        verdict=Contract.Verdict.VALID,
        department=department,
        **fields,
    )


def attach(item, user, data, *, kind=ContractFile.Kind.ORIGINAL, content_type="application/pdf"):
    file = ContractFile(
        contract=item,
        kind=kind,
        name="file",
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by=user,
    )
    file.file.save("upload", ContentFile(data), save=False)
    file.save()
    return file


def found(queryset, q):
    return [item.title for item in search.matching(queryset, q).contracts]


@pytest.fixture
def archive(db, enterprise, make_user):
    """Acme with two departments (sales: Alice, purchasing: Bob), Beta with its owner Carol; each
    department and Beta have a contract with the same words."""
    acme = enterprise
    owner = acme.memberships.get().user
    sales = Department.objects.create(organization=acme, name="销售部")
    purchasing = Department.objects.create(organization=acme, name="采购部")
    alice = make_user("alice@acme.test", "Alice", identity=None)
    bob = make_user("bob@acme.test", "Bob", identity=None)
    for user, department in ((alice, sales), (bob, purchasing)):
        membership = add_member(acme, user, Membership.Role.MEMBER)
        membership.department = department
        membership.save()
    carol = make_user("carol@beta.test", "Carol", identity=None)
    beta = create_enterprise("Beta 贸易有限公司", carol)
    words = "年度采购框架协议 Framework Agreements signed by the parties"
    contracts = {
        "sales": contract(acme, owner, f"sales {words}", "HT-2026-00001", department=sales),
        "purchasing": contract(acme, owner, f"purchasing {words}", "HT-2026-00002", department=purchasing),
        "beta": contract(beta, carol, f"beta {words}", "HT-2026-00001"),
    }
    for item in contracts.values():
        search.reindex(item)
    return {"owner": owner, "alice": alice, "bob": bob, "carol": carol, "acme": acme, "beta": beta} | {
        "contracts": contracts
    }


def visible(user):
    return Contract.objects.visible_to(user).alive()


@pytest.mark.django_db
def test_chinese_words_are_found_inside_longer_chinese_text(archive):
    owner = archive["owner"]
    for q in ("采购", "框架", "协议", "年度采购框架协议", "采购框架", '"框架协议"'):
        assert len(found(visible(owner), q)) == 2, q
    for q in ("采购协议", "购采", "框协"):  # characters of the sentence, but not adjacent there
        assert found(visible(owner), q) == [], q


@pytest.mark.django_db
def test_one_chinese_character_is_found_wherever_it_stands(archive):
    owner = archive["owner"]
    for q in ("采", "年", "议"):  # inside, first and last of the run
        assert len(found(visible(owner), q)) == 2, q
    assert found(visible(owner), "卖") == []


@pytest.mark.django_db
def test_english_words_find_their_other_forms(archive):
    owner = archive["owner"]
    for q in ("agreement", "agreements", "AGREEMENT", "framework", "sign", "signing", "party"):
        assert len(found(visible(owner), q)) == 2, q
    assert found(visible(owner), "contract") == []


@pytest.mark.django_db
def test_words_must_all_match_and_a_quoted_phrase_in_order(archive):
    owner = archive["owner"]
    assert found(visible(owner), "sales 采购 agreements") == [archive["contracts"]["sales"].title]
    assert found(visible(owner), "sales 销售") == []
    assert len(found(visible(owner), '"framework agreement"')) == 2
    assert found(visible(owner), '"agreement framework"') == []
    assert len(found(visible(owner), "HT-2026")) == 2  # the number, as a phrase of its parts
    assert found(visible(owner), "HT-2026-00002") == [archive["contracts"]["purchasing"].title]


@pytest.mark.django_db
def test_mixed_chinese_and_english_words(db, enterprise):
    owner = enterprise.memberships.get().user
    item = contract(enterprise, owner, "质量体系 ISO9001认证 第3条款 采购A类物资", "M-1")
    search.reindex(item)
    queryset = Contract.objects.visible_to(owner)
    for q in ("ISO9001认证", "iso9001", "认证", "第3条", "第3条款", "采购A", "A类", "3条"):
        assert found(queryset, q) == [item.title], q
    for q in ("ISO9001证", "第4条", "购A类物资x"):
        assert found(queryset, q) == [], q


@pytest.mark.django_db
@pytest.mark.parametrize("q", HOSTILE_QUERIES)
def test_no_query_is_syntax_or_an_error(archive, q):
    results = search.matching(visible(archive["owner"]), q)
    page = list(results.contracts[:20])
    results.snippets(page)


@pytest.mark.django_db
def test_an_empty_query_filters_nothing_and_punctuation_finds_nothing(archive):
    owner = archive["owner"]
    results = search.matching(visible(owner), "  ")
    assert results.contracts.count() == 2 and results.snippets(list(results.contracts)) == {}
    assert found(visible(owner), "*") == []


@pytest.mark.django_db
def test_a_match_in_the_metadata_ranks_above_one_in_the_text_only(db, enterprise, settings):
    owner = enterprise.memberships.get().user
    in_title = contract(enterprise, owner, "设备采购合同", "R-1")
    in_text = contract(enterprise, owner, "服务合同", "R-2")  # the newer one
    search.index_contract(in_title, ["本合同约定设备事宜。" + "其他条款。" * 200])
    search.index_contract(in_text, ["本合同约定设备采购事宜。" + "其他条款。" * 200])
    results = search.matching(Contract.objects.visible_to(owner), "采购")
    assert [item.number for item in results.contracts] == ["R-1", "R-2"]
    ranks = [item.search_rank for item in results.contracts]
    assert ranks[0] > ranks[1]
    assert results.ranked
    # more matches than are ranked: newest archived first
    settings.ECONTRACT_SEARCH_RANKED_MATCHES = 1
    results = search.matching(Contract.objects.visible_to(owner), "采购")
    assert [item.number for item in results.contracts] == ["R-2", "R-1"]
    assert not results.ranked and results.contracts[0].search_rank is None
    one = search.matching(Contract.objects.visible_to(owner), "采购合同")
    assert [item.number for item in one.contracts] == ["R-1"] and one.ranked


# --- permissions -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("ranked_matches", [1000, 0], ids=["ranked", "newest-first"])
def test_search_and_snippets_never_show_another_departments_or_organisations_contract(
    archive, settings, ranked_matches
):
    settings.ECONTRACT_SEARCH_RANKED_MATCHES = ranked_matches
    everything = list(archive["contracts"].values())
    expected = {
        "owner": {"sales", "purchasing"},
        "alice": {"sales"},
        "bob": {"purchasing"},
        "carol": {"beta"},
    }
    for name, keys in expected.items():
        user = archive[name]
        for q in ("采购", "agreements", "HT-2026", "framework 协议", "采"):
            results = search.matching(visible(user), q)
            assert results.ranked is (ranked_matches > 0)
            shown = {item.pk for item in results.contracts}
            assert shown == {archive["contracts"][key].pk for key in keys}, (name, q)
            # asked for the snippets of every contract, she gets those she may see, and no others
            snippets = results.snippets(everything)
            assert set(snippets) == shown, (name, q)
            for key, item in archive["contracts"].items():
                if key not in keys:
                    assert not any(key in snippet for snippet in snippets.values())
                    assert item.pk not in results.snippets([item.pk])


@pytest.mark.django_db
def test_a_contract_shared_with_her_is_found_and_a_deleted_one_stays_indexed(archive):
    from econtract.contracts.models import ContractShare

    alice = archive["alice"]
    purchasing = archive["contracts"]["purchasing"]
    ContractShare.objects.create(contract=purchasing, user=alice)
    assert len(found(visible(alice), "采购")) == 2
    purchasing.deleted_at = timezone.now()
    purchasing.save()
    assert found(visible(alice), "采购") == [archive["contracts"]["sales"].title]
    assert SearchEntry.objects.filter(contract=purchasing).exists()
    assert purchasing.title in found(Contract.objects.visible_to(alice), "采购")


@pytest.mark.django_db
def test_remove_takes_the_contract_out_of_the_search(archive):
    owner = archive["owner"]
    search.remove(archive["contracts"]["sales"])
    assert found(visible(owner), "采购") == [archive["contracts"]["purchasing"].title]
    search.remove(archive["contracts"]["sales"])  # twice is harmless
    search.reindex(archive["contracts"]["sales"])
    assert len(found(visible(owner), "采购")) == 2


# --- snippets --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_snippet_is_escaped_and_marks_the_matches_around_the_first(db, enterprise):
    owner = enterprise.memberships.get().user
    item = contract(enterprise, owner, "<script>alert(1)</script> 服务合同", "S-1")
    body = "前言。" * 100 + "双方同意年度采购框架协议的全部条款 & agreements <b>apply</b>。" + "后记。" * 100
    search.index_contract(item, [body])
    results = search.matching(Contract.objects.visible_to(owner), "采购 agreement")
    snippet = results.snippets([item])[item.pk]
    assert "<mark>采购</mark>" in snippet and "<mark>agreements</mark>" in snippet
    assert "&amp;" in snippet and "&lt;b&gt;apply&lt;/b&gt;" in snippet and "<b>" not in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    visible_text = snippet.replace("<mark>", "").replace("</mark>", "").replace("&amp;", "&")
    assert 150 <= len(visible_text.replace("&lt;", "<").replace("&gt;", ">")) <= 260
    title_snippet = search.matching(Contract.objects.visible_to(owner), "alert").snippets([item])[item.pk]
    assert title_snippet.startswith("&lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt;")


# --- files -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_text_of_the_files_is_searchable_and_extracted_once(db, enterprise, monkeypatch):
    owner = enterprise.memberships.get().user
    purchase = Category.objects.create(organization=enterprise, name="采购类")
    item = contract(
        enterprise,
        owner,
        "设备合同",
        "F-1",
        archive_number="档案-0042",
        counterparties=[
            {"name": "福州示例科技有限公司", "email": "li@example.cn", "uscc": "91350100M000100Y43"}
        ],
        metadata={"project": "Phoenix 凤凰项目", "cost_centre": 4711},
        category=purchase,
        relation=Contract.Relation.SUPPLEMENT,
    )
    item.tags.add(Tag.objects.create(organization=enterprise, name="重要"))
    pdf = make_contract_pdf(
        "设备买卖合同", ["卖方应于三十日内交付货物。", "Warranty obligations survive termination."]
    )
    attach(item, owner, pdf)
    attach(item, owner, pdf, kind=ContractFile.Kind.SIGNED)  # same text: indexed once
    attach(
        item,
        owner,
        "附件：验收标准 acceptance criteria".encode("gb18030"),
        kind="attachment",
        content_type="text/plain",
    )
    attach(item, owner, "\x89PNG not indexed 图片".encode(), kind="attachment", content_type="image/png")
    search.reindex(item)
    queryset = Contract.objects.visible_to(owner)
    for q in (
        "交付货物",
        "warranties",
        "terminated",
        "验收标准",
        "acceptance",
        "福州示例",
        "li@example.cn",
        "91350100M000100Y43",
        "凤凰",
        "4711",
        "重要",
        "采购类",
        "档案-0042",
        "supplementary agreement",  # the relation, in each language (补充协议 once translated)
    ):
        assert found(queryset, q) == ["设备合同"], q
    assert found(queryset, "图片") == []
    assert ExtractedText.objects.count() == 2
    assert SearchEntry.objects.get(contract=item).text.count("卖方应于三十日内交付货物") == 1

    def no_extraction(*args, **kwargs):
        raise AssertionError("a file was extracted again")

    monkeypatch.setattr(textextract, "extract_text", no_extraction)
    item.title = "设备合同（修订）"
    item.save()
    search.reindex(item)
    assert found(queryset, "修订 交付") == ["设备合同（修订）"]


def test_a_hostile_pdf_gives_no_text_and_a_reason_within_seconds():
    started = time.monotonic()
    result = textextract.extract_text(flate_bomb_pdf(), "application/pdf")
    assert time.monotonic() - started < 20
    assert result.status == textextract.FAILED and result.text == "" and result.detail
    garbage = textextract.extract_text(b"%PDF-1.7\nnot really", "application/pdf")
    assert garbage.status == textextract.FAILED and "corrupt" in garbage.detail


def test_the_child_is_killed_at_the_timeout(settings):
    settings.ECONTRACT_TEXT_TIMEOUT_SECONDS = 0.05  # less than the child needs to start
    started = time.monotonic()
    result = textextract.extract_text(make_contract_pdf("采购合同", ["交付条款"]), "application/pdf")
    assert time.monotonic() - started < 5
    assert result.status == textextract.FAILED and "longer than" in result.detail


@pytest.mark.django_db
def test_a_contract_with_a_hostile_file_is_still_found_by_its_metadata(db, enterprise):
    owner = enterprise.memberships.get().user
    item = contract(enterprise, owner, "采购合同", "H-1")
    attach(item, owner, flate_bomb_pdf())
    search.reindex(item)
    assert found(Contract.objects.visible_to(owner), "采购") == ["采购合同"]
    assert ExtractedText.objects.get().status == ExtractedText.Status.FAILED


# --- OCR -------------------------------------------------------------------------------------------


def scanned_pdf(title: str, paragraphs: list[str]) -> bytes:
    """A scan: the top of a rendered contract page as a grey picture, with no text layer."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(make_contract_pdf(title, paragraphs))
    page = document[0]
    bitmap = page.render(scale=300 / 72, grayscale=True)
    width, height, stride = bitmap.width, bitmap.height // 4, bitmap.stride
    pixels = memoryview(bitmap.buffer).cast("B")
    raw = b"".join(bytes(pixels[y * stride : y * stride + width]) for y in range(height))
    page.close()
    document.close()
    box_width, box_height = b"595.28", b"%.2f" % (841.89 / 4)
    return build_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>"
            % (box_width, box_height),
            4: stream(b"", b"q %s 0 0 %s 0 0 cm /Im1 Do Q" % (box_width, box_height)),
            5: stream(
                b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode"
                % (width, height),
                zlib.compress(raw),
            ),
        }
    )


SCAN_TITLE = "年度采购框架协议 Framework Agreement"
SCAN_PARAGRAPHS = ["甲方应按约定支付货款。", "The supplier warrants the goods."]


def require_ocr():
    if textextract.ocr_available():
        return
    reason = "tesseract with chi_sim and eng data is not installed"
    if os.environ.get("ECONTRACT_CI"):
        pytest.fail(
            f"{reason} (ECONTRACT_CI is set: .ci/run must install tesseract-ocr tesseract-ocr-chi-sim)"
        )
    pytest.skip(reason)


@pytest.mark.django_db
def test_a_scanned_contract_is_searchable_through_ocr(db, enterprise):
    require_ocr()
    owner = enterprise.memberships.get().user
    item = contract(enterprise, owner, "扫描件", "O-1")
    attach(item, owner, scanned_pdf(SCAN_TITLE, SCAN_PARAGRAPHS))
    search.reindex(item)
    extracted = ExtractedText.objects.get()
    assert extracted.status == ExtractedText.Status.OK and extracted.ocr_pages == 1
    queryset = Contract.objects.visible_to(owner)
    for q in ("采购框架", "支付货款", "agreement", "supplier"):
        assert found(queryset, q) == ["扫描件"], q


@pytest.mark.django_db
def test_without_ocr_the_text_layer_is_still_extracted_and_the_scan_waits_for_ocr(db, enterprise, settings):
    owner = enterprise.memberships.get().user
    settings.ECONTRACT_OCR_COMMAND = "/nonexistent/tesseract"
    text_pdf = textextract.extract_text(make_contract_pdf("采购合同", ["交付条款"]), "application/pdf")
    assert text_pdf.status == textextract.OK and "交付条款" in text_pdf.text
    item = contract(enterprise, owner, "扫描件", "O-2")
    attach(item, owner, scanned_pdf(SCAN_TITLE, SCAN_PARAGRAPHS))
    search.reindex(item)
    extracted = ExtractedText.objects.get()
    assert extracted.status == ExtractedText.Status.OCR_UNAVAILABLE and "unavailable" in extracted.detail
    assert found(Contract.objects.visible_to(owner), "扫描件") == ["扫描件"]
    del settings.ECONTRACT_OCR_COMMAND
    if not textextract.ocr_available():
        return
    search.reindex(item)  # OCR is there now: the scan is read
    assert ExtractedText.objects.get().status == ExtractedText.Status.OK
    assert found(Contract.objects.visible_to(owner), "采购框架") == ["扫描件"]


@pytest.mark.django_db
def test_a_text_too_long_for_a_tsvector_is_indexed_as_far_as_it_fits(db, enterprise):
    import random

    owner = enterprise.memberships.get().user
    item = contract(enterprise, owner, "长合同", "L-1")
    # 150,000 random ideographs: almost every bigram distinct, well over PostgreSQL's 1 MB per tsvector
    rng = random.Random(7)
    body = "年度采购框架协议。" + "".join(chr(0x4E00 + rng.randrange(3000)) for _ in range(150_000))
    search.index_contract(item, [body])
    assert found(Contract.objects.visible_to(owner), "采购框架") == ["长合同"]


@pytest.mark.django_db
@pytest.mark.parametrize("ranked_matches", [1000, 0], ids=["ranked", "newest-first"])
def test_a_distinct_or_filtered_queryset_can_be_searched_and_reordered(archive, settings, ranked_matches):
    settings.ECONTRACT_SEARCH_RANKED_MATCHES = ranked_matches
    owner = archive["owner"]
    queryset = visible(owner).filter(organization=archive["acme"]).distinct()
    results = search.matching(queryset, "采购 agreement")
    page = list(results.contracts[:1]) + list(results.contracts[1:20])
    assert {item.pk for item in page} == {archive["contracts"][key].pk for key in ("sales", "purchasing")}
    assert len(results.snippets(page)) == 2
    assert results.contracts.order_by("-signed_at", "-id").count() == 2

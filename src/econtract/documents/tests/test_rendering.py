"""Contract HTML to PDF: fields where their placeholders were laid out, nothing fetched, CJK text and
fonts embedded, page setup, PDF/A-2b declarations, the same bytes for the same input."""

from __future__ import annotations

import http.server
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pypdfium2 as pdfium
import pytest
from django.conf import settings as django_settings
from pyhanko.pdf_utils.reader import PdfFileReader

from econtract.documents.rendering import (
    FIELD_SIZES_PT,
    MAX_BODY_BYTES,
    RENDER_INVALID_SETUP,
    RENDER_TOO_LARGE,
    RENDER_TOO_MANY_PAGES,
    FieldBox,
    PageSetup,
    RenderedDocument,
    RenderError,
    css_string,
    preview_png,
    render_pdf,
)
from econtract.documents.tests.pngread import dark_pixel_share, png_size

CREATED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
CLAUSE_ZH = "甲方与乙方根据《中华人民共和国民法典》的规定，在平等、自愿的基础上，就货物买卖事宜达成如下协议。"
CLAUSE_EN = (
    "The seller shall deliver the goods to the buyer within thirty days after this contract is signed."
)
BUYER_MARKER = "买方签字："


def placeholder(kind: str, party: str, n: int = 1) -> str:
    """Exactly what the placeholder module makes of ``{{ kind: party }}``."""
    name = f"{kind}_{party}"
    return (
        f'<span class="ec-field ec-field-{kind}" id="ec-field-{name}-{n}" data-field="{name}" '
        f'data-kind="{kind}" data-party="{party}"></span>'
    )


def clauses(count: int) -> str:
    return "".join(f"<p>第{n}条 {CLAUSE_ZH} Clause {n}. {CLAUSE_EN}</p>" for n in range(1, count + 1))


def render(body: str, setup: PageSetup | None = None) -> RenderedDocument:
    return render_pdf(body, title="买卖合同 Sales Contract", setup=setup or PageSetup(), created=CREATED)


def text_of(pdf: bytes, tmp_path: Path, page: int | None = None) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", *pages, str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def squeezed(text: str) -> str:
    """pdftotext drops or adds spaces between CJK glyphs and at line ends: compare without whitespace."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def long_contract() -> RenderedDocument:
    """Given a contract whose buyer's signature line falls on page 3."""
    body = (
        "<h1>买卖合同 Sales Contract</h1>"
        + clauses(26)
        + f"<p>{BUYER_MARKER}{placeholder('signature', 'buyer')}</p>"
        + f"<p>日期：{placeholder('date_signed', 'buyer')}</p>"
    )
    return render(body)


def marker_box(pdf: bytes, page_number: int, marker: str) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) in points of ``marker`` on the page, as PDFium reads the drawn text.

    Loose boxes: a glyph's advance, not its ink (the ink of "：" is two dots in the left half)."""
    document = pdfium.PdfDocument(pdf)
    try:
        text_page = document[page_number - 1].get_textpage()
        found = text_page.search(marker).get_next()
        assert found is not None, f"{marker!r} is not on page {page_number}"
        start, count = found
        boxes = [text_page.get_charbox(index, loose=True) for index in range(start, start + count)]
    finally:
        document.close()
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


# --- fields ---------------------------------------------------------------------------------------


def test_a_field_on_page_three_lands_right_after_its_label(long_contract: RenderedDocument) -> None:
    # Given the long contract (fixture), When it is rendered
    # Then the buyer's signature box is on page 3, where PDFium finds the label drawn
    assert long_contract.page_count == 3
    signature = next(f for f in long_contract.fields if f.kind == "signature")
    assert (signature.name, signature.party, signature.page) == ("signature_buyer", "buyer", 3)
    assert signature.element_id == "ec-field-signature_buyer-1"
    left, bottom, right, top = marker_box(long_contract.pdf, 3, BUYER_MARKER)
    # it starts where the label's last glyph ends
    assert abs(signature.x - right) <= 2
    # and it shares the label's line: the label's glyphs are within the box's vertical extent
    assert signature.y - 2 <= bottom and top <= signature.y + signature.height + 2
    assert (signature.width, signature.height) == FIELD_SIZES_PT["signature"]
    # and it is inside the page, in points from its lower-left corner
    assert 0 < signature.x and signature.x + signature.width < 595.28
    assert 0 < signature.y and signature.y + signature.height < 841.89


def test_the_next_field_is_below_the_signature(long_contract: RenderedDocument) -> None:
    # Given the long contract, Then the date field of the next paragraph is lower on the same page
    signature, date = (
        next(f for f in long_contract.fields if f.kind == kind) for kind in ("signature", "date_signed")
    )
    assert date.page == 3
    assert date.y + date.height <= signature.y + 0.01
    _, bottom, right, top = marker_box(long_contract.pdf, 3, "日期：")
    assert abs(date.x - right) <= 2
    assert date.y - 2 <= bottom and top <= date.y + date.height + 2
    assert [f.name for f in long_contract.fields] == ["signature_buyer", "date_signed_buyer"]


def test_every_kind_has_its_size_and_placements_are_told_apart() -> None:
    # Given one placeholder of each kind, and the seller's signature placed twice
    kinds = list(FIELD_SIZES_PT)
    body = "".join(f"<p>{kind}: {placeholder(kind, 'seller')}</p>" for kind in kinds)
    body += f"<p>again {placeholder('signature', 'seller', 2)}</p>"
    # When it is rendered
    fields = render(body).fields
    # Then each box has its kind's size, and the two placements keep their own ids
    assert [f.kind for f in fields] == [*kinds, "signature"]
    for box in fields:
        assert (box.width, box.height) == FIELD_SIZES_PT[box.kind]
    assert [f.element_id for f in fields if f.name == "signature_seller"] == [
        "ec-field-signature_seller-1",
        "ec-field-signature_seller-2",
    ]


def test_spans_that_are_not_placeholders_are_no_fields() -> None:
    # Given spans that look a little like placeholders (unknown kind, mismatched id)
    body = (
        '<p><span class="ec-field" id="ec-field-x_y-1" data-field="x_y" data-kind="bomb"></span>'
        '<span class="ec-field ec-field-text" id="ec-field-other-1" data-field="text_a" data-kind="text"></span>'
        '<span id="ec-field-text_a-1" data-field="text_a" data-kind="text"></span></p>'
    )
    # Then none of them becomes a field
    assert render(body).fields == []


# --- nothing fetched --------------------------------------------------------------------------------


class RecordingHandler(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server interface
        RecordingHandler.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"p { color: red }")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the interface
        pass


@pytest.fixture
def recording_server() -> Iterator[tuple[str, list[str]]]:
    RecordingHandler.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", RecordingHandler.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_local_http_server_sees_no_request_during_render(
    recording_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, requests = recording_server
    # Given (bypassing the sanitiser on purpose) every way HTML and CSS can ask for a URL
    secret = tmp_path / "secret.css"
    secret.write_text("p { color: red }")
    body = (
        f'<link rel="stylesheet" href="{base}/link.css">'
        f'<style>@import url("{base}/import.css"); @import url("{secret.as_uri()}");'
        f"body {{ background: url({base}/background.png) }}"
        f"@font-face {{ font-family: X; src: url({base}/font.woff) }} p {{ font-family: X }}</style>"
        f'<p>有图 <img src="{base}/x.png"> <img src="{secret.as_uri()}"> <img src="ftp://127.0.0.1/y.png"></p>'
        f'<link rel="attachment" href="{base}/attach.bin">'
        f"<p style=\"background-image: url('{base}/inline.png')\">正文 text</p>"
        # an SVG image is allowed (data:), what it references is not
        '<p><img alt="svg" src="data:image/svg+xml,'
        + quote(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="{base}/svg.png" '
            'width="10" height="10"/></svg>'
        )
        + '"></p>'
        '<p><img alt="dot" src="data:image/png;base64,'
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
        '"></p>'
    )
    # When it is rendered
    rendered = render(body)
    # Then the server saw nothing, and the document was laid out without those resources
    assert requests == []
    assert "正文text" in squeezed(text_of(rendered.pdf, tmp_path))
    assert rendered.page_count == 1


def test_a_server_that_works_is_really_reachable(recording_server: tuple[str, list[str]]) -> None:
    # Given the same server, When something does fetch from it, Then it records it (the test above can fail)
    import urllib.request

    base, requests = recording_server
    with urllib.request.urlopen(f"{base}/probe.css", timeout=5) as response:  # noqa: S310 - our server
        response.read()
    assert requests == ["/probe.css"]


# --- text, fonts, page setup -------------------------------------------------------------------------


def test_cjk_text_comes_back_out_and_fonts_are_embedded(tmp_path: Path) -> None:
    # Given Chinese and English paragraphs
    paragraphs = [CLAUSE_ZH, CLAUSE_EN, "第三条 付款方式：人民币壹万贰仟元整（¥12,000.00）。"]
    # When rendered
    rendered = render("".join(f"<p>{p}</p>" for p in paragraphs), PageSetup(page_numbers=False))
    # Then the extracted text is the input text
    assert squeezed(text_of(rendered.pdf, tmp_path)) == squeezed("".join(paragraphs))
    # And every font is embedded, the Noto CJK face among them
    path = tmp_path / "fonts.pdf"
    path.write_bytes(rendered.pdf)
    listing = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout
    rows = listing.splitlines()[2:]
    assert rows
    for row in rows:
        assert row.split()[-5] == "yes", row  # the "emb" column
    assert any("Noto-Sans-CJK-SC" in row.split()[0] for row in rows)


@pytest.mark.parametrize(("size", "expected"), [("A4", (595.28, 841.89)), ("Letter", (612.0, 792.0))])
def test_page_sizes(size: str, expected: tuple[float, float]) -> None:
    # Given a page size, When a document is rendered, Then every page has its size in points
    rendered = render(clauses(2), PageSetup(size=size))  # type: ignore[arg-type]
    assert rendered.page_size == expected
    document = pdfium.PdfDocument(rendered.pdf)
    try:
        width, height = document[0].get_size()
    finally:
        document.close()
    assert (round(width, 2), round(height, 2)) == expected


def test_header_footer_and_page_numbers_in_chinese(tmp_path: Path) -> None:
    # Given a three-page contract with a header and a two-line footer
    setup = PageSetup(header="买卖合同 No. 2026-001", footer="机密文件\nConfidential")
    # When it is rendered
    rendered = render(clauses(26), setup)
    # Then every page carries them, and "第 x 页 共 3 页"
    assert rendered.page_count == 3
    for page in (1, 2, 3):
        text = squeezed(text_of(rendered.pdf, tmp_path, page))
        assert "买卖合同No.2026-001" in text
        assert "机密文件Confidential" in text
        assert f"第{page}页共3页" in text


def test_page_numbers_in_english(tmp_path: Path) -> None:
    rendered = render(clauses(15), PageSetup(language="en"))
    assert rendered.page_count == 2
    assert "Page 2 of 2" in text_of(rendered.pdf, tmp_path, 2)


def test_margins_move_the_text(tmp_path: Path) -> None:
    # Given the same paragraph with a 20 mm and a 50 mm left margin
    positions = []
    for left in (20, 50):
        rendered = render("<p>起点 start</p>", PageSetup(margin_mm=(25, 20, 25, left)))
        positions.append(marker_box(rendered.pdf, 1, "起点")[0])
    # Then the text starts 30 mm (85 pt) further right
    assert abs(positions[0] - 20 / 25.4 * 72) < 1.5
    assert abs((positions[1] - positions[0]) - 30 / 25.4 * 72) < 0.5


def test_header_text_cannot_escape_its_css_string(tmp_path: Path) -> None:
    # Given a header that tries to close the string, the rule and the style element
    header = "a\" } body { display: none } </style><p>x</p> \\ 'b"
    # When rendered
    rendered = render("<p>正文</p>", PageSetup(header=header, page_numbers=False))
    # Then the header is shown literally and the body is still there
    text = text_of(rendered.pdf, tmp_path)
    assert header.replace(" ", "") in squeezed(text)
    assert "正文" in text


@pytest.mark.parametrize("bad", ["a\x00b", "tab\there", "bidi\u202eoverride", "esc\x1b[0m", "x\u2028y"])
def test_control_characters_in_header_or_footer_are_refused(bad: str) -> None:
    for setup in (PageSetup(header=bad), PageSetup(footer=bad)):
        with pytest.raises(RenderError) as refused:
            render("<p>x</p>", setup)
        assert refused.value.code == RENDER_INVALID_SETUP


def test_css_string_escapes() -> None:
    assert css_string('a"b\\c\nd<') == '"a\\22 b\\5C c\\A d\\3C "'
    assert css_string("第 1 页") == '"第 1 页"'


@pytest.mark.parametrize(
    "setup",
    [
        PageSetup(margin_mm=(25, 20, 25)),  # type: ignore[arg-type]
        PageSetup(margin_mm=(25, 20, 25, -1)),
        PageSetup(margin_mm=(25, 20, 25, float("nan"))),
        PageSetup(margin_mm=(25, 20, 25, 81)),
        PageSetup(size="A3"),  # type: ignore[arg-type]
        PageSetup(language="fr"),  # type: ignore[arg-type]
        PageSetup(header="x" * 201),
    ],
)
def test_bad_page_setups_are_refused(setup: PageSetup) -> None:
    with pytest.raises(RenderError) as refused:
        render("<p>x</p>", setup)
    assert refused.value.code == RENDER_INVALID_SETUP


def test_a_naive_created_date_is_refused() -> None:
    with pytest.raises(RenderError) as refused:
        render_pdf("<p>x</p>", title="t", created=datetime(2026, 1, 1))  # noqa: DTZ001 - the point
    assert refused.value.code == RENDER_INVALID_SETUP


# --- PDF/A-2b, metadata ---------------------------------------------------------------------------------


def catalog_of(pdf: bytes) -> Any:
    return PdfFileReader(BytesIO(pdf)).root


def test_pdfa_2b_is_declared_with_an_output_intent_and_the_given_dates(tmp_path: Path) -> None:
    # Given a document created at 2026-03-01 09:30 UTC+8
    created = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    rendered = render_pdf("<p>合同</p>", title="合同 Contract", created=created)
    # Then the XMP says PDF/A-2B, the catalog has an sRGB output intent, the dates are that instant
    catalog = catalog_of(rendered.pdf)
    xmp = catalog["/Metadata"].data.decode("utf-8")
    assert re.search(r'pdfaid:part="2"|<pdfaid:part>2<', xmp)
    assert re.search(r'pdfaid:conformance="B"|<pdfaid:conformance>B<', xmp)
    assert "2026-03-01T01:30:00Z" in xmp
    (intent,) = catalog["/OutputIntents"]
    assert intent["/S"] == "/GTS_PDFA1" and "sRGB" in str(intent["/OutputConditionIdentifier"])
    assert len(intent["/DestOutputProfile"].data) > 1000  # the ICC profile itself
    assert rendered.pdf.startswith(b"%PDF-1.7")
    path = tmp_path / "a.pdf"
    path.write_bytes(rendered.pdf)
    info = subprocess.run(
        ["pdfinfo", "-isodates", str(path)], check=True, capture_output=True, text=True
    ).stdout
    assert re.search(r"CreationDate:\s+2026-03-01T01:30:00Z", info)
    assert re.search(r"ModDate:\s+2026-03-01T01:30:00Z", info)
    assert re.search(r"Title:\s+合同 Contract", info)


def test_metadata_in_the_body_does_not_reach_the_pdf(tmp_path: Path) -> None:
    # Given a body with its own <meta> and <title>
    body = '<meta name="author" content="Mallory"><meta name="dcterms.created" content="1999-01-01"><p>x</p>'
    rendered = render(body)
    path = tmp_path / "m.pdf"
    path.write_bytes(rendered.pdf)
    info = subprocess.run(
        ["pdfinfo", "-isodates", str(path)], check=True, capture_output=True, text=True
    ).stdout
    assert "Mallory" not in info and "1999" not in info


# --- same input, same bytes -------------------------------------------------------------------------

SUBPROCESS_RENDER = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "econtract.settings_test"
import django
django.setup()
from datetime import datetime, UTC
from econtract.documents.tests.test_rendering import reproducible_input
from econtract.documents.rendering import render_pdf
body, title, setup = reproducible_input()
print(render_pdf(body, title=title, setup=setup, created=datetime(2026, 3, 1, 9, 30, tzinfo=UTC)).sha256)
"""


def reproducible_input() -> tuple[str, str, PageSetup]:
    body = "<h1>买卖合同</h1>" + clauses(30) + f"<p>{BUYER_MARKER}{placeholder('signature', 'buyer')}</p>"
    return body, "买卖合同 Sales Contract", PageSetup(header="页眉 Header", footer="页脚 Footer")


def test_the_same_document_gives_the_same_bytes_here_and_in_another_process() -> None:
    # Given one document version
    body, title, setup = reproducible_input()
    # When it is rendered twice here and once in a fresh process
    first = render_pdf(body, title=title, setup=setup, created=CREATED)
    second = render_pdf(body, title=title, setup=setup, created=CREATED)
    child = subprocess.run(
        [sys.executable, "-c", SUBPROCESS_RENDER],
        check=True,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
            # the same font file; a fresh data directory would extract the same bytes anyway
            "ECONTRACT_TEST_DATA_DIR": str(django_settings.DATA_DIR),
            "PYTHONHASHSEED": "random",
        },
        timeout=120,
    )
    # Then all three are byte-identical
    assert first.pdf == second.pdf
    assert child.stdout.strip().splitlines()[-1] == first.sha256
    assert first.page_count == 3


def test_any_change_of_input_changes_the_bytes() -> None:
    body, title, setup = reproducible_input()
    reference = render_pdf(body, title=title, setup=setup, created=CREATED).sha256
    assert (
        render_pdf(body, title=title, setup=setup, created=CREATED + timedelta(seconds=1)).sha256 != reference
    )
    assert render_pdf(body, title=title + ".", setup=setup, created=CREATED).sha256 != reference
    assert render_pdf(body + "<p>x</p>", title=title, setup=setup, created=CREATED).sha256 != reference


# --- limits -------------------------------------------------------------------------------------------


def test_a_body_over_5_mib_is_refused_before_layout() -> None:
    with pytest.raises(RenderError) as refused:
        render("<p>" + "字" * (MAX_BODY_BYTES // 3 + 1) + "</p>")
    assert refused.value.code == RENDER_TOO_LARGE
    assert isinstance(refused.value, ValueError)


def test_more_than_500_pages_are_refused_after_layout() -> None:
    # Given 501 forced page breaks
    body = '<p style="break-after: page">页</p>' * 501
    with pytest.raises(RenderError) as refused:
        render(body)
    assert refused.value.code == RENDER_TOO_MANY_PAGES


def test_a_200_page_contract_renders() -> None:
    # Given ~200 pages of clauses with a field at the end
    body = clauses(2200) + f"<p>{BUYER_MARKER}{placeholder('seal', 'seller')}</p>"
    # When rendered
    rendered = render(body)
    # Then all pages are there and the seal is on the last one
    assert 190 <= rendered.page_count <= 230
    assert rendered.fields == [
        FieldBox(
            name="seal_seller",
            kind="seal",
            party="seller",
            page=rendered.fields[0].page,
            x=rendered.fields[0].x,
            y=rendered.fields[0].y,
            width=120,
            height=120,
            element_id="ec-field-seal_seller-1",
        )
    ]
    assert rendered.fields[0].page == rendered.page_count


# --- preview ----------------------------------------------------------------------------------------------


def test_preview_is_a_png_of_the_page_at_the_asked_resolution(long_contract: RenderedDocument) -> None:
    png = preview_png(long_contract, 3, dpi=72)
    width, height = png_size(png)
    assert width == 595 and abs(height - 842) <= 1
    assert dark_pixel_share(png) > 0.001  # something is drawn

"""DOCX and HTML import into the editor, and DOCX export, with documents built here by python-docx."""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import docx
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from PIL import Image

from econtract.documents.docx_io import (
    CJK_FONT,
    DOCX_BOMB,
    DOCX_TOO_LARGE,
    DOCX_UNREADABLE,
    MAX_DOCX_BYTES,
    MAX_ZIP_MEMBERS,
    DocxError,
    export_docx,
    import_docx,
    import_html,
)
from econtract.documents.sanitizing import clean_html

CHINESE = "甲方应按时付款"
GIF_1X1 = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def _png(width: int = 4, height: int = 3) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def _saved(document: docx.document.Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _hyperlink(paragraph: docx.text.paragraph.Paragraph, target: str, text: str) -> None:
    relationship_id = paragraph.part.relate_to(target, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), relationship_id)
    run = paragraph.add_run(text)
    link.append(run._r)
    paragraph._p.append(link)


def _contract_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("买卖合同 Sales Contract", style="Title")
    document.add_heading("第一条 Goods", level=1)
    document.add_heading("1.1 Delivery", level=2)
    paragraph = document.add_paragraph("Intro ")
    paragraph.add_run(f"{CHINESE} bold").bold = True
    paragraph.add_run(" and ")
    paragraph.add_run("斜体 italic").italic = True
    paragraph.add_run(" and ")
    paragraph.add_run("下划线 underlined").underline = True
    document.add_paragraph("Bullet one", style="List Bullet")
    document.add_paragraph("Nested bullet", style="List Bullet 2")
    document.add_paragraph("Bullet two", style="List Bullet")
    document.add_paragraph("Step one", style="List Number")
    document.add_paragraph("Step two", style="List Number")
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "品名 Item"
    table.cell(0, 2).text = "Price"
    for column, text in enumerate(["Apple", "苹果", "3.50"]):
        table.cell(1, column).text = text
    return _saved(document)


# --- import --------------------------------------------------------------------------------------


def test_import_keeps_headings_lists_tables_emphasis_and_chinese() -> None:
    # Given a DOCX written by python-docx with a title, headings, emphasis, lists and a merged table
    data = _contract_docx()

    # When it is imported
    imported = import_docx(data)
    html = imported.html

    # Then the structure survives as the editor's HTML
    assert "<h1>买卖合同 Sales Contract</h1>" in html
    assert "<h1>第一条 Goods</h1>" in html
    assert "<h2>1.1 Delivery</h2>" in html
    assert f"<strong>{CHINESE} bold</strong>" in html
    assert "<em>斜体 italic</em>" in html
    assert "<u>下划线 underlined</u>" in html
    assert "<ul><li>Bullet one<ul><li>Nested bullet</li></ul></li><li>Bullet two</li></ul>" in html
    assert "<ol><li>Step one</li><li>Step two</li></ol>" in html
    assert '<td colspan="2"><p>品名 Item</p></td>' in html
    for text in ("Price", "Apple", "苹果", "3.50"):
        assert f"<td><p>{text}</p></td>" in html
    # And it is already clean: the sanitiser leaves it as it is
    assert clean_html(html) == html


def test_import_inlines_png_and_drops_other_images_with_a_message() -> None:
    # Given a DOCX with an embedded PNG and an embedded GIF
    document = docx.Document()
    document.add_paragraph().add_run().add_picture(io.BytesIO(_png()))
    document.add_paragraph().add_run().add_picture(io.BytesIO(GIF_1X1))

    # When it is imported
    imported = import_docx(_saved(document))

    # Then the PNG is an inline data: URL, the GIF is gone and the messages say so
    assert imported.html.count("<img") == 1
    assert 'src="data:image/png;base64,iVBORw0KGgo' in imported.html
    assert any("image/gif" in message for message in imported.messages)


@pytest.fixture
def recording_server() -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(_png())

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_import_neutralises_script_links_and_never_fetches_external_images(
    recording_server: tuple[str, list[str]],
) -> None:
    base_url, requests = recording_server
    # Given a DOCX with a javascript: hyperlink and a picture linked (TargetMode=External) to a local server
    document = docx.Document()
    _hyperlink(document.add_paragraph("Click "), "javascript:alert(1)", "here")
    _hyperlink(document.add_paragraph("Safe "), "https://example.com/terms", "terms")
    document.add_paragraph().add_run().add_picture(io.BytesIO(_png()))
    body = document.element.body
    blip = next(body.iter(qn("a:blip")))
    external_id = document.part.relate_to(f"{base_url}/x.png", RELATIONSHIP_TYPE.IMAGE, is_external=True)
    del blip.attrib[qn("r:embed")]
    blip.set(qn("r:link"), external_id)
    data = _saved(document)
    assert b'TargetMode="External"' in zipfile.ZipFile(io.BytesIO(data)).read("word/_rels/document.xml.rels")

    # When it is imported
    imported = import_docx(data)

    # Then the script link lost its target, the https link kept its own, no image came in
    assert "javascript" not in imported.html
    assert "Click here" in imported.html.replace('<a rel="noopener noreferrer nofollow">', "").replace(
        "</a>", ""
    )
    assert 'href="https://example.com/terms"' in imported.html
    assert "<img" not in imported.html
    assert any("not embedded" in message for message in imported.messages)
    # And the server never heard from us
    assert requests == []


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_import_refuses_a_member_that_expands_past_the_total_limit() -> None:
    # Given a DOCX-shaped zip whose one member is 300 MB of zeros, deflated to a few hundred KB
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            chunk = bytes(1024 * 1024)
            for _ in range(300):
                member.write(chunk)
    data = buffer.getvalue()
    assert len(data) < 1024 * 1024

    # When it is imported, Then it is refused as a bomb before anything is inflated
    with pytest.raises(DocxError) as refused:
        import_docx(data)
    assert refused.value.code == DOCX_BOMB


def test_import_refuses_a_highly_compressed_member_under_the_total_limit() -> None:
    # Given a DOCX-shaped zip with a 20 MB "image" of zeros (well under 200 MB, but ~1000x compressed)
    data = _zip({"word/document.xml": b"<w:document/>", "word/media/image1.png": bytes(20 * 1024 * 1024)})

    # When it is imported, Then the compression ratio refuses it
    with pytest.raises(DocxError) as refused:
        import_docx(data)
    assert refused.value.code == DOCX_BOMB
    assert "expands more than" in refused.value.detail


def test_import_refuses_too_many_members() -> None:
    # Given a zip with one member more than allowed
    data = _zip({f"word/media/m{index}.bin": b"x" for index in range(MAX_ZIP_MEMBERS + 1)})

    # When it is imported, Then it is refused as a bomb
    with pytest.raises(DocxError) as refused:
        import_docx(data)
    assert refused.value.code == DOCX_BOMB


def test_import_refuses_more_xml_than_the_editor_could_hold() -> None:
    # Given a zip whose document.xml is 11 MB, stored uncompressed (so no ratio or total limit applies)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("word/document.xml", b"<w:p/>" * (11 * 1024 * 1024 // 6))
    data = buffer.getvalue()
    assert len(data) < MAX_DOCX_BYTES

    # When it is imported, Then it is refused as too large before mammoth parses it
    with pytest.raises(DocxError) as refused:
        import_docx(data)
    assert refused.value.code == DOCX_TOO_LARGE
    assert "XML" in refused.value.detail


def test_import_refuses_input_over_the_size_limit() -> None:
    # Given more bytes than a DOCX upload may have
    # When it is imported, Then it is refused before being opened
    with pytest.raises(DocxError) as refused:
        import_docx(b"PK" + bytes(MAX_DOCX_BYTES))
    assert refused.value.code == DOCX_TOO_LARGE


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"%PDF-1.7 not a zip at all", id="not-a-zip"),
        pytest.param(_contract_docx()[:2000], id="truncated"),
        pytest.param(_zip({"hello.txt": b"hi"}), id="zip-without-document"),
        pytest.param(
            _zip({"word/document.xml": b"<w:document", "[Content_Types].xml": b"<"}), id="broken-xml"
        ),
    ],
)
def test_import_refuses_corrupt_input(data: bytes) -> None:
    # Given bytes that are not a readable DOCX
    # When they are imported, Then they are refused as unreadable
    with pytest.raises(DocxError) as refused:
        import_docx(data)
    assert refused.value.code == DOCX_UNREADABLE
    assert isinstance(refused.value, ValueError)


def test_import_refuses_an_encrypted_zip() -> None:
    # Given a DOCX whose members carry the zip "encrypted" flag (central directory and local headers)
    data = bytearray(_contract_docx())
    for signature, flag_offset in ((b"PK\x01\x02", 8), (b"PK\x03\x04", 6)):
        position = data.find(signature)
        while position >= 0:
            data[position + flag_offset] |= 0x1
            position = data.find(signature, position + 4)

    # When it is imported, Then it is refused as unreadable
    with pytest.raises(DocxError) as refused:
        import_docx(bytes(data))
    assert refused.value.code == DOCX_UNREADABLE
    assert "encrypted" in refused.value.detail


def test_import_html_is_the_sanitiser() -> None:
    # Given pasted HTML with a script and an event handler
    html = '<h2 onclick="x()">Terms</h2><script>alert(1)</script><p class="text-align-center">中文</p>'

    # When it is imported, Then only the allowlist is left
    assert import_html(html) == '<h2>Terms</h2><p class="text-align-center">中文</p>'


# --- export --------------------------------------------------------------------------------------

CONTRACT_HTML = f"""
<h1 class="text-align-center">买卖合同 Sales Contract</h1>
<h2>第一条 标的 Goods</h2>
<p class="indent-1">{CHINESE}, <strong>within 30 days</strong> and <em>in full</em>, see
<a href="https://example.com/terms">the terms</a>.<br>Second line.</p>
<ul><li>Apples<ul><li>Red apples</li></ul></li><li>Pears</li></ul>
<ol><li>Deliver</li><li>Pay</li></ol>
<table><thead><tr><th colspan="2">品名 Item</th><th>Price</th></tr></thead>
<tbody><tr><td>Apple</td><td>苹果</td><td>3.50</td></tr></tbody></table>
<p>Buyer: <span class="ec-field ec-field-signature" data-kind="signature" data-party="buyer" data-field="f1">sign here</span></p>
<div class="page-break"></div>
<h3>附件 Annex</h3>
<p><img src="data:image/png;base64,{__import__("base64").b64encode(_png(2000, 10)).decode()}" alt="logo"></p>
"""


def test_export_writes_styles_lists_table_fields_breaks_alignment_and_images() -> None:
    # Given a bilingual contract as the editor saves it
    # When it is exported
    data = export_docx(CONTRACT_HTML, title="买卖合同")
    document = docx.Document(io.BytesIO(data))

    # Then python-docx reads back the headings, the list paragraphs and the text
    styled = [(paragraph.style.name, paragraph.text) for paragraph in document.paragraphs if paragraph.text]
    assert ("Heading 1", "买卖合同 Sales Contract") in styled
    assert ("Heading 2", "第一条 标的 Goods") in styled
    assert ("Heading 3", "附件 Annex") in styled
    assert ("List Bullet", "Apples") in styled
    assert ("List Bullet 2", "Red apples") in styled
    assert ("List Bullet", "Pears") in styled
    assert ("List Number", "Deliver") in styled
    assert ("List Number", "Pay") in styled
    assert ("Normal", "Buyer: [signature: buyer]") in styled
    body_text = "\n".join(text for _, text in styled)
    assert CHINESE in body_text and "Second line." in body_text
    # And the emphasis, the alignment and the indentation are on the paragraph's runs
    heading = next(p for p in document.paragraphs if p.text == "买卖合同 Sales Contract")
    assert heading.alignment == WD_ALIGN_PARAGRAPH.CENTER
    intro = next(p for p in document.paragraphs if CHINESE in p.text)
    assert any(run.bold and run.text == "within 30 days" for run in intro.runs)
    assert any(run.italic and run.text == "in full" for run in intro.runs)
    assert intro.paragraph_format.left_indent is not None and intro.paragraph_format.left_indent.pt == 24
    assert intro.hyperlinks[0].address == "https://example.com/terms"
    assert intro.hyperlinks[0].text == "the terms"
    # And the table has the cell texts, with the header cell merged across two columns
    table = document.tables[0]
    assert [cell.text for cell in table.rows[1].cells] == ["Apple", "苹果", "3.50"]
    assert table.cell(0, 0).text == table.cell(0, 1).text == "品名 Item"
    assert table.cell(0, 0)._tc is table.cell(0, 1)._tc
    # And the page break, the picture (held to the page width) and the properties are there
    assert len(document.element.body.xpath('.//w:br[@w:type="page"]')) == 1
    assert len(document.inline_shapes) == 1
    assert document.inline_shapes[0].width <= 6 * 914400
    assert document.core_properties.title == "买卖合同"
    styles_xml = zipfile.ZipFile(io.BytesIO(data)).read("word/styles.xml").decode()
    assert f'w:eastAsia="{CJK_FONT}"' in styles_xml
    assert "eastAsiaTheme" not in styles_xml


def test_export_then_import_keeps_headings_lists_and_table() -> None:
    # Given the contract exported to DOCX
    data = export_docx(CONTRACT_HTML, title="买卖合同")

    # When the DOCX is imported again
    html = import_docx(data).html

    # Then headings, nested lists, numbered list and table texts come back
    assert "<h1>买卖合同 Sales Contract</h1>" in html
    assert "<h2>第一条 标的 Goods</h2>" in html
    assert "<h3>附件 Annex</h3>" in html
    assert "<ul><li>Apples<ul><li>Red apples</li></ul></li><li>Pears</li></ul>" in html
    assert "<ol><li>Deliver</li><li>Pay</li></ol>" in html
    assert "<strong>within 30 days</strong>" in html
    assert '<th colspan="2"><p><strong>品名 Item</strong></p></th>' in html
    for text in ("Apple", "苹果", "3.50"):
        assert f"<td><p>{text}</p></td>" in html
    assert "[signature: buyer]" in html
    assert 'src="data:image/png;base64,' in html


def test_export_is_reproducible_for_a_fixed_timestamp() -> None:
    # Given one HTML, title and timestamp
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    # When it is exported twice
    first = export_docx(CONTRACT_HTML, title="T", timestamp=when)
    second = export_docx(CONTRACT_HTML, title="T", timestamp=when)

    # Then the bytes are the same and the properties carry the timestamp
    assert first == second
    assert docx.Document(io.BytesIO(first)).core_properties.created == when


def test_export_cleans_html_it_is_given() -> None:
    # Given HTML that was never sanitised, with a script and a javascript: link
    html = '<p>Hi <a href="javascript:alert(1)">x</a><script>alert(2)</script></p>'

    # When it is exported
    data = export_docx(html, title="t")

    # Then neither the script nor the link target reaches the DOCX
    package = zipfile.ZipFile(io.BytesIO(data))
    everything = b"".join(package.read(name) for name in package.namelist())
    assert b"javascript" not in everything and b"alert" not in everything
    assert docx.Document(io.BytesIO(data)).paragraphs[0].text == "Hi x"

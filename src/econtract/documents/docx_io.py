"""Import Word documents (DOCX) and HTML into the contract editor, and export editor HTML as DOCX.

- :func:`import_docx` treats the upload as a hostile zip: size, member count, total uncompressed size,
  compression ratio, encryption and compression method are checked from the zip's central directory
  before mammoth opens it (zipfile never inflates a member past its declared size, so the declared
  sizes bound the work). mammoth never reads files outside the zip (``external_file_access=False``),
  the document's embedded style map is ignored, and images are kept only as inline PNG/JPEG ``data:``
  URLs within a byte budget. The result always goes through :func:`~.sanitizing.clean_html`.
- :func:`import_html` is :func:`~.sanitizing.clean_html` under the name the import step uses.
- :func:`export_docx` cleans the HTML again (a stored row may predate today's allowlist), walks it
  with lxml and writes it with python-docx: headings, paragraphs with inline emphasis, hyperlinks,
  lists, tables with merged cells, alignment, indentation, page breaks, signer-field markers and
  inline pictures. East Asian text gets a CJK font, and the zip is written with fixed timestamps so
  the same HTML, title and time give the same bytes.

Pure: no Django, no database.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import docx
import lxml.html
import mammoth
import mammoth.html
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.image.exceptions import UnrecognizedImageError
from docx.image.image import Image as DocxImage
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Emu, Pt, RGBColor
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from lxml.etree import _Element

from econtract.documents.sanitizing import FIELD_KINDS, UnsafeHtml, clean_html

MAX_DOCX_BYTES: Final = 20 * 1024 * 1024
MAX_ZIP_MEMBERS: Final = 2_000
MAX_UNCOMPRESSED_BYTES: Final = 200 * 1024 * 1024
# Word XML compresses 5-30x; deflate's ceiling is ~1,030x. Small members may compress better
# (an empty part, a repetitive settings.xml) without costing anything.
MAX_COMPRESSION_RATIO: Final = 200
# mammoth parses XML with minidom (about 2.5 s and 50 MB of memory per MB of document.xml); the
# 2 MB HTML ceiling of clean_html is reached long before 10 MB of WordprocessingML anyway.
MAX_XML_BYTES: Final = 10 * 1024 * 1024
RATIO_EXEMPT_BYTES: Final = 1024 * 1024
# clean_html refuses more than 2 MB of HTML; base64 grows images by a third, so 1 MB of images
# leaves room for the text.
MAX_IMAGE_BYTES: Final = 1024 * 1024
MAX_MESSAGES: Final = 100

DOCX_TOO_LARGE: Final = "docx_too_large"
DOCX_UNREADABLE: Final = "docx_unreadable"
DOCX_BOMB: Final = "docx_bomb"

CJK_FONT: Final = "Noto Sans CJK SC"
# Word's limit; also bounds the grid a hostile colspan could ask for.
MAX_TABLE_COLUMNS: Final = 63
MAX_LIST_LEVEL: Final = 3  # the default template has List Bullet/Number 1-3
INDENT_STEP: Final = Pt(24)  # rendering.py: .indent-N { margin-left: 2N em }, 1em = 12pt
MAX_PICTURE_WIDTH: Final = Emu(6 * 914400)  # 6 in, inside A4 and Letter text width
EMU_PER_PIXEL: Final = 9525  # at 96 dpi
FIXED_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)

_PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC: Final = b"\xff\xd8\xff"
_ALLOWED_IMAGE_TYPES: Final = {"image/png": _PNG_MAGIC, "image/jpeg": _JPEG_MAGIC}

# Custom rules are tried before mammoth's defaults (which already map Heading 1-4, lists by
# numbering level, tables, bold, italic and strikethrough).
STYLE_MAP: Final = """
p[style-name='Title'] => h1:fresh
p[style-name='Subtitle'] => h2:fresh
p[style-name='Heading 5'] => h4:fresh
p[style-name='Heading 6'] => h4:fresh
p[style-name='heading 5'] => h4:fresh
p[style-name='heading 6'] => h4:fresh
p.Heading5 => h4:fresh
p.Heading6 => h4:fresh
p[style-name='Quote'] => blockquote > p:fresh
p[style-name='List Bullet 2'] => ul|ol > li > ul > li:fresh
p[style-name='List Bullet 3'] => ul|ol > li > ul|ol > li > ul > li:fresh
p[style-name='List Number 2'] => ul|ol > li > ol > li:fresh
p[style-name='List Number 3'] => ul|ol > li > ul|ol > li > ol > li:fresh
u => u
strike => s
"""


class DocxError(ValueError):
    """A DOCX upload was refused; ``code`` is stable for API clients and translations."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ImportedDocx:
    html: str  # already passed through clean_html
    messages: list[str] = field(default_factory=list)


class _MammothImage(Protocol):
    content_type: str | None
    alt_text: str | None

    def open(self) -> Any: ...


# --- import ---------------------------------------------------------------------------------------


def import_html(html: str) -> str:
    """Clean pasted or uploaded HTML for the editor; raise :class:`~.sanitizing.UnsafeHtml` if unbounded.

    HTML needs no conversion, only the allowlist, so this is :func:`clean_html`; it exists so that
    every import goes through one module.
    """
    return clean_html(html)


def import_docx(data: bytes) -> ImportedDocx:
    """Convert a DOCX to editor HTML; raise :class:`DocxError` if it is too large, hostile or unreadable."""
    if len(data) > MAX_DOCX_BYTES:
        raise DocxError(DOCX_TOO_LARGE, f"DOCX larger than {MAX_DOCX_BYTES} bytes")
    check_docx_zip(data)
    images = _ImageBudget()
    try:
        result = mammoth.convert_to_html(
            io.BytesIO(data),
            style_map=STYLE_MAP,
            include_embedded_style_map=False,
            external_file_access=False,
            convert_image=images.convert,
        )
    except DocxError:
        raise
    except Exception as error:  # hostile input can break mammoth in any way; none of it is ours
        raise DocxError(
            DOCX_UNREADABLE, f"mammoth could not read the document ({type(error).__name__})"
        ) from error
    try:
        html = clean_html(result.value)
    except UnsafeHtml as error:
        raise DocxError(DOCX_TOO_LARGE, f"the converted document is too large ({error.code})") from error
    messages = _unique([str(message.message) for message in result.messages] + images.messages)
    return ImportedDocx(html=html, messages=messages[:MAX_MESSAGES])


def check_docx_zip(data: bytes) -> None:
    """Refuse a zip that is corrupt, encrypted or expands too much, from its central directory alone.

    Raises :class:`DocxError`: ``docx_unreadable`` (not a zip, encrypted, odd compression, no
    ``word/document.xml``), ``docx_bomb`` (too many members, too large expanded, too compressed) or
    ``docx_too_large`` (more WordprocessingML than the editor could hold).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as error:
        raise DocxError(DOCX_UNREADABLE, "not a readable zip (DOCX) file") from error
    if len(members) > MAX_ZIP_MEMBERS:
        raise DocxError(DOCX_BOMB, f"more than {MAX_ZIP_MEMBERS} zip members")
    total = 0
    xml_total = 0
    for member in members:
        if member.flag_bits & 0x1:
            raise DocxError(DOCX_UNREADABLE, "the DOCX is encrypted")
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise DocxError(DOCX_UNREADABLE, "unsupported zip compression method")
        total += member.file_size
        if total > MAX_UNCOMPRESSED_BYTES:
            raise DocxError(DOCX_BOMB, f"expands to more than {MAX_UNCOMPRESSED_BYTES} bytes")
        if member.filename.lower().endswith((".xml", ".rels")):
            xml_total += member.file_size
            if xml_total > MAX_XML_BYTES:
                raise DocxError(DOCX_TOO_LARGE, f"the document's XML parts exceed {MAX_XML_BYTES} bytes")
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_EXEMPT_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise DocxError(DOCX_BOMB, f"a zip member expands more than {MAX_COMPRESSION_RATIO} times")
    if not any(member.filename == "word/document.xml" for member in members):
        raise DocxError(DOCX_UNREADABLE, "no word/document.xml: not a DOCX file")


class _ImageBudget:
    """mammoth's ``convert_image``: inline PNG/JPEG as ``data:`` URLs up to a budget, drop the rest."""

    def __init__(self) -> None:
        self.remaining = MAX_IMAGE_BYTES
        self.messages: list[str] = []

    def convert(self, image: _MammothImage) -> list[Any]:
        content_type = (image.content_type or "").lower()
        magic = _ALLOWED_IMAGE_TYPES.get(content_type)
        if magic is None:
            self.messages.append(
                f"Dropped an image of type {content_type or 'unknown'}: only PNG and JPEG are kept"
            )
            return []
        try:
            with image.open() as stream:
                raw = stream.read(self.remaining + 1)
        except Exception:  # an external (linked) image, or a missing part: never fetched
            self.messages.append("Dropped an image that is not embedded in the document")
            return []
        if not isinstance(raw, bytes) or not raw.startswith(magic):
            self.messages.append(f"Dropped an image whose content is not {content_type}")
            return []
        if len(raw) > self.remaining:
            self.messages.append(f"Dropped an image: the images exceed {MAX_IMAGE_BYTES} bytes in total")
            return []
        self.remaining -= len(raw)
        attributes = {"src": f"data:{content_type};base64,{base64.b64encode(raw).decode('ascii')}"}
        if image.alt_text:
            attributes["alt"] = image.alt_text
        return [mammoth.html.element("img", attributes)]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --- export ---------------------------------------------------------------------------------------


def export_docx(html: str, *, title: str, timestamp: datetime | None = None) -> bytes:
    """Write editor HTML as a DOCX; ``timestamp`` (default now) fixes created/modified for reproducible bytes.

    The HTML is cleaned first, so :class:`~.sanitizing.UnsafeHtml` is raised for unbounded input.
    """
    cleaned = clean_html(html)
    document = docx.Document()
    when = (timestamp or datetime.now(UTC)).replace(microsecond=0)
    properties = document.core_properties
    properties.title = title
    properties.author = ""
    properties.last_modified_by = ""
    properties.comments = ""
    properties.revision = 1
    properties.created = when
    properties.modified = when
    properties.last_printed = when
    _use_cjk_font(document)
    writer = _DocxWriter(document)
    if cleaned.strip():
        root = lxml.html.fragment_fromstring(cleaned, create_parent="div")
        writer.add_flow(document, root, _Format())
    buffer = io.BytesIO()
    document.save(buffer)
    return _with_fixed_zip_times(buffer.getvalue())


def _use_cjk_font(document: Any) -> None:
    """Make the East Asian font a CJK one everywhere; a theme font (eastAsiaTheme) would override it."""
    styles = document.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    if defaults is None:
        defaults = OxmlElement("w:docDefaults")
        styles.insert(0, defaults)
    run_defaults = defaults.find(qn("w:rPrDefault"))
    if run_defaults is None:
        run_defaults = OxmlElement("w:rPrDefault")
        defaults.insert(0, run_defaults)
    run_properties = run_defaults.find(qn("w:rPr"))
    if run_properties is None:
        run_properties = OxmlElement("w:rPr")
        run_defaults.append(run_properties)
    fonts = run_properties.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        run_properties.insert(0, fonts)
    fonts.set(qn("w:eastAsia"), CJK_FONT)
    fonts.attrib.pop(qn("w:eastAsiaTheme"), None)
    language = run_properties.find(qn("w:lang"))
    if language is None:
        language = OxmlElement("w:lang")
        run_properties.append(language)
    language.set(qn("w:eastAsia"), "zh-CN")
    for style_fonts in styles.iter(qn("w:rFonts")):
        if style_fonts.get(qn("w:eastAsiaTheme")) is not None:
            style_fonts.attrib.pop(qn("w:eastAsiaTheme"))
            style_fonts.set(qn("w:eastAsia"), CJK_FONT)


def _with_fixed_zip_times(data: bytes) -> bytes:
    """Rewrite the package with fixed member times: python-docx stamps each member with the clock."""
    output = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(output, "w") as target:
        for member in source.infolist():
            info = zipfile.ZipInfo(member.filename, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, source.read(member.filename))
    return output.getvalue()


@dataclass(frozen=True)
class _Format:
    bold: bool = False
    italic: bool = False
    underline: bool = False
    strike: bool = False
    link: Any = None  # the w:hyperlink element runs are added to


_HEADINGS: Final = {"h1": 1, "h2": 2, "h3": 3, "h4": 4}
_BLOCKS: Final = frozenset({"p", "div", "blockquote", "ul", "ol", "table", "hr", *_HEADINGS})
_ALIGNMENTS: Final = {
    "left": WD_ALIGN_PARAGRAPH.LEFT,
    "center": WD_ALIGN_PARAGRAPH.CENTER,
    "right": WD_ALIGN_PARAGRAPH.RIGHT,
    "justify": WD_ALIGN_PARAGRAPH.JUSTIFY,
}
_WHITESPACE = re.compile(r"[ \t\r\n\f]+")
_STYLE_ALIGN = re.compile(r"text-align:\s*(left|center|right|justify)")
_IMAGE_DATA_URL = re.compile(r"data:image/(png|jpeg);base64,([A-Za-z0-9+/]+={0,2})")


def _classes(element: _Element) -> list[str]:
    return str(element.get("class") or "").split()


def _style(element: _Element) -> str:
    return str(element.get("style") or "").lower()


def _tag(element: _Element) -> str:
    return element.tag.lower() if isinstance(element.tag, str) else ""


class _DocxWriter:
    """Walks sanitised editor HTML and appends the matching python-docx blocks and runs."""

    def __init__(self, document: Any) -> None:
        self.document = document

    # Blocks. ``container`` is the document or a table cell: both have add_paragraph/add_table.

    def add_flow(self, container: Any, element: _Element, fmt: _Format, style: str | None = None) -> None:
        """Add ``element``'s children: runs of inline content become paragraphs, blocks their own."""
        pending: list[str | _Element] = []
        if element.text:
            pending.append(element.text)
        for child in element:
            if _tag(child) in _BLOCKS:
                self._flush(container, pending, element, fmt, style)
                pending = []
                self.add_block(container, child, fmt, style)
            elif _tag(child):
                pending.append(child)
            if child.tail:
                pending.append(child.tail)
        self._flush(container, pending, element, fmt, style)

    def _flush(
        self, container: Any, pending: list[str | _Element], owner: _Element, fmt: _Format, style: str | None
    ) -> None:
        if not any(not isinstance(item, str) or item.strip() for item in pending):
            return
        paragraph = self._paragraph(container, owner, style)
        for item in pending:
            if isinstance(item, str):
                self._add_text(paragraph, item, fmt)
            else:
                self._add_inline(paragraph, item, fmt)
        _trim(paragraph)

    def add_block(self, container: Any, element: _Element, fmt: _Format, style: str | None = None) -> None:
        tag = _tag(element)
        if tag in _HEADINGS:
            self._flush(container, [element], element, fmt, f"Heading {_HEADINGS[tag]}")
        elif tag in ("ul", "ol"):
            self._add_list(container, element, fmt, level=1)
        elif tag == "table":
            self._add_table(container, element, fmt)
        elif tag == "hr":
            _add_rule(container.add_paragraph())
        elif tag == "div" and "page-break" in _classes(element):
            container.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        elif tag == "blockquote":
            self.add_flow(container, element, fmt, "Quote")
        elif tag == "p":
            self._flush(container, [element], element, fmt, style)
        else:  # div
            self.add_flow(container, element, fmt, style)

    def _paragraph(self, container: Any, owner: _Element, style: str | None) -> Paragraph:
        paragraph: Paragraph = container.add_paragraph(style=style)
        alignment = next(
            (c.removeprefix("text-align-") for c in _classes(owner) if c.startswith("text-align-")), None
        )
        match = _STYLE_ALIGN.search(_style(owner))
        if match:
            alignment = match.group(1)
        if alignment in _ALIGNMENTS:
            paragraph.alignment = _ALIGNMENTS[alignment]
        indent = next((c.removeprefix("indent-") for c in _classes(owner) if c.startswith("indent-")), None)
        if indent and indent.isdigit():
            paragraph.paragraph_format.left_indent = Emu(INDENT_STEP * int(indent))
        return paragraph

    def _add_list(self, container: Any, element: _Element, fmt: _Format, level: int) -> None:
        ordered = _tag(element) == "ol"
        depth = min(level, MAX_LIST_LEVEL)
        style = ("List Number" if ordered else "List Bullet") + ("" if depth == 1 else f" {depth}")
        # Each <ol> starts again at 1; the template's one numbering per style would run on.
        num_id = self._restart_numbering(style) if ordered else None
        for item in element:
            if _tag(item) != "li":
                continue
            pending: list[str | _Element] = [item.text] if item.text else []
            for child in item:
                tag = _tag(child)
                if tag in ("ul", "ol"):
                    self._flush_list_item(container, pending, item, fmt, style, num_id)
                    pending = []
                    self._add_list(container, child, fmt, level + 1)
                elif tag in _BLOCKS:
                    self._flush_list_item(container, pending, item, fmt, style, num_id)
                    pending = []
                    if tag in ("p", "div", *_HEADINGS):
                        self._flush_list_item(container, [child], child, fmt, style, num_id)
                    else:
                        self.add_block(container, child, fmt)
                elif tag:
                    pending.append(child)
                if child.tail:
                    pending.append(child.tail)
            self._flush_list_item(container, pending, item, fmt, style, num_id)

    def _flush_list_item(
        self,
        container: Any,
        pending: list[str | _Element],
        owner: _Element,
        fmt: _Format,
        style: str,
        num_id: int | None,
    ) -> None:
        before = len(container.paragraphs)
        self._flush(container, pending, owner, fmt, style)
        if num_id is not None and len(container.paragraphs) > before:
            number = container.paragraphs[-1]._p.get_or_add_pPr().get_or_add_numPr()
            number.get_or_add_ilvl().val = 0
            number.get_or_add_numId().val = num_id

    def _restart_numbering(self, style: str) -> int | None:
        try:
            style_number = self.document.styles[style].element.pPr.numPr.numId.val
            numbering = self.document.part.numbering_part.element
            abstract_id = numbering.num_having_numId(style_number).abstractNumId.val
        except (AttributeError, KeyError):
            return None
        num = numbering.add_num(abstract_id)
        num.add_lvlOverride(ilvl=0).add_startOverride(1)
        return int(num.numId)

    def _add_table(self, container: Any, element: _Element, fmt: _Format) -> None:
        rows = element.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr")
        if not rows:
            return
        placements, column_count = _table_grid(rows)
        if column_count == 0:
            return
        table: Table = container.add_table(rows=len(rows), cols=column_count)
        table.style = self.document.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        for row_index, row in enumerate(rows):
            if _tag(row.getparent()) == "thead":
                header = table.rows[row_index]._tr.get_or_add_trPr()
                header.append(OxmlElement("w:tblHeader"))
        for cell_element, row_index, column_index, row_span, column_span in placements:
            cell: _Cell = table.cell(row_index, column_index)
            if row_span > 1 or column_span > 1:
                cell = cell.merge(table.cell(row_index + row_span - 1, column_index + column_span - 1))
            cell_fmt = replace(fmt, bold=True) if _tag(cell_element) == "th" else fmt
            existing = len(cell.paragraphs)
            self.add_flow(cell, cell_element, cell_fmt)
            # A cell starts with one empty paragraph (Word needs one); drop it once content is in.
            if len(cell.paragraphs) > existing and not cell.paragraphs[0].text and existing == 1:
                first = cell.paragraphs[0]._p
                first.getparent().remove(first)
            if cell._tc[-1].tag == qn("w:tbl"):
                cell.add_paragraph()  # Word requires a cell to end with a paragraph

    # Inline content.

    def _add_inline(self, paragraph: Paragraph, element: _Element, fmt: _Format) -> None:
        tag = _tag(element)
        if tag == "br":
            self._run(paragraph, "", fmt).add_break()
            return
        if tag == "img":
            self._add_picture(paragraph, element, fmt)
            return
        if tag == "span" and "ec-field" in _classes(element):
            kind = str(element.get("data-kind") or "field")
            kind = kind if kind in FIELD_KINDS else "field"
            who = element.get("data-party") or element.get("data-field") or ""
            self._add_text(paragraph, f"[{kind.replace('_', ' ')}: {who}]" if who else f"[{kind}]", fmt)
            return
        fmt = _inline_format(element, fmt)
        if tag == "a" and element.get("href") and fmt.link is None:
            fmt = replace(fmt, link=self._hyperlink(paragraph, str(element.get("href"))))
        if element.text:
            self._add_text(paragraph, element.text, fmt)
        for child in element:
            if _tag(child):
                self._add_inline(paragraph, child, fmt)
            if child.tail:
                self._add_text(paragraph, child.tail, fmt)

    def _hyperlink(self, paragraph: Paragraph, href: str) -> Any:
        relationship_id = paragraph.part.relate_to(href, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
        link = OxmlElement("w:hyperlink")
        link.set(qn("r:id"), relationship_id)
        paragraph._p.append(link)
        return link

    def _add_text(self, paragraph: Paragraph, text: str, fmt: _Format) -> None:
        text = _WHITESPACE.sub(" ", text)
        if text:
            self._run(paragraph, text, fmt)

    def _run(self, paragraph: Paragraph, text: str, fmt: _Format) -> Any:
        run = paragraph.add_run(text)
        run.bold = fmt.bold or None
        run.italic = fmt.italic or None
        run.underline = fmt.underline or None
        if fmt.strike:
            run.font.strike = True
        if fmt.link is not None:
            run.font.color.rgb = RGBColor(0x05, 0x63, 0xC1)
            fmt.link.append(run._r)
        return run

    def _add_picture(self, paragraph: Paragraph, element: _Element, fmt: _Format) -> None:
        alt = str(element.get("alt") or "")
        match = _IMAGE_DATA_URL.fullmatch(str(element.get("src") or "").strip())
        blob = b""
        if match:
            try:
                blob = base64.b64decode(match.group(2), validate=True)
            except (binascii.Error, ValueError):
                blob = b""
        if not blob.startswith(_PNG_MAGIC) and not blob.startswith(_JPEG_MAGIC):
            if alt:
                self._add_text(paragraph, f"[{alt}]", fmt)
            return
        run = self._run(paragraph, "", replace(fmt, link=None))
        try:
            width_attribute = str(element.get("width") or "")
            if width_attribute.isdigit():
                width = int(width_attribute) * EMU_PER_PIXEL
            else:
                width = int(DocxImage.from_blob(blob).width)
            run.add_picture(io.BytesIO(blob), width=Emu(min(int(width), MAX_PICTURE_WIDTH)))
        except (UnrecognizedImageError, ValueError, ZeroDivisionError, IndexError, KeyError):
            run._r.getparent().remove(run._r)
            if alt:
                self._add_text(paragraph, f"[{alt}]", fmt)


def _inline_format(element: _Element, fmt: _Format) -> _Format:
    tag = _tag(element)
    style = _style(element).replace(" ", "")
    bold = (
        fmt.bold
        or tag in ("strong", "b")
        or re.search(r"font-weight:(bold|bolder|[6-9]00)", style) is not None
    )
    italic = fmt.italic or tag in ("em", "i") or re.search(r"font-style:(italic|oblique)", style) is not None
    underline = fmt.underline or tag == "u" or "underline" in style
    strike = fmt.strike or tag == "s" or "line-through" in style
    return replace(fmt, bold=bold, italic=italic, underline=underline, strike=strike)


def _table_grid(rows: list[_Element]) -> tuple[list[tuple[_Element, int, int, int, int]], int]:
    """Place each cell on the grid HTML tables use; spans are clipped to the table and to Word's width."""
    occupied: set[tuple[int, int]] = set()
    placements: list[tuple[_Element, int, int, int, int]] = []
    column_count = 0
    for row_index, row in enumerate(rows):
        column = 0
        for cell in row:
            if _tag(cell) not in ("td", "th"):
                continue
            while (row_index, column) in occupied:
                column += 1
            if column >= MAX_TABLE_COLUMNS:
                break
            column_span = min(_span(cell.get("colspan")), MAX_TABLE_COLUMNS - column)
            row_span = min(_span(cell.get("rowspan")), len(rows) - row_index)
            if any(
                (row_index + r, column + c) in occupied for r in range(row_span) for c in range(column_span)
            ):
                row_span, column_span = 1, 1
            for r in range(row_span):
                for c in range(column_span):
                    occupied.add((row_index + r, column + c))
            placements.append((cell, row_index, column, row_span, column_span))
            column += column_span
            column_count = max(column_count, column)
    return placements, column_count


def _span(value: object) -> int:
    text = str(value or "1").strip()
    return max(1, int(text)) if text.isdigit() else 1


def _trim(paragraph: Paragraph) -> None:
    """Drop the spaces HTML layout leaves at a paragraph's edges."""
    runs = paragraph.runs
    if runs and runs[0].text.startswith(" "):
        runs[0].text = runs[0].text.lstrip(" ")
    runs = paragraph.runs
    if runs and runs[-1].text.endswith(" "):
        runs[-1].text = runs[-1].text.rstrip(" ")


def _add_rule(paragraph: Paragraph) -> None:
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for name, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "auto")):
        bottom.set(qn(name), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().append(borders)

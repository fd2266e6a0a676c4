"""Contract HTML to PDF with WeasyPrint: page setup, embedded CJK font, PDF/A-2b, reproducible bytes,
and the rectangle of every signer field where its placeholder was laid out.

``body_html`` is the already sanitised body of a document version (``documents.sanitizing``); it is
wrapped here in our own ``<html>`` with the stylesheet of :func:`stylesheet`. WeasyPrint fetches only
the font file we reference and ``data:`` images (:func:`platform_only_fetcher`): nothing on the
network, nothing else on disk.

Same inputs, same bytes: the PDF's dates come from ``created`` (the document version's timestamp), its
``/ID`` from a hash of the inputs, font subsets are named from their Pango description; a change of
WeasyPrint, Pango, HarfBuzz or the font file may change the bytes (not the text or the field boxes).

Field rectangles are in PDF points of the page, origin at its lower-left corner (the convention of
``signing.models.SignatureField``). Previews are page PNGs drawn by PDFium (``documents.pages``).
"""

from __future__ import annotations

import hashlib
import html
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from econtract.documents.errors import DocumentError
from econtract.documents.fonts import cjk_font_path

if TYPE_CHECKING:
    from weasyprint import Document
    from weasyprint.urls import URLFetcherResponse

RENDER_TOO_LARGE: Final = "render_too_large"
RENDER_TOO_MANY_PAGES: Final = "render_too_many_pages"
RENDER_INVALID_SETUP: Final = "render_invalid_setup"
RENDER_UNAVAILABLE: Final = "render_unavailable"

MAX_BODY_BYTES: Final = 5 * 1024 * 1024
MAX_PAGES: Final = 500
MAX_MARGIN_TEXT_CHARS: Final = 200
MAX_MARGIN_MM: Final = 80.0
PDF_VARIANT: Final = "pdf/a-2b"
# Part of the /ID: bump when the wrapper HTML or the stylesheet changes the output for the same input.
RENDERER_VERSION: Final = 1

PX_TO_PT: Final = 0.75  # 72 PDF points per inch / 96 CSS pixels per inch
PAGE_SIZES_PT: Final[dict[str, tuple[float, float]]] = {
    "A4": (595.28, 841.89),
    "Letter": (612.0, 792.0),
}
FONT_FAMILY: Final = "EContract Noto Sans CJK SC"

FieldKind = Literal["signature", "seal", "date_signed", "text", "number", "checkbox", "initials"]
# width, height in points: what the stylesheet reserves for each placeholder kind.
FIELD_SIZES_PT: Final[dict[str, tuple[float, float]]] = {
    "signature": (180, 60),
    "seal": (120, 120),
    "initials": (60, 30),
    "date_signed": (100, 18),
    "text": (160, 18),
    "number": (100, 18),
    "checkbox": (14, 14),
}
_FIELD_ID = re.compile(r"ec-field-(?P<name>[A-Za-z][A-Za-z0-9_]*)-(?P<n>[1-9][0-9]*)\Z")
# In header and footer text: control, format (bidi overrides), surrogate, private and unassigned
# characters are refused, and line/paragraph separators (a newline is allowed and kept).
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_CSS_HEX_ESCAPED: Final = frozenset("\"'\\<>&")


class RenderError(DocumentError, ValueError):
    """The document cannot be rendered as asked; nothing was produced.

    ``code``: ``render_too_large`` (body over 5 MiB), ``render_too_many_pages`` (over 500 pages after
    layout), ``render_invalid_setup`` (page setup, title or date refused), ``render_unavailable``
    (WeasyPrint or Pango missing here).
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class PageSetup:
    size: Literal["A4", "Letter"] = "A4"
    margin_mm: tuple[float, float, float, float] = (25, 20, 25, 20)  # top right bottom left
    header: str = ""
    footer: str = ""
    page_numbers: bool = True
    language: Literal["zh-hans", "en"] = "zh-hans"


@dataclass(frozen=True)
class FieldBox:
    """Where a signer field was laid out: PDF points, origin at the page's lower-left corner."""

    name: str  # data-field, e.g. "signature_buyer"
    kind: str
    party: str
    page: int  # 1-based
    x: float
    y: float
    width: float
    height: float
    element_id: str = ""  # "ec-field-signature_buyer-2": which placement of the field


@dataclass(frozen=True)
class RenderedDocument:
    pdf: bytes
    sha256: str
    page_count: int
    fields: list[FieldBox] = field(default_factory=list)
    page_size: tuple[float, float] = PAGE_SIZES_PT["A4"]  # points


# --- the HTML and its stylesheet ---------------------------------------------------------------


def css_string(text: str) -> str:
    """``text`` as a double-quoted CSS string; a newline becomes a line break (``\\A``).

    Quotes, backslashes and ``< > &`` are hex-escaped (so the string cannot close the CSS string nor
    the ``<style>`` element); control and format characters are refused.

    :raises RenderError: ``render_invalid_setup`` for a refused character.
    """
    parts = ['"']
    for character in text.replace("\r\n", "\n").replace("\r", "\n"):
        if character == "\n":
            parts.append("\\A ")
        elif character in _CSS_HEX_ESCAPED:
            parts.append(f"\\{ord(character):X} ")
        elif unicodedata.category(character) in _REFUSED_CATEGORIES:
            raise RenderError(
                RENDER_INVALID_SETUP, f"header and footer may not contain U+{ord(character):04X}"
            )
        else:
            parts.append(character)
    parts.append('"')
    return "".join(parts)


def _check_setup(setup: PageSetup) -> None:
    if setup.size not in PAGE_SIZES_PT:
        raise RenderError(RENDER_INVALID_SETUP, f"page size must be A4 or Letter, not {setup.size!r}")
    if setup.language not in ("zh-hans", "en"):
        raise RenderError(RENDER_INVALID_SETUP, f"language must be zh-hans or en, not {setup.language!r}")
    if len(setup.margin_mm) != 4 or not all(
        isinstance(m, int | float) and math.isfinite(m) and 0 <= m <= MAX_MARGIN_MM for m in setup.margin_mm
    ):
        raise RenderError(
            RENDER_INVALID_SETUP,
            f"margins are four numbers of 0 to {MAX_MARGIN_MM:g} mm (top right bottom left)",
        )
    for name, text in (("header", setup.header), ("footer", setup.footer)):
        if len(text) > MAX_MARGIN_TEXT_CHARS:
            raise RenderError(
                RENDER_INVALID_SETUP, f"the {name} is longer than {MAX_MARGIN_TEXT_CHARS} characters"
            )


def _page_number_content(language: str) -> str:
    if language == "en":
        return '"Page " counter(page) " of " counter(pages)'
    return '"第 " counter(page) " 页 共 " counter(pages) " 页"'


def stylesheet(setup: PageSetup, font_url: str) -> str:
    """The CSS of a rendered contract: page box, margin boxes, body text and field placeholders."""
    _check_setup(setup)
    top, right, bottom, left = (f"{m:g}mm" for m in setup.margin_mm)
    header = f"content: {css_string(setup.header)};" if setup.header else ""
    footer_parts = []
    if setup.footer:
        footer_parts.append(css_string(setup.footer))
    if setup.page_numbers:
        if footer_parts:
            footer_parts.append('"\\A "')
        footer_parts.append(_page_number_content(setup.language))
    footer = f"content: {' '.join(footer_parts)};" if footer_parts else ""
    fields = "\n".join(
        f".ec-field-{kind} {{ width: {w:g}pt; height: {h:g}pt; }}" for kind, (w, h) in FIELD_SIZES_PT.items()
    )
    # the editor's alignment, indentation and page-break classes (documents.sanitizing keeps only these)
    indents = " ".join(f".indent-{n} {{ margin-left: {2 * n}em; }}" for n in range(1, 9))
    return f"""
@font-face {{ font-family: "{FONT_FAMILY}"; src: url({css_string(font_url)}); }}
@page {{
  size: {setup.size};
  margin: {top} {right} {bottom} {left};
  @top-center {{ {header} font-family: "{FONT_FAMILY}"; font-size: 9pt; color: #555;
    white-space: pre-line; vertical-align: bottom; padding-bottom: 4mm; }}
  @bottom-center {{ {footer} font-family: "{FONT_FAMILY}"; font-size: 9pt; color: #555;
    white-space: pre-line; vertical-align: top; padding-top: 4mm; text-align: center; }}
}}
html {{ font-family: "{FONT_FAMILY}"; font-size: 11pt; line-height: 1.6; color: #000; }}
body {{ margin: 0; }}
p {{ margin: 0 0 0.6em 0; text-align: justify; orphans: 2; widows: 2; }}
h1 {{ font-size: 18pt; text-align: center; margin: 0 0 0.8em 0; font-weight: bold; }}
h2 {{ font-size: 14pt; margin: 1em 0 0.5em 0; font-weight: bold; break-after: avoid; }}
h3 {{ font-size: 12pt; margin: 0.8em 0 0.4em 0; font-weight: bold; break-after: avoid; }}
ul, ol {{ margin: 0 0 0.6em 0; padding-left: 2em; }}
table {{ border-collapse: collapse; width: 100%; margin: 0 0 0.6em 0; }}
th, td {{ border: 0.75pt solid #444; padding: 2pt 4pt; vertical-align: top; }}
img {{ max-width: 100%; }}
.ec-field {{ display: inline-block; vertical-align: bottom; box-sizing: border-box;
  outline: 0.75pt dashed #8fa3bf; break-inside: avoid; }}
{fields}
.text-align-left {{ text-align: left; }} .text-align-center {{ text-align: center; }}
.text-align-right {{ text-align: right; }} .text-align-justify {{ text-align: justify; }}
{indents}
.page-break {{ break-after: page; height: 0; margin: 0; }}
"""


def full_html(body_html: str, *, title: str, setup: PageSetup, font_url: str | None = None) -> str:
    """The whole HTML document WeasyPrint lays out (the benchmark feeds bare WeasyPrint the same)."""
    if font_url is None:
        font_url = cjk_font_path().as_uri()
    lang = "en" if setup.language == "en" else "zh-Hans"
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{stylesheet(setup, font_url)}</style></head>"
        f"<body>{body_html}</body></html>"
    )


# --- fetching: only what we put there ------------------------------------------------------------


class FetchRefused(ValueError):
    """A resource outside the platform was asked for during layout."""


def _fetcher_base() -> type[Any]:
    from weasyprint import URLFetcher

    return URLFetcher  # type: ignore[no-any-return]


def platform_only_fetcher(allowed_files: dict[str, Path]) -> Any:
    """A WeasyPrint URL fetcher serving the ``file:`` URLs in ``allowed_files`` and ``data:image/``
    URLs only; every other URL (http, https, ftp, other files) is refused before any I/O.

    WeasyPrint catches the refusal, logs a warning and lays out without the resource.
    """
    from weasyprint.urls import URLFetcherResponse

    base = _fetcher_base()

    class PlatformOnlyFetcher(base):  # type: ignore[misc, valid-type]
        def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
            path = allowed_files.get(url)
            if path is not None:
                return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": "font/otf"})
            if url[:11].lower() == "data:image/":
                # urllib's DataHandler decodes it; no handler that could reach the network is involved
                response: URLFetcherResponse = super().fetch(url, headers)
                return response
            raise FetchRefused(f"{url[:80]!r} is not fetched: rendering uses platform resources only")

    return PlatformOnlyFetcher(timeout=1, allow_redirects=False, allowed_protocols=("file", "data"))


# --- rendering ------------------------------------------------------------------------------------


def _w3c_date(created: datetime) -> str:
    if created.tzinfo is None or created.utcoffset() is None:
        raise RenderError(RENDER_INVALID_SETUP, "created must be an aware datetime")
    return created.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _identifier(body_html: str, title: str, setup: PageSetup, created: str, font: Path) -> bytes:
    """The first half of the PDF's /ID: the same for the same inputs, different for any other."""
    digest = hashlib.sha256()
    for part in (f"econtract-render-{RENDERER_VERSION}", body_html, title, repr(setup), created, font.name):
        encoded = part.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
    return digest.hexdigest()[:32].encode("ascii")


def _walk(box: Any) -> Iterator[Any]:
    """Every box under ``box``, in document order (a stack, not recursion: body HTML may nest deeply)."""
    stack = [box]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(getattr(current, "children", ())))


def _page_fields(document: Document, page_heights_pt: list[float]) -> list[FieldBox]:
    found: list[FieldBox] = []
    for number, page in enumerate(document.pages, start=1):
        page_height = page_heights_pt[number - 1]
        for box in _walk(page._page_box):
            element = getattr(box, "element", None)
            if element is None or getattr(box, "element_tag", None) != "span":
                continue
            kind = element.get("data-kind")
            if kind not in FIELD_SIZES_PT or "ec-field" not in (element.get("class") or "").split():
                continue
            element_id = element.get("id") or ""
            match = _FIELD_ID.match(element_id)
            name = element.get("data-field") or ""
            if match is None or match["name"] != name:
                continue
            width = box.border_width() * PX_TO_PT
            height = box.border_height() * PX_TO_PT
            x = box.border_box_x() * PX_TO_PT
            top = box.border_box_y() * PX_TO_PT
            found.append(
                FieldBox(
                    name=name,
                    kind=kind,
                    party=element.get("data-party") or "",
                    page=number,
                    x=round(x, 2),
                    y=round(page_height - top - height, 2),
                    width=round(width, 2),
                    height=round(height, 2),
                    element_id=element_id,
                )
            )
    return found


def render_pdf(
    body_html: str, *, title: str, setup: PageSetup = PageSetup(), created: datetime
) -> RenderedDocument:
    """Lay out ``body_html`` once, read the field boxes from the layout, write a PDF/A-2b.

    :param created: the document version's timestamp; it is the PDF's creation and modification date.
    :raises RenderError: see its codes.
    """
    if len(body_html) > MAX_BODY_BYTES or len(body_html.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise RenderError(RENDER_TOO_LARGE, f"the document body is larger than {MAX_BODY_BYTES // 2**20} MiB")
    if len(title) > 500:
        raise RenderError(RENDER_INVALID_SETUP, "the title is longer than 500 characters")
    date = _w3c_date(created)
    try:
        import weasyprint
        from weasyprint.text.fonts import FontConfiguration
    except (ImportError, OSError) as exc:  # OSError: the package is there, Pango is not
        raise RenderError(RENDER_UNAVAILABLE, f"WeasyPrint cannot run here: {exc}") from exc

    font = cjk_font_path()
    font_url = font.as_uri()
    source = full_html(body_html, title=title, setup=setup, font_url=font_url)
    fetcher = platform_only_fetcher({font_url: font})
    font_config = FontConfiguration()
    document = weasyprint.HTML(string=source, base_url=None, url_fetcher=fetcher).render(
        font_config=font_config
    )
    page_count = len(document.pages)
    if page_count > MAX_PAGES:
        raise RenderError(RENDER_TOO_MANY_PAGES, f"{page_count} pages; at most {MAX_PAGES} are rendered")
    heights = [page.height * PX_TO_PT for page in document.pages]
    fields = _page_fields(document, heights)

    # Only our metadata: nothing the body could carry (<meta>, attachments) reaches the PDF.
    metadata = document.metadata
    metadata.title = title
    metadata.authors = []
    metadata.description = None
    metadata.keywords = []
    metadata.generator = None
    metadata.created = date
    metadata.modified = date
    metadata.lang = "en" if setup.language == "en" else "zh-Hans"
    metadata.attachments = []
    pdf: bytes = document.write_pdf(
        pdf_variant=PDF_VARIANT,
        pdf_identifier=_identifier(body_html, title, setup, date, font),
    )
    first = document.pages[0] if document.pages else None
    size = (
        (round(first.width * PX_TO_PT, 2), round(first.height * PX_TO_PT, 2))
        if first is not None
        else PAGE_SIZES_PT[setup.size]
    )
    return RenderedDocument(
        pdf=pdf,
        sha256=hashlib.sha256(pdf).hexdigest(),
        page_count=page_count,
        fields=fields,
        page_size=size,
    )


# --- previews -------------------------------------------------------------------------------------


def preview_png(document: RenderedDocument, page_number: int, dpi: float = 96) -> bytes:
    """Page ``page_number`` (1-based) as a PNG at ``dpi``, drawn by PDFium in the sandboxed child of
    ``documents.pages`` (which clamps the width to 2000 px)."""
    from econtract.documents.pages import render_page_png

    width_px = max(1, round(document.page_size[0] / 72 * dpi))
    return render_page_png(document.pdf, page_number, width_px)


def preview_pngs(document: RenderedDocument, dpi: float = 96) -> list[bytes]:
    """Every page as a PNG (one sandboxed PDFium call per page: for previews of a few pages)."""
    return [preview_png(document, number, dpi) for number in range(1, document.page_count + 1)]

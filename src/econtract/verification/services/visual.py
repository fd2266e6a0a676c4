"""What the signer saw against what the file shows now: every page rendered at each signature's revision.

The difference analysis classifies *objects*; a revision that only "fills a form" can still change
what a page shows (an appearance regenerated from a value the signer never saw, a field emptied to
reveal text it covered, an overlay filled over signed text: the shadow attacks). What the signer saw
is what counts, so for every signature followed by form filling or annotations the signed revision
(the file up to its ``/ByteRange`` end) and the final file are rendered with PDFium, forms drawn, and
compared pixel by pixel:

* anywhere on the page a visible difference is a change of what was signed (``visual_change``),
* except inside the widgets of *later signatures* (their stamps),
* and, inside a field that was empty at that signature and filled later, or where an annotation added
  later paints, only a difference that touches what was already drawn there counts: filling blank
  paper is form filling; covering or extending signed ink is not.

Annotations added after a signature are rendered hidden for the comparison and reported as warnings.
At each signature, a text field whose appearance does not show its value is reported as a warning
(``field_appearance_mismatch``): a signer sees the appearance, a later tool may show the value.

Runs where ``verify_pdf`` runs, i.e. in the sandboxed verification child (isolation.py): rendering
hostile pages is bounded by the child's CPU, memory and wall-clock limits, and here by a time budget
after which the remaining signatures read ``modifications_not_checked`` (never "valid").
"""

from __future__ import annotations

import ctypes
import logging
import math
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from econtract.verification.services.reading import LocatedSignature
from econtract.verification.services.reports import SignatureReport

logger = logging.getLogger(__name__)

RENDER_DPI = 72
MAX_PAGE_PIXELS = 2_000_000  # a larger page is rendered at a lower resolution
FINAL_CACHE_BYTES = 256 * 1024 * 1024  # the final file's pages kept rendered (grey: a byte a pixel)
BUDGET_SECONDS = 15.0  # of the child's 30 s: parsing and cryptography need the rest
DIFFERENCE = 48  # grey levels: below this, two pixels are "the same" (anti-aliasing)
INK = 200  # grey level below which a signed pixel is something drawn, not blank paper
MIN_CHANGED_PIXELS = 3
COMPARED_MODIFICATIONS = frozenset({"form_filling", "annotations"})
# grey levels in steps of 32: rows are compared at C speed on these, pixels with DIFFERENCE
_LEVELS = bytes(level // 32 for level in range(256))

_HIDDEN = 2  # annotation flag: Hidden
_WIDGET = 20
_SIGNATURE_FIELD = 7
_TEXT_FIELD = 6
_PASSWORD_FLAG = 1 << 13
_PDFIUM_LOCK = threading.Lock()  # PDFium is not thread-safe; verify_pdf may run in threads
_NEED_APPEARANCES = re.compile(rb"/NeedAppearances\s+true")


class BudgetExceeded(Exception):
    """The pages could not be compared within the time allowed."""


@dataclass(frozen=True)
class Annotation:
    index: int
    subtype: int
    rect: tuple[float, float, float, float]
    flags: int
    field_name: str = ""
    field_type: int = -1
    field_flags: int = 0
    value: str = ""
    contents: str = ""

    @property
    def key(self) -> tuple[int, str, tuple[int, ...]]:
        return self.subtype, self.field_name, tuple(round(v) for v in self.rect)

    @property
    def area(self) -> float:
        return (self.rect[2] - self.rect[0]) * (self.rect[3] - self.rect[1])

    @property
    def is_widget(self) -> bool:
        return self.subtype == _WIDGET


@dataclass
class Review:
    """What the comparison found for the whole document."""

    warnings: list[str] = field(default_factory=list)
    # annotation key -> (page, annotation, field of the latest signature it follows)
    added_annotations: dict[tuple[int, Any], tuple[int, Annotation, str]] = field(default_factory=dict)


def review_appearance(
    data: bytes, signatures: Sequence[tuple[LocatedSignature, SignatureReport]]
) -> list[str]:
    """Compare each signature's signed view with the final view; return document warnings.

    Signature reports are updated in place: a visible change makes the signature ``invalid``
    (``modification: "visual"``, reason ``visual_change``, ``visual_changes`` lists page and box).
    """
    if not signatures:
        return []
    deadline = time.monotonic() + BUDGET_SECONDS
    review = Review()
    # PDFium does not always tie a signature widget to its field (a widget kid, a field outside
    # /Fields): later signatures' stamps are known by their widgets' rectangles, read with pyHanko.
    stamps = [_widget_rects(signature) for signature, _ in signatures]
    with _PDFIUM_LOCK, ExitStack() as stack:
        final: _Document | None = None
        for position, (signature, report) in enumerate(signatures):
            if report.intact is not True or report.coverage not in ("entire_revision", "entire_file"):
                continue  # already not valid; what it covers is not a revision to render
            compared = report.modification in COMPARED_MODIFICATIONS
            signed_end = int(signature.byte_range[2]) + int(signature.byte_range[3])
            signed = data if signed_end >= len(data) else data[:signed_end]
            try:
                with _Document.open(signed) as view:
                    review.warnings += _appearance_mismatches(signed, view, report.field, deadline)
                    if compared:
                        if final is None:
                            final = stack.enter_context(_Document.open(data, cache_bytes=FINAL_CACHE_BYTES))
                        later = {rect for rects in stamps[position + 1 :] for rect in rects}
                        _compare(view, final, report, later, review, deadline)
            except Exception as exc:  # hostile file: say we could not look, never pass silently
                logger.debug("visual comparison failed for %s", report.field, exc_info=True)
                why = (
                    "within the time allowed"
                    if isinstance(exc, BudgetExceeded)
                    else f"(they cannot be rendered: {type(exc).__name__})"
                )
                if compared and report.modification in COMPARED_MODIFICATIONS:
                    report.modification = "unchecked"
                    report.fail(
                        "modifications_not_checked",
                        f"the pages as signed could not be compared with the final file {why}",
                    )
                else:
                    review.warnings.append(
                        f"the form fields at signature {report.field!r} could not be checked {why}"
                    )
    for page, annotation, after in review.added_annotations.values():
        review.warnings.append(_annotation_warning(page, annotation, after))
    return review.warnings


def render_every_page(data: bytes) -> int:
    """Render each page as the comparison does (for bench/verify.py); returns the page count."""
    with _PDFIUM_LOCK, _Document.open(data) as document:
        for number in range(len(document)):
            document.render(number)
        return len(document)


# --- comparing two views -------------------------------------------------------------------------


def _compare(
    view: _Document,
    final: _Document,
    report: SignatureReport,
    later_stamps: set[tuple[int, ...]],
    review: Review,
    deadline: float,
) -> None:
    changes: list[dict[str, Any]] = []
    if len(view) != len(final):
        changes.append({"page": None, "box": None, "detail": f"{len(view)} pages signed, {len(final)} now"})
    for number in range(min(len(view), len(final))):
        _check_time(deadline)
        change = _compare_page(view, final, number, report.field, later_stamps, review)
        if change is not None:
            changes.append(change)
    if not changes:
        return
    report.visual_changes = changes
    report.modification = "visual"
    where = "; ".join(
        f"page {c['page']} in [{' '.join(f'{v:g}' for v in c['box'])}]" if c["page"] else c["detail"]
        for c in changes[:5]
    )
    report.fail("visual_change", f"the pages no longer show what was signed: {where}")


def _compare_page(
    view: _Document,
    final: _Document,
    number: int,
    field_name: str,
    later_stamps: set[tuple[int, ...]],
    review: Review,
) -> dict[str, Any] | None:
    signed_annots = view.annotations(number)
    final_annots = final.annotations(number)
    unmatched = {a.key: a for a in signed_annots}
    stamps: list[tuple[float, float, float, float]] = []  # ignored entirely
    filled: list[tuple[float, float, float, float]] = []  # only changes to what was drawn count
    added: list[Annotation] = []
    for annotation in final_annots:
        before = unmatched.pop(annotation.key, None)
        if annotation.is_widget and annotation.key[2] in later_stamps:
            stamps.append(annotation.rect)
        elif annotation.is_widget and annotation.field_type == _SIGNATURE_FIELD and before is None:
            filled.append(annotation.rect)  # an empty signature field added later
        elif annotation.is_widget:
            if before is not None and not before.value and annotation.value:
                filled.append(annotation.rect)
        elif before is None and not annotation.flags & _HIDDEN and annotation.area > 0:
            added.append(annotation)
            review.added_annotations[(number, annotation.key)] = (number + 1, annotation, field_name)
    signed = view.render(number)
    now = final.render(number, hide=[a.index for a in added])
    if (signed.width, signed.height) != (now.width, now.height):
        return {"page": number + 1, "box": [round(v, 1) for v in signed.page_box]}
    stamp_px = [signed.to_device(rect) for rect in stamps]
    filled_px = [signed.to_device(rect) for rect in filled]
    box = _difference(signed, now, stamp_px, filled_px, painted=None)
    if added:
        # Where the added annotations paint, they must not cover or extend what was signed.
        shown = final.render(number)
        overlay = _difference(signed, shown, stamp_px, [(0, 0, signed.width, signed.height)], painted=now)
        box = _union(box, overlay)
    if box is None:
        return None
    return {"page": number + 1, "box": signed.to_page(box)}


def _difference(
    signed: _Raster,
    now: _Raster,
    ignored: list[tuple[int, int, int, int]],
    ink_only: list[tuple[int, int, int, int]],
    *,
    painted: _Raster | None,
) -> tuple[int, int, int, int] | None:
    """The pixel box where ``now`` differs from ``signed`` (``None``: no visible difference).

    Pixels in ``ignored`` never count; in ``ink_only`` a pixel counts only where the signed view had
    ink at or next to it. With ``painted``, only pixels where ``now`` differs from ``painted`` are
    looked at (the pixels an added annotation paints).
    """
    width, height, stride = signed.width, signed.height, signed.stride
    a, b = signed.pixels, now.pixels
    c = painted.pixels if painted is not None else None
    x0 = y0 = math.inf
    x1 = y1 = -1
    count = 0
    special = ignored + ink_only
    for y in range(height):
        row = y * stride
        span = _changed_span(a[row : row + width], b[row : row + width])
        if span is None:
            continue
        lo, hi, changed = span
        if c is not None:
            painted_span = _changed_span(c[row : row + width], b[row : row + width])
            if painted_span is None:
                continue
            lo, hi = max(lo, painted_span[0]), min(hi, painted_span[1])
        elif not any(by0 <= y < by1 and bx0 < hi and lo < bx1 for bx0, by0, bx1, by1 in special):
            # the common case, at C speed: a changed row crossing no widget or annotation
            count += changed
            x0, y0, x1, y1 = min(x0, lo), min(y0, y), max(x1, hi - 1), max(y1, y)
            continue
        for x in range(lo, hi):
            i = row + x
            if abs(a[i] - b[i]) <= DIFFERENCE:
                continue
            if c is not None and abs(c[i] - b[i]) <= DIFFERENCE:
                continue
            if _inside(x, y, ignored):
                continue
            if _inside(x, y, ink_only) and not _ink_near(a, x, y, width, height, stride):
                continue
            count += 1
            x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
    if count < MIN_CHANGED_PIXELS:
        return None
    return int(x0), int(y0), x1 + 1, y1 + 1


def _changed_span(before: bytes, after: bytes) -> tuple[int, int, int] | None:
    """Columns ``[lo, hi)`` holding every visibly changed pixel of a row, and how many changed."""
    if before == after:
        return None
    q_before, q_after = before.translate(_LEVELS), after.translate(_LEVELS)
    if q_before == q_after:
        return None
    width = len(before)
    xor = int.from_bytes(q_before, "big") ^ int.from_bytes(q_after, "big")
    lo = width - (xor.bit_length() + 7) // 8
    hi = width - ((xor & -xor).bit_length() - 1) // 8
    changed = xor.to_bytes(width, "big")
    return lo, hi, width - changed.count(0)


def _inside(x: int, y: int, boxes: list[tuple[int, int, int, int]]) -> bool:
    return any(bx0 <= x < bx1 and by0 <= y < by1 for bx0, by0, bx1, by1 in boxes)


def _ink_near(pixels: bytes, x: int, y: int, width: int, height: int, stride: int) -> bool:
    for ny in range(max(0, y - 1), min(height, y + 2)):
        for nx in range(max(0, x - 1), min(width, x + 2)):
            if pixels[ny * stride + nx] < INK:
                return True
    return False


def _union(
    a: tuple[int, int, int, int] | None, b: tuple[int, int, int, int] | None
) -> tuple[int, int, int, int] | None:
    if a is None or b is None:
        return a or b
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _check_time(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise BudgetExceeded


def _widget_rects(signature: LocatedSignature) -> set[tuple[int, ...]]:
    """The rounded rectangles of a signature field's widgets (the field itself, or its kids)."""
    try:
        field_dict = signature.sig_field
        kids = field_dict.get("/Kids")
        widgets = [kid.get_object() for kid in kids] if kids is not None else [field_dict]
        rects: set[tuple[int, ...]] = set()
        for widget in widgets:
            x0, y0, x1, y1 = (float(v) for v in widget["/Rect"])
            rects.add((round(min(x0, x1)), round(min(y0, y1)), round(max(x0, x1)), round(max(y0, y1))))
        return rects
    except Exception:
        logger.debug("no widget rectangle for %s", signature.field_name, exc_info=True)
        return set()


# --- fields whose appearance does not show their value ------------------------------------------


def _appearance_mismatches(signed: bytes, view: _Document, field_name: str, deadline: float) -> list[str]:
    if _NEED_APPEARANCES.search(signed):
        return []  # viewers draw the values themselves
    suspects = [
        (number, annotation)
        for number in range(len(view))
        for annotation in view.annotations(number)
        if annotation.is_widget
        and annotation.field_type == _TEXT_FIELD
        and annotation.value.strip()
        and not annotation.field_flags & _PASSWORD_FLAG
        and not annotation.flags & _HIDDEN
    ]
    if not suspects:
        return []
    warnings = []
    with _Document.open(signed) as flat:  # a copy: flattening changes the document
        page_text: dict[tuple[int, tuple[float, ...]], str] = {
            (number, annotation.rect): flat.text_in(number, annotation.rect)
            for number, annotation in suspects
        }
        pages = sorted({number for number, _ in suspects})
        content = {number: flat.text_in(number, None) for number in pages}
        for number in pages:
            flat.flatten(number)
        # Everything the page's widgets draw, whatever their coordinates say (some appearances come
        # out of PDFium's flattening mispositioned): the flattened page's text less its own text.
        drawn = {number: _without(flat.text_in(number, None), content[number]) for number in pages}
        for number, annotation in suspects:
            _check_time(deadline)
            # what the widget draws: the text in its box once flattened, less the page's own text there
            shown = flat.text_in(number, annotation.rect).replace(page_text[(number, annotation.rect)], "", 1)
            value = _normal(annotation.value)
            if value not in _normal(shown) and value not in drawn[number]:
                warnings.append(
                    f"field_appearance_mismatch: at signature {field_name!r}, field {annotation.field_name!r} "
                    f"on page {number + 1} shows {_short(shown)!r} but its value is {_short(annotation.value)!r}"
                )
    return warnings


def _without(text: str, removed: str) -> str:
    """``text`` normalised, each line of ``removed`` taken out once."""
    result = _normal(text)
    for line in removed.splitlines():
        result = result.replace(_normal(line), "", 1)
    return result


def _normal(text: str) -> str:
    return "".join(text.split()).casefold()


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def _annotation_warning(page: int, annotation: Annotation, after: str) -> str:
    kinds = {1: "Text", 2: "Link", 3: "FreeText", 4: "Line", 5: "Square", 6: "Circle", 9: "Highlight"}
    kind = kinds.get(annotation.subtype, f"type-{annotation.subtype}")
    box = " ".join(f"{v:g}" for v in (round(c, 1) for c in annotation.rect))
    note = f" {_short(annotation.contents)!r}" if annotation.contents.strip() else ""
    return f"annotation added after signature {after!r}: page {page}, {kind} at [{box}]{note}"


# --- PDFium --------------------------------------------------------------------------------------


@dataclass
class _Raster:
    width: int
    height: int
    stride: int
    pixels: bytes
    page_box: tuple[float, float, float, float]
    to_device_fn: Any
    to_page_fn: Any

    def to_device(self, rect: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
        result: tuple[int, int, int, int] = self.to_device_fn(rect)
        return result

    def to_page(self, box: tuple[int, int, int, int]) -> list[float]:
        result: list[float] = self.to_page_fn(box)
        return result


class _Document:
    """One PDFium document (forms initialised unless ``forms=False``), pages and annotations cached."""

    def __init__(self, data: bytes, forms: bool, cache_bytes: int) -> None:
        import pypdfium2 as pdfium

        self._pdfium = pdfium
        self._doc = pdfium.PdfDocument(data)
        if forms:
            # must precede loading any page: PDFium draws widgets only with a form environment
            self._doc.init_forms()
        self._annotations: dict[int, list[Annotation]] = {}
        # the final file is compared with every signature's view: render each page of it once
        self._rasters: dict[tuple[int, tuple[int, ...]], _Raster] = {}
        self._cached_bytes = 0
        self._cache_limit = cache_bytes

    @classmethod
    @contextmanager
    def open(cls, data: bytes, *, forms: bool = True, cache_bytes: int = 0) -> Iterator[_Document]:
        document = cls(data, forms, cache_bytes)
        try:
            yield document
        finally:
            document._doc.close()

    def __len__(self) -> int:
        return len(self._doc)

    def annotations(self, number: int) -> list[Annotation]:
        if number not in self._annotations:
            self._annotations[number] = list(self._read_annotations(number))
        return self._annotations[number]

    def _read_annotations(self, number: int) -> Iterator[Annotation]:
        raw = self._pdfium.raw
        page = self._doc[number]
        form = self._doc.formenv
        for index in range(raw.FPDFPage_GetAnnotCount(page)):
            handle = raw.FPDFPage_GetAnnot(page, index)
            if not handle:
                continue
            try:
                rect = raw.FS_RECTF()
                if not raw.FPDFAnnot_GetRect(handle, rect):
                    continue
                box = (
                    min(rect.left, rect.right),
                    min(rect.bottom, rect.top),
                    max(rect.left, rect.right),
                    max(rect.bottom, rect.top),
                )
                subtype = raw.FPDFAnnot_GetSubtype(handle)
                values: dict[str, Any] = {}
                if subtype == _WIDGET and form is not None:
                    values = {
                        "field_name": _utf16(
                            lambda b, n, h=handle: raw.FPDFAnnot_GetFormFieldName(form, h, b, n)
                        ),
                        "field_type": raw.FPDFAnnot_GetFormFieldType(form, handle),
                        "field_flags": raw.FPDFAnnot_GetFormFieldFlags(form, handle),
                        "value": _utf16(
                            lambda b, n, h=handle: raw.FPDFAnnot_GetFormFieldValue(form, h, b, n)
                        ),
                    }
                contents = _utf16(lambda b, n, h=handle: raw.FPDFAnnot_GetStringValue(h, b"Contents", b, n))
                yield Annotation(
                    index=index,
                    subtype=subtype,
                    rect=box,
                    flags=raw.FPDFAnnot_GetFlags(handle),
                    contents=contents,
                    **values,
                )
            finally:
                raw.FPDFPage_CloseAnnot(handle)

    def render(self, number: int, hide: Sequence[int] = ()) -> _Raster:
        """Page ``number`` in grey, forms and annotations drawn, the annotations ``hide`` hidden."""
        key = (number, tuple(hide))
        if key in self._rasters:
            return self._rasters[key]
        raster = self._render(number, hide)
        if self._cached_bytes + len(raster.pixels) <= self._cache_limit:
            self._rasters[key] = raster
            self._cached_bytes += len(raster.pixels)
        return raster

    def _render(self, number: int, hide: Sequence[int]) -> _Raster:
        raw = self._pdfium.raw
        page = self._doc[number]
        width_pt, height_pt = page.get_size()
        if not (math.isfinite(width_pt) and math.isfinite(height_pt) and width_pt > 0 and height_pt > 0):
            raise ValueError("page has no usable size")
        scale = RENDER_DPI / 72
        if width_pt * height_pt * scale * scale > MAX_PAGE_PIXELS:
            scale = math.sqrt(MAX_PAGE_PIXELS / (width_pt * height_pt))
        restore: list[tuple[int, int]] = []
        try:
            for index in hide:
                handle = raw.FPDFPage_GetAnnot(page, index)
                if handle:
                    flags = raw.FPDFAnnot_GetFlags(handle)
                    raw.FPDFAnnot_SetFlags(handle, flags | _HIDDEN)
                    restore.append((index, flags))
                    raw.FPDFPage_CloseAnnot(handle)
            bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True, draw_annots=True)
        finally:
            for index, flags in restore:
                handle = raw.FPDFPage_GetAnnot(page, index)
                if handle:
                    raw.FPDFAnnot_SetFlags(handle, flags)
                    raw.FPDFPage_CloseAnnot(handle)
        width, height, stride = bitmap.width, bitmap.height, bitmap.stride
        pixels = bytes(memoryview(bitmap.buffer).cast("B"))
        bitmap.close()

        def to_device(rect: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
            xs, ys = [], []
            for px, py in ((rect[0], rect[1]), (rect[2], rect[3])):
                dx, dy = ctypes.c_int(), ctypes.c_int()
                raw.FPDF_PageToDevice(page, 0, 0, width, height, 0, px, py, dx, dy)
                xs.append(dx.value)
                ys.append(dy.value)
            # one pixel of margin: anti-aliasing bleeds past a widget's edge
            return min(xs) - 1, min(ys) - 1, max(xs) + 2, max(ys) + 2

        def to_page(box: tuple[int, int, int, int]) -> list[float]:
            xs, ys = [], []
            for dx, dy in ((box[0], box[1]), (box[2], box[3])):
                px, py = ctypes.c_double(), ctypes.c_double()
                raw.FPDF_DeviceToPage(page, 0, 0, width, height, 0, dx, dy, px, py)
                xs.append(px.value)
                ys.append(py.value)
            return [round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1)]

        return _Raster(width, height, stride, pixels, (0.0, 0.0, width_pt, height_pt), to_device, to_page)

    def flatten(self, number: int) -> None:
        """Merge the page's annotation appearances into its content (normal display), as drawn."""
        page = self._doc[number]
        page.flatten()
        page.close()

    def text_in(self, number: int, rect: tuple[float, float, float, float] | None) -> str:
        """The page's text inside ``rect`` (``None``: all of it)."""
        page = self._doc[number]
        textpage = page.get_textpage()
        if rect is None:
            try:
                whole: str = textpage.get_text_range()
            finally:
                textpage.close()
            return whole
        # appearances often set text on the box's bottom edge: take in what hangs over it
        x0, y0, x1, y1 = rect
        margin = max(4.0, (y1 - y0) / 2)
        try:
            text: str = textpage.get_text_bounded(
                left=x0 - 2, bottom=y0 - margin, right=x1 + 2, top=y1 + margin
            )
        finally:
            textpage.close()
        return text


def _utf16(call: Any) -> str:
    """Read a PDFium UTF-16LE string through ``call(buffer, length)`` (``None``/0 asks the size)."""
    size = int(call(None, 0))
    if size <= 2:
        return ""
    size = min(size, 1 << 20)
    buffer = ctypes.create_string_buffer(size)
    call(ctypes.cast(buffer, ctypes.POINTER(ctypes.c_ushort)), size)
    return buffer.raw[: size - 2].decode("utf-16-le", "replace")

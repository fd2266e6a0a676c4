"""The sandboxed child that touches untrusted PDF bytes.

``python -m econtract.documents.pdfprobe [--max-pages N] [--render PAGE WIDTH]`` reads a PDF on stdin,
caps its own address space, CPU time and file writes, and prints one JSON object on stdout:
``{"ok": true, ...}`` or ``{"ok": false, "code": ..., "detail": ...}``. If the PDF still manages to
exhaust a limit, the kernel kills this process instead of the web server.

Started by :mod:`econtract.documents.sandbox`; it must not import Django (nor anything that reads
settings or secrets), and it only imports pyHanko / pypdfium2 after the limits are in place.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import math
import resource
import struct
import sys
import zlib
from collections.abc import Callable
from decimal import Decimal
from io import BytesIO
from typing import TYPE_CHECKING, Any, TypeVar

from econtract.documents.activecontent import find_active_content
from econtract.documents.errors import (
    CORRUPT,
    DECOMPRESSION_BOMB,
    ENCRYPTED,
    INVALID_PAGE,
    NOT_PDF,
    PAGE_TREE_LOOP,
    RESOURCE_LIMIT,
    TOO_MANY_PAGES,
    UnsafePdf,
)
from econtract.documents.streamfilters import DecodeBudget, DecodeLimitExceeded, measure_stream

if TYPE_CHECKING:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.reader import PdfFileReader

T = TypeVar("T")
MiB = 1024 * 1024
DEFAULT_MEMORY_BYTES = 768 * MiB
DEFAULT_CPU_SECONDS = 12
DEFAULT_MAX_PAGES = 2000
# ISO 32000-1 Annex C: 14,400 units is the largest page side (200 inches).
MAX_PAGE_SIDE = 14400.0
MAX_COORDINATE = 1_000_000.0
MAX_TREE_DEPTH = 64
MAX_OBJECTS = 500_000
MAX_RENDER_WIDTH = 2000
DEFAULT_MAX_PIXELS = 12_000_000


def apply_limits(memory_bytes: int, cpu_seconds: int) -> None:
    """Cap this process: address space, CPU seconds, no core dumps (they would hold the PDF).

    RLIMIT_FSIZE only keeps a misbehaving child from filling the disk; stdout is a pipe normally, but
    a person running the probe by hand may redirect it to a file.
    """
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * MiB, 64 * MiB))


# --- inspection ------------------------------------------------------------------------------------


def probe(data: bytes, max_pages: int = DEFAULT_MAX_PAGES) -> dict[str, Any]:
    """Parse, walk the page tree and measure every stream; raise UnsafePdf on anything hostile."""
    reader = _guarded(lambda: _open(data), "reading the cross-reference table")
    if _guarded(lambda: reader.encrypt_dict is not None, "reading the encryption dictionary"):
        raise UnsafePdf(ENCRYPTED, "the PDF is encrypted or password-protected; remove the protection first")
    boxes, rotations = _guarded(lambda: _walk_pages(reader, max_pages), "reading the page tree")
    if not boxes:
        raise UnsafePdf(CORRUPT, "the PDF has no pages")
    budget = DecodeBudget.for_document(len(data))
    streams, damaged = _guarded(lambda: _measure_streams(reader, budget), "reading objects")
    found = _guarded(lambda: find_active_content(reader, budget), "looking for active content")
    return {
        "ok": True,
        "page_count": len(boxes),
        "page_boxes": boxes,
        "page_rotations": rotations,
        "streams": streams,
        "damaged_streams": damaged,
        "decoded_bytes": budget.used,
        "active_content": found.active,
        "embedded_files": found.embedded_files,
    }


def _open(data: bytes) -> PdfFileReader:
    from pyhanko.pdf_utils.decode_limits import DecodeLimits, DocumentDecodeBudget, StreamDecodeLimits
    from pyhanko.pdf_utils.reader import PdfFileReader

    if not data.startswith(b"%PDF-"):
        prefix = data.find(b"%PDF-", 0, 1024)
        if prefix < 0:
            raise UnsafePdf(NOT_PDF, "the file does not start with a %PDF- header")
        raise UnsafePdf(CORRUPT, f"{prefix} bytes precede the %PDF- header; save the file again as a PDF")
    # pyHanko decodes object and xref streams itself while parsing: hold it to the same caps.
    limits = DecodeLimits(
        per_stream=StreamDecodeLimits(max_ratio=1100, max_output_size=64 * MiB),
        document_budget=DocumentDecodeBudget(base_allowance=256 * MiB, max_ratio=32),
    )
    return PdfFileReader(BytesIO(data), strict=False, decode_limits=limits)


def _guarded(step: Callable[[], T], doing: str) -> T:
    """Run one step, translating library exceptions into UnsafePdf codes."""
    from pyhanko.pdf_utils.misc import PdfDecodeLimitError

    try:
        return step()
    except (UnsafePdf, MemoryError):
        raise
    except (DecodeLimitExceeded, PdfDecodeLimitError) as exc:
        raise UnsafePdf(DECOMPRESSION_BOMB, f"{exc} ({doing})") from None
    except RecursionError:
        raise UnsafePdf(CORRUPT, f"objects are nested or chained too deeply ({doing})") from None
    except Exception as exc:  # a hostile file can trip any parser branch: all of them mean "corrupt"
        message = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise UnsafePdf(CORRUPT, f"unreadable PDF ({doing}): {message}") from None


def _walk_pages(reader: PdfFileReader, max_pages: int) -> tuple[list[list[float]], list[int]]:
    """Walk the page tree ourselves: every node at most once, bounded depth and size, checked counts."""
    from pyhanko.pdf_utils import generic

    root = reader.root
    if "/Pages" not in root:
        raise UnsafePdf(CORRUPT, "the document catalog has no page tree")
    boxes: list[list[float]] = []
    rotations: list[int] = []
    visited: set[tuple[int, int]] = set()
    max_nodes = 4 * max_pages + 64
    nodes = 0
    # Entries: ("enter", raw node, inherited MediaBox, inherited Rotate, depth)
    #      or ("leave", declared /Count, pages found before the node, label).
    stack: list[tuple[Any, ...]] = [("enter", root.raw_get("/Pages"), None, None, 0)]
    while stack:
        item = stack.pop()
        if item[0] == "leave":
            _, declared, before, label = item
            found = len(boxes) - before
            if declared is not None and declared != found:
                raise UnsafePdf(
                    CORRUPT, f"page tree node {label} declares /Count {declared} but has {found} pages"
                )
            continue
        _, raw, inherited_box, inherited_rotate, depth = item
        label = "(direct)"
        if isinstance(raw, generic.IndirectObject):
            key = (raw.idnum, raw.generation)
            label = f"{raw.idnum} {raw.generation} R"
            if key in visited:
                raise UnsafePdf(
                    PAGE_TREE_LOOP, f"page tree node {label} is reached twice (a loop or a shared node)"
                )
            visited.add(key)
        node = raw.get_object()
        if not isinstance(node, generic.DictionaryObject):
            raise UnsafePdf(CORRUPT, f"page tree node {label} is not a dictionary")
        nodes += 1
        if nodes > max_nodes:
            raise UnsafePdf(TOO_MANY_PAGES, f"the page tree has more than {max_nodes} nodes")
        if depth > MAX_TREE_DEPTH:
            raise UnsafePdf(TOO_MANY_PAGES, f"the page tree is nested deeper than {MAX_TREE_DEPTH} levels")
        box = node.raw_get("/MediaBox") if "/MediaBox" in node else inherited_box
        rotate = node.raw_get("/Rotate") if "/Rotate" in node else inherited_rotate
        if "/Kids" in node or node.get("/Type") == "/Pages":
            kids = node["/Kids"] if "/Kids" in node else None
            if not isinstance(kids, generic.ArrayObject):
                raise UnsafePdf(CORRUPT, f"page tree node {label} has no /Kids array")
            count = node.get_and_apply("/Count", lambda value: value)
            declared = count if isinstance(count, int) and not isinstance(count, bool) else None
            stack.append(("leave", declared, len(boxes), label))
            for index in reversed(range(len(kids))):
                stack.append(("enter", kids.raw_get(index), box, rotate, depth + 1))
            continue
        if len(boxes) >= max_pages:
            raise UnsafePdf(TOO_MANY_PAGES, f"the PDF has more than {max_pages} pages")
        page_number = len(boxes) + 1
        boxes.append(_media_box(box, page_number))
        rotations.append(_rotation(rotate, page_number))
    return boxes, rotations


def _media_box(raw: generic.PdfObject | None, page_number: int) -> list[float]:
    from pyhanko.pdf_utils import generic

    if raw is None:
        raise UnsafePdf(INVALID_PAGE, f"page {page_number} has no MediaBox")
    box = raw.get_object()
    if not isinstance(box, generic.ArrayObject) or len(box) != 4:
        raise UnsafePdf(INVALID_PAGE, f"page {page_number} has a MediaBox that is not four numbers")
    values: list[float] = []
    for index in range(4):
        value = box[index]
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise UnsafePdf(INVALID_PAGE, f"page {page_number} has a MediaBox that is not four numbers")
        try:
            number = float(value)
        except OverflowError:  # an integer with hundreds of digits
            number = math.inf
        if not math.isfinite(number) or abs(number) > MAX_COORDINATE:
            raise UnsafePdf(INVALID_PAGE, f"page {page_number} has MediaBox coordinates out of range")
        values.append(number)
    llx, urx = sorted((values[0], values[2]))
    lly, ury = sorted((values[1], values[3]))
    width, height = urx - llx, ury - lly
    if not (0 < width <= MAX_PAGE_SIDE and 0 < height <= MAX_PAGE_SIDE):
        raise UnsafePdf(
            INVALID_PAGE,
            f"page {page_number} measures {width:g} x {height:g} pt "
            f"(each side must be over 0 and at most {MAX_PAGE_SIDE:g})",
        )
    return [llx, lly, urx, ury]


def _rotation(raw: generic.PdfObject | None, page_number: int) -> int:
    if raw is None:
        return 0
    value = raw.get_object()
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value % 90 != 0:
        raise UnsafePdf(INVALID_PAGE, f"page {page_number} has a /Rotate that is not a multiple of 90")
    return int(value) % 360


def _measure_streams(reader: PdfFileReader, budget: DecodeBudget) -> tuple[int, int]:
    """Measure every stream object of every revision, without pyHanko decoding any of them."""
    from pyhanko.pdf_utils import generic

    xrefs = reader.xrefs
    seen: set[tuple[int, int, Any]] = set()
    streams = damaged = 0
    for revision in range(xrefs.total_revisions):
        refs = sorted(xrefs.explicit_refs_in_revision(revision), key=lambda r: (r.idnum, r.generation))
        for ref in refs:
            marker = xrefs.get_historical_ref(ref, revision)
            if marker is None:
                continue
            key = (ref.idnum, ref.generation, marker)
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > MAX_OBJECTS:
                raise UnsafePdf(RESOURCE_LIMIT, f"the PDF has more than {MAX_OBJECTS} objects")
            obj = reader.get_object(ref, revision=revision)
            if not isinstance(obj, generic.StreamObject):
                continue
            label = f"stream {ref.idnum} {ref.generation} R"
            if not isinstance(marker, int):
                raise UnsafePdf(CORRUPT, f"{label} sits inside an object stream, which PDF forbids")
            streams += 1
            # encoded_data, never .data: pyHanko would decode the whole stream before we bound it.
            measurement = measure_stream(obj.encoded_data, _filters(obj), budget, label)
            damaged += measurement.damaged
    return streams, damaged


def _filters(stream: generic.StreamObject) -> list[tuple[str, Any]]:
    from pyhanko.pdf_utils import generic

    names = stream.get_and_apply("/Filter", lambda value: value)
    if names is None:
        return []
    if isinstance(names, generic.NameObject):
        names = [names]
    elif isinstance(names, generic.ArrayObject):
        names = [names[index] for index in range(len(names))]
    else:
        return [("(not a name)", None)]
    params = stream.get_and_apply("/DecodeParms", lambda value: value)
    if not isinstance(params, generic.ArrayObject):
        params = [params] * len(names) if len(names) == 1 else [None] * len(names)
    else:
        params = [params[index] for index in range(len(params))]
    chain: list[tuple[str, Any]] = []
    for index, name in enumerate(names):
        param = params[index] if index < len(params) else None
        chain.append(
            (
                str(name) if isinstance(name, generic.NameObject) else "(not a name)",
                param if isinstance(param, generic.DictionaryObject) else None,
            )
        )
    return chain


# --- rendering -------------------------------------------------------------------------------------


def render(
    data: bytes, page_number: int, width_px: int, max_pixels: int = DEFAULT_MAX_PIXELS
) -> dict[str, Any]:
    """Render one page (1-based) with PDFium to an RGB PNG ``width_px`` wide (less for extreme shapes)."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise UnsafePdf(CORRUPT, f"PDFium cannot open the PDF: {exc}") from None
    try:
        # Signature appearances are widget annotations: PDFium draws them only with a form
        # environment, which must exist before the page is loaded.
        document.init_forms()
        page_count = len(document)
        if not 1 <= page_number <= page_count:
            raise UnsafePdf(
                INVALID_PAGE, f"page {page_number} does not exist (the document has {page_count} pages)"
            )
        page = document[page_number - 1]
        width_pt, height_pt = page.get_size()
        if not (math.isfinite(width_pt) and math.isfinite(height_pt) and width_pt > 0 and height_pt > 0):
            raise UnsafePdf(INVALID_PAGE, f"page {page_number} has no usable size")
        width_px = max(1, min(width_px, MAX_RENDER_WIDTH))
        if width_px * (width_px * height_pt / width_pt) > max_pixels:
            # A long strip of a page: keep the pixel count bounded rather than the width.
            width_px = max(1, math.floor(math.sqrt(max_pixels * width_pt / height_pt)))
        scale = width_px / width_pt
        while math.ceil(width_pt * scale) > width_px:  # pypdfium2 rounds the canvas up
            scale = math.nextafter(scale, 0.0)
        bitmap = page.render(scale=scale, rev_byteorder=True, may_draw_forms=True, draw_annots=True)
        if bitmap.n_channels != 3:
            raise UnsafePdf(CORRUPT, f"unexpected bitmap format {bitmap.mode}")
        png = encode_png(bitmap.width, bitmap.height, bitmap.stride, memoryview(bitmap.buffer))
        return {
            "ok": True,
            "width": bitmap.width,
            "height": bitmap.height,
            "png": base64.b64encode(png).decode(),
        }
    finally:
        document.close()


def encode_png(width: int, height: int, stride: int, rgb: memoryview) -> bytes:
    """A minimal RGB PNG (no Pillow needed): filter 0 per row, one IDAT."""
    row_bytes = width * 3
    flat = rgb.cast("B")
    raw = b"".join(b"\x00" + flat[y * stride : y * stride + row_bytes].tobytes() for y in range(height))

    def chunk(tag: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


# --- entry point -----------------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m econtract.documents.pdfprobe")
    parser.add_argument("--max-pages", type=int, default=DEFAULT_MAX_PAGES)
    parser.add_argument("--memory-bytes", type=int, default=DEFAULT_MEMORY_BYTES)
    parser.add_argument("--cpu-seconds", type=int, default=DEFAULT_CPU_SECONDS)
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS)
    parser.add_argument("--render", nargs=2, type=int, metavar=("PAGE", "WIDTH"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    apply_limits(args.memory_bytes, args.cpu_seconds)
    # pyHanko logs a warning per oddity; a hostile file could fill the parent's stderr pipe.
    logging.disable(logging.CRITICAL)
    result: dict[str, Any]
    try:
        data = sys.stdin.buffer.read()
        if args.render:
            result = render(data, args.render[0], args.render[1], args.max_pixels)
        else:
            result = probe(data, args.max_pages)
    except UnsafePdf as exc:
        result = {"ok": False, "code": exc.code, "detail": exc.detail}
    except MemoryError:
        result = {"ok": False, "code": RESOURCE_LIMIT, "detail": "the PDF needs more memory than allowed"}
    except RecursionError:
        result = {"ok": False, "code": CORRUPT, "detail": "objects are nested or chained too deeply"}
    sys.stdout.buffer.write(json.dumps(result).encode("ascii"))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Page previews: PDFium renders one page to PNG inside the same sandboxed child as the inspection."""

from __future__ import annotations

import base64
import binascii

from econtract.documents.errors import CORRUPT, INVALID_PAGE, UnsafePdf
from econtract.documents.pdfprobe import DEFAULT_MAX_PIXELS, MAX_RENDER_WIDTH
from econtract.documents.sandbox import run_probe

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def render_page_png(data: bytes, page_number: int, width_px: int = 900) -> bytes:
    """Render page ``page_number`` (1-based) of an already inspected PDF as a PNG.

    The PNG is ``width_px`` wide, clamped to 1..2000; for pages so narrow and tall that this would
    exceed ~12 megapixels the width is reduced instead. There is no upload-size check here: the
    caller inspected the original, and a signed revision legitimately grows past the upload limit.

    :raises UnsafePdf: ``invalid_page`` for a page outside the document, or a sandbox failure code.
    """
    if page_number < 1:
        raise UnsafePdf(INVALID_PAGE, f"page {page_number} does not exist (pages are numbered from 1)")
    width_px = max(1, min(int(width_px), MAX_RENDER_WIDTH))
    result = run_probe(
        bytes(data),
        ["--render", str(page_number), str(width_px), "--max-pixels", str(DEFAULT_MAX_PIXELS)],
    )
    try:
        png = base64.b64decode(result["png"], validate=True)
    except (KeyError, TypeError, binascii.Error):
        raise UnsafePdf(CORRUPT, "the page renderer returned no image") from None
    if not png.startswith(PNG_SIGNATURE):
        raise UnsafePdf(CORRUPT, "the page renderer returned no image")
    return png

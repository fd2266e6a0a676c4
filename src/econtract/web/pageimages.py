"""Page images for the editor and the signing page, rendered once per revision and kept in storage."""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile

from econtract.documents.pages import render_page_png
from econtract.signing.models import DocumentRevision

logger = logging.getLogger("econtract.web")

# 900 px covers a phone at 2x density and a laptop column without visible blur.
PAGE_WIDTH_PX = 900


# Bumped when the renderer draws differently, so pictures cached by an older one are not served.
# 2: form fields and annotations (signature appearances) are drawn.
RENDER_GENERATION = 2


def page_image_name(revision: DocumentRevision, page: int, width_px: int = PAGE_WIDTH_PX) -> str:
    """Next to the revision's PDF; revisions never change, so neither does the picture."""
    stem = revision.file.name.removesuffix(".pdf")
    return f"{stem}-p{page:04d}-w{width_px}-g{RENDER_GENERATION}.png"


def page_png(revision: DocumentRevision, page: int, width_px: int = PAGE_WIDTH_PX) -> bytes:
    storage = revision.file.storage
    name = page_image_name(revision, page, width_px)
    if storage.exists(name):
        with storage.open(name, "rb") as handle:
            return handle.read()
    png = render_page_png(revision.read_bytes(), page, width_px)
    try:
        if not storage.exists(name):
            storage.save(name, ContentFile(png))
    except OSError:  # a full or read-only disk costs a re-render next time, not the page
        logger.warning("could not cache page image %s", name, exc_info=True)
    return png

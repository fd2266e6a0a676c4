"""Page images of a document version, for the preview page.

A version never changes and its rendering is reproducible (documents.rendering), so the PDF is laid
out once per version and kept in storage next to its page pictures; the preview page then costs one
WeasyPrint run per version, not one per picture.
"""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from econtract.documents import authoring
from econtract.documents.models import Document
from econtract.documents.pages import render_page_png

logger = logging.getLogger("econtract.documents")

PREVIEW_WIDTH_PX = 900
MAX_PREVIEW_PAGES = 200


def _name(document: Document, number: int, suffix: str) -> str:
    return f"documents/previews/{document.pk}/v{number:05d}{suffix}"


def _cached(name: str) -> bytes | None:
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as handle:
            data: bytes = handle.read()
        return data
    return None


def _keep(name: str, data: bytes) -> None:
    try:
        if not default_storage.exists(name):
            default_storage.save(name, ContentFile(data))
    except OSError:  # a full disk costs a re-render next time, not the page
        logger.warning("could not cache %s", name, exc_info=True)


def preview_pdf(document: Document, user: object, number: int) -> bytes:
    """The version's PDF (rights checked by ``authoring.render_version`` on a miss, here on a hit)."""
    authoring.require_right(user, document, "view")
    name = _name(document, number, ".pdf")
    cached = _cached(name)
    if cached is not None:
        return cached
    rendered = authoring.render_version(document, None, number)  # her right is checked above
    _keep(name, rendered.pdf)
    return bytes(rendered.pdf)


def page_count(pdf: bytes) -> int:
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        return min(len(document), MAX_PREVIEW_PAGES)
    finally:
        document.close()


def preview_page_png(document: Document, user: object, number: int, page: int) -> bytes:
    """Page ``page`` (from 1) of the version, as PNG; IndexError when there is no such page."""
    name = _name(document, number, f"-p{page:04d}-w{PREVIEW_WIDTH_PX}.png")
    authoring.require_right(user, document, "view")
    cached = _cached(name)  # a picture is kept only for a page that exists: no PDF to open
    if cached is not None:
        return cached
    pdf = preview_pdf(document, user, number)
    if not 1 <= page <= page_count(pdf):
        raise IndexError(page)
    png = render_page_png(pdf, page, PREVIEW_WIDTH_PX)
    _keep(name, png)
    return png

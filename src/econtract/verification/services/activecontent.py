"""Warnings about what a signed file may do or hide besides its pages.

The same bounded walk as the upload check (:mod:`econtract.documents.activecontent`), run on the
reader verification already holds. A signature over a file that runs scripts stays cryptographically
valid, but what a viewer shows may not be what was signed: the report says so, it does not fail.
"""

from __future__ import annotations

import logging
from io import BytesIO

from pyhanko.pdf_utils.reader import PdfFileReader

from econtract.documents.activecontent import ActiveContent, find_active_content
from econtract.documents.errors import UnsafePdf

logger = logging.getLogger(__name__)


def active_content_warnings(reader: PdfFileReader, data: bytes) -> list[str]:
    """One warning per piece of active content and per embedded file of the current revision."""
    try:
        found = _walk(reader, data)
    except UnsafePdf as exc:
        return [f"active content could not be checked: {exc.detail}"]
    except Exception as exc:  # hostile structure: say we could not look, never pass silently
        logger.debug("active-content walk failed", exc_info=True)
        return [f"active content could not be checked: {type(exc).__name__}"]
    warnings = [f"active content: {item}" for item in found.active]
    warnings += [f"{item}: signed with the document but shown on no page" for item in found.embedded_files]
    return warnings


def _walk(reader: PdfFileReader, data: bytes) -> ActiveContent:
    try:
        return find_active_content(reader)
    except UnsafePdf:
        raise
    except Exception:
        if not reader.strict:
            raise
    # The strict reader stopped at a damaged object that viewers read anyway: look as they do.
    return find_active_content(PdfFileReader(BytesIO(data), strict=False))

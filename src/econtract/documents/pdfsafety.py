"""Admission check for uploaded PDFs: ``inspect_pdf`` before anything else touches the bytes.

Cheap checks (size, header) run here; parsing runs in a sandboxed child (see :mod:`.sandbox` and
:mod:`.pdfprobe`), because a 1 KB file can decode to gigabytes or send a parser round a loop.
Bad input ends in :class:`~econtract.documents.errors.UnsafePdf` within seconds and changes nothing.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from econtract.documents.errors import ACTIVE_CONTENT, CORRUPT, NOT_PDF, TOO_LARGE, UnsafePdf
from econtract.documents.sandbox import run_probe

MiB = 1024 * 1024
DEFAULT_MAX_UPLOAD_BYTES = 25 * MiB
DEFAULT_MAX_PAGES = 2000
HEADER_WINDOW = 1024
# How many findings a refusal names; the rest are counted.
NAMED_FINDINGS = 5
MAX_FINDING_CHARS = 200


@dataclass(frozen=True)
class PdfInspection:
    """What the sandboxed probe found in an admissible PDF."""

    sha256: str
    page_count: int
    # Width and height of each page's MediaBox in PDF points, ignoring /Rotate.
    page_sizes: list[tuple[float, float]]
    # Each MediaBox normalised to (llx, lly, urx, ury) with llx < urx and lly < ury.
    page_boxes: list[tuple[float, float, float, float]]
    # /Rotate of each page (0, 90, 180 or 270): a viewer shows rotated pages with width and height swapped.
    page_rotations: list[int] = field(default_factory=list)
    streams_checked: int = 0
    # Streams whose compressed data is broken; viewers show what they can decode, so they are admitted.
    damaged_streams: int = 0
    decoded_bytes: int = 0
    # What would run, submit, launch or play in a viewer, and where (see documents.activecontent).
    active_content: list[str] = field(default_factory=list)
    # Embedded files that are not executables: signed with the document, yet shown on no page.
    embedded_files: list[str] = field(default_factory=list)


def max_upload_bytes() -> int:
    return int(getattr(settings, "ECONTRACT_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


def max_pdf_pages() -> int:
    return int(getattr(settings, "ECONTRACT_MAX_PDF_PAGES", DEFAULT_MAX_PAGES))


def check_upload_size(size: int, max_bytes: int | None = None) -> None:
    """Refuse a file of ``size`` bytes when it is over the limit (before reading or parsing it)."""
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    if size > limit:
        raise UnsafePdf(TOO_LARGE, f"the file is {_megabytes(size)}; the limit is {_megabytes(limit)}")


def inspect_pdf(
    data: bytes,
    *,
    max_bytes: int | None = None,
    max_pages: int | None = None,
    allow_active_content: bool = False,
) -> PdfInspection:
    """Check an untrusted PDF and describe it.

    :param max_bytes: size limit; defaults to ``settings.ECONTRACT_MAX_UPLOAD_BYTES`` (25 MiB).
    :param max_pages: page limit; defaults to ``settings.ECONTRACT_MAX_PDF_PAGES`` (2000).
    :param allow_active_content: describe active content in ``active_content`` instead of refusing
        the file (verification judges files it did not accept for signing).
    :raises UnsafePdf: with a code from ``errors.UNSAFE_PDF_CODES``; ``active_content`` when the PDF
        carries scripts, launch or form-submission actions, media or executables.
    """
    data = bytes(data)
    check_upload_size(len(data), max_bytes)
    if not data:
        raise UnsafePdf(NOT_PDF, "the file is empty")
    if data.find(b"%PDF-", 0, HEADER_WINDOW) < 0:
        raise UnsafePdf(
            NOT_PDF, f"the file is not a PDF (no %PDF- header in its first {HEADER_WINDOW} bytes)"
        )
    pages = max_pdf_pages() if max_pages is None else max_pages
    result = run_probe(data, ["--max-pages", str(pages)])
    inspection = _inspection(hashlib.sha256(data).hexdigest(), result)
    if inspection.active_content and not allow_active_content:
        raise UnsafePdf(ACTIVE_CONTENT, refusal_detail(inspection.active_content))
    return inspection


def refusal_detail(findings: list[str]) -> str:
    """Why an upload with active content is refused, naming what was found and where."""
    named = "; ".join(findings[:NAMED_FINDINGS])
    more = len(findings) - NAMED_FINDINGS
    if more > 0:
        named += f"; and {more} more"
    return (
        f"the PDF carries active content ({named}). What is signed must be what is shown: "
        "remove scripts, actions and embedded programs (for example, print it to a new PDF) and upload again"
    )


def inspect_pdf_file(
    path: str | os.PathLike[str],
    *,
    max_bytes: int | None = None,
    max_pages: int | None = None,
    allow_active_content: bool = False,
) -> PdfInspection:
    """:func:`inspect_pdf` for a file on disk; an oversized file is refused without being read."""
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    check_upload_size(os.stat(path).st_size, limit)
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)  # the file may have grown since stat()
    return inspect_pdf(data, max_bytes=limit, max_pages=max_pages, allow_active_content=allow_active_content)


def _inspection(sha256: str, result: dict[str, Any]) -> PdfInspection:
    # The child parsed hostile input: trust the shape of its answer only after checking it.
    try:
        boxes = [tuple(float(value) for value in box) for box in result["page_boxes"]]
        rotations = [int(value) for value in result["page_rotations"]]
        page_count = int(result["page_count"])
        if page_count != len(boxes) or len(rotations) != len(boxes) or any(len(box) != 4 for box in boxes):
            raise ValueError("inconsistent page data")
        inspection = PdfInspection(
            sha256=sha256,
            page_count=page_count,
            page_sizes=[(box[2] - box[0], box[3] - box[1]) for box in boxes],
            page_boxes=[(box[0], box[1], box[2], box[3]) for box in boxes],
            page_rotations=rotations,
            streams_checked=int(result["streams"]),
            damaged_streams=int(result["damaged_streams"]),
            decoded_bytes=int(result["decoded_bytes"]),
            active_content=_findings(result["active_content"]),
            embedded_files=_findings(result["embedded_files"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UnsafePdf(CORRUPT, f"the PDF checker returned an unexpected answer ({exc})") from None
    return inspection


def _findings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("findings are not a list of strings")
    return [item[:MAX_FINDING_CHARS] for item in value]


def _megabytes(size: int) -> str:
    return f"{size / MiB:.1f} MiB"

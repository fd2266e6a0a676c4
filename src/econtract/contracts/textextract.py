"""Text of a contract's files for the archive search: PDFs through a sandboxed child, plain text here.

A PDF's text layer is read by PDFium in :mod:`econtract.contracts.extractchild`, which caps its own
memory and CPU time; pages without text (scans) are rendered there and read by tesseract
(``chi_sim+eng``). Here the parent adds a wall-clock timeout and kills the child's whole session
when it passes, tesseract included. Whatever the file does, the worst outcome for the caller is an
:class:`Extraction` with status ``failed`` and empty text after at most the timeout; when tesseract
or its Chinese data is missing, the text layer is still extracted and the status says so.

Settings (all optional): ``ECONTRACT_TEXT_TIMEOUT_SECONDS`` (120), ``ECONTRACT_TEXT_MEMORY_BYTES``
(1 GiB), ``ECONTRACT_TEXT_MAX_CHARS`` per file (1,000,000), ``ECONTRACT_OCR_MAX_PAGES`` per file
(20; 0 turns OCR off), ``ECONTRACT_OCR_COMMAND`` ("tesseract"), ``ECONTRACT_OCR_LANGUAGES``
("chi_sim+eng").
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import econtract
from econtract.contracts import extractchild

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 120.0
DEFAULT_MEMORY_BYTES = 1024 * MiB
DEFAULT_MAX_CHARS = 1_000_000
DEFAULT_OCR_MAX_PAGES = 20
PDF_HEADER_WINDOW = 1024
MAX_DETAIL_CHARS = 300
# The child sees only these variables: no secrets, no DJANGO_SETTINGS_MODULE.
_PASSED_ENVIRONMENT = (
    "PATH",
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "TESSDATA_PREFIX",
)

OK = "ok"
OCR_UNAVAILABLE = "ocr_unavailable"
FAILED = "failed"
UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Extraction:
    """The text of one file and how it was obtained."""

    status: str  # OK, OCR_UNAVAILABLE (text layer only), FAILED or UNSUPPORTED
    text: str = ""
    pages: int = 0
    ocr_pages: int = 0  # pages read by OCR
    detail: str = ""  # why it failed, or what was left out


def _setting(name: str, default: float) -> float:
    try:
        from django.conf import settings

        return float(getattr(settings, name, default)) if settings.configured else default
    except (ImportError, TypeError, ValueError):
        return default


def _text_setting(name: str, default: str) -> str:
    from django.conf import settings

    return str(getattr(settings, name, default)) if settings.configured else default


def timeout_seconds() -> float:
    return _setting("ECONTRACT_TEXT_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)


def ocr_command() -> str:
    return _text_setting("ECONTRACT_OCR_COMMAND", "tesseract")


def ocr_languages() -> str:
    return _text_setting("ECONTRACT_OCR_LANGUAGES", "chi_sim+eng")


def ocr_available() -> bool:
    """Whether scanned pages can be read now: tesseract runs and has every language's data."""
    return int(_setting("ECONTRACT_OCR_MAX_PAGES", DEFAULT_OCR_MAX_PAGES)) > 0 and _ocr_available(
        ocr_command(), ocr_languages()
    )


@lru_cache(maxsize=8)
def _ocr_available(command: str, languages: str) -> bool:
    return extractchild.ocr_languages_available(command, languages)


def is_pdf(data: bytes) -> bool:
    return data.find(b"%PDF-", 0, PDF_HEADER_WINDOW) >= 0


def extract_text(data: bytes, content_type: str = "") -> Extraction:
    """The text of a file: a PDF (recognised by its header, whatever ``content_type`` says) or
    ``text/plain``; anything else is ``unsupported``. Never raises for what the file contains."""
    data = bytes(data)
    max_chars = int(_setting("ECONTRACT_TEXT_MAX_CHARS", DEFAULT_MAX_CHARS))
    if is_pdf(data):
        return extract_pdf_text(data, max_chars=max_chars)
    if content_type.split(";")[0].strip().lower() == "text/plain":
        return Extraction(OK, _decode(data)[:max_chars], pages=1)
    return Extraction(UNSUPPORTED, detail=f"no text is extracted from {content_type or 'this file'}")


def _decode(data: bytes) -> str:
    # Chinese plain text is often GB 18030 (GBK) rather than UTF-8
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")


def extract_pdf_text(data: bytes, *, max_chars: int = DEFAULT_MAX_CHARS) -> Extraction:
    """The text of an untrusted PDF, extracted (and OCR'd where a page has none) in the sandbox."""
    timeout = timeout_seconds()
    # CPU limit below the wall-clock limit, so a busy loop dies by SIGXCPU before we have to kill it;
    # the child stops starting OCR runs a little before the timeout and returns what it has.
    cpu_seconds = max(1, math.ceil(timeout * 0.8))
    command = [
        sys.executable,
        "-s",
        "-m",
        "econtract.contracts.extractchild",
        "--memory-bytes",
        str(int(_setting("ECONTRACT_TEXT_MEMORY_BYTES", DEFAULT_MEMORY_BYTES))),
        "--cpu-seconds",
        str(cpu_seconds),
        "--deadline-seconds",
        str(max(1.0, timeout * 0.85)),
        "--max-chars",
        str(max_chars),
        "--ocr-pages",
        str(int(_setting("ECONTRACT_OCR_MAX_PAGES", DEFAULT_OCR_MAX_PAGES))),
        "--tesseract",
        ocr_command(),
        "--languages",
        ocr_languages(),
    ]
    environment = {name: os.environ[name] for name in _PASSED_ENVIRONMENT if name in os.environ}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    # A session of its own: on timeout the whole group (the child and a running tesseract) is killed.
    process = subprocess.Popen(  # noqa: S603 - our own module, no shell
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(econtract.__file__).resolve().parent.parent,
        env=environment,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_session(process)
        process.communicate()
        return Extraction(FAILED, detail=f"extracting the text took longer than {timeout:g} s")
    finally:
        if process.poll() is None:
            _kill_session(process)
            process.wait()
    _kill_session(process)  # a tesseract left behind by a child that died
    return _extraction(process.returncode, stdout, stderr, cpu_seconds)


def _kill_session(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _extraction(returncode: int, stdout: bytes, stderr: bytes, cpu_seconds: int) -> Extraction:
    if returncode != 0 or not stdout:
        if returncode == -signal.SIGXCPU:
            return Extraction(
                FAILED, detail=f"extracting the text used more than {cpu_seconds} s of CPU time"
            )
        reason = (
            f"was stopped by signal {signal.Signals(-returncode).name}"
            if returncode < 0
            else f"exited with status {returncode}"
        )
        logger.warning("text extraction %s: %s", reason, stderr[-2000:].decode("utf-8", "replace"))
        return Extraction(FAILED, detail=f"the PDF could not be read within the resource limits ({reason})")
    # The child parsed hostile input: trust the shape of its answer only after checking it.
    try:
        result: Any = json.loads(stdout)
        if not isinstance(result, dict):
            raise ValueError("not an object")
        if result.get("ok") is not True:
            detail = str(result.get("detail") or "the PDF cannot be read")
            return Extraction(FAILED, detail=f"{result.get('code', 'corrupt')}: {detail}"[:MAX_DETAIL_CHARS])
        texts = result["texts"]
        if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
            raise ValueError("texts are not a list of strings")
        pages, ocr_pages, ocr = int(result["pages"]), int(result["ocr_pages"]), str(result["ocr"])
    except (KeyError, TypeError, ValueError) as exc:
        return Extraction(FAILED, detail=f"the text extractor returned no usable answer ({exc})")
    notes = []
    if result.get("truncated"):
        notes.append("only the first pages were read (size or time limit)")
    if ocr == "partial":
        notes.append("some pages without text were not read by OCR (page or time limit, or OCR failed)")
    if ocr == "unavailable":
        notes.append("pages without text were not read: OCR (tesseract with chi_sim) is unavailable")
    return Extraction(
        OCR_UNAVAILABLE if ocr == "unavailable" else OK,
        "\n".join(texts),
        pages=pages,
        ocr_pages=ocr_pages,
        detail="; ".join(notes)[:MAX_DETAIL_CHARS],
    )

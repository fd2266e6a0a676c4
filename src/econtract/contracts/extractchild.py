"""The sandboxed child that extracts the text of an untrusted PDF, with OCR of pages that have none.

``python -m econtract.contracts.extractchild [options]`` reads a PDF on stdin, caps its own address
space, CPU time and file writes (as :mod:`econtract.documents.pdfprobe` does), reads each page's text
layer with PDFium and, for pages without text, renders the page with PDFium and runs
``tesseract - - -l chi_sim+eng`` on the picture (tesseract inherits the limits, and each run has a
timeout). It prints one JSON object on stdout::

    {"ok": true, "pages": 3, "texts": ["...", "...", "..."], "ocr_pages": 1,
     "ocr": "not_needed" | "used" | "unavailable" | "partial", "truncated": false}
    {"ok": false, "code": "corrupt", "detail": "..."}

Started by :mod:`econtract.contracts.textextract` in a session of its own, so that the parent's
timeout kills tesseract with it. It must not import Django (nor anything that reads settings or
secrets), and it imports pypdfium2 only after the limits are in place.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import time
from typing import Any

from econtract.documents.errors import CORRUPT, ENCRYPTED, RESOURCE_LIMIT, TOO_MANY_PAGES
from econtract.documents.pdfprobe import apply_limits

MiB = 1024 * 1024
DEFAULT_MEMORY_BYTES = 1024 * MiB
DEFAULT_CPU_SECONDS = 60
DEFAULT_DEADLINE_SECONDS = 100.0
DEFAULT_MAX_PAGES = 2000
DEFAULT_MAX_CHARS = 1_000_000
DEFAULT_OCR_PAGES = 20
DEFAULT_OCR_DPI = 300
DEFAULT_OCR_PAGE_SECONDS = 60.0
MAX_OCR_PIXELS = 36_000_000  # A3 at 300 dpi is 17.4 megapixels; larger pages are rendered smaller
# A page showing a picture and fewer letters or digits than this in its text layer is taken for a scan.
MIN_TEXT_CHARS = 16
MAX_FORM_DEPTH = 4  # form XObjects searched for the picture of a scan
# The tesseract run sees only these variables (one OpenMP thread: the sandbox caps memory per process).
_TESSERACT_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "TESSDATA_PREFIX", "TMPDIR")


class ExtractionRefused(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def ocr_languages_available(command: str, languages: str, timeout: float = 10.0) -> bool:
    """Whether ``command`` runs and has every ``+``-separated language's trained data."""
    if shutil.which(command) is None:
        return False
    try:
        listed = subprocess.run(
            [command, "--list-langs"], capture_output=True, timeout=timeout, env=_tesseract_env(), check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    output = (listed.stdout + listed.stderr).decode("utf-8", "replace").split()
    return listed.returncode == 0 and all(language in output for language in languages.split("+"))


def extract(
    data: bytes,
    *,
    deadline: float,
    max_pages: int = DEFAULT_MAX_PAGES,
    max_chars: int = DEFAULT_MAX_CHARS,
    ocr_pages: int = DEFAULT_OCR_PAGES,
    ocr_dpi: int = DEFAULT_OCR_DPI,
    ocr_page_seconds: float = DEFAULT_OCR_PAGE_SECONDS,
    tesseract: str = "tesseract",
    languages: str = "chi_sim+eng",
) -> dict[str, Any]:
    """Text of each page; ``deadline`` is a ``time.monotonic()`` value after which OCR stops."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ExtractionRefused(ENCRYPTED, "the PDF is password-protected") from None
        raise ExtractionRefused(CORRUPT, f"PDFium cannot open the PDF: {exc}") from None
    try:
        page_count = len(document)
        if page_count > max_pages:
            raise ExtractionRefused(TOO_MANY_PAGES, f"the PDF has more than {max_pages} pages")
        texts: list[str] = []
        scanned: list[int] = []
        used = 0
        truncated = False
        for index in range(page_count):
            if used >= max_chars or time.monotonic() > deadline:
                truncated = True
                break
            text, has_image = _page_text(document, index)
            text = text[: max_chars - used]
            used += len(text)
            texts.append(text)
            if has_image and _visible_chars(text) < MIN_TEXT_CHARS:
                scanned.append(index)
        ocr = "not_needed"
        done = 0
        if scanned:
            if not ocr_pages or not ocr_languages_available(tesseract, languages):
                ocr = "unavailable"
            else:
                ocr = "used"
                for index in scanned[:ocr_pages]:
                    remaining = deadline - time.monotonic()
                    if remaining < 1 or used >= max_chars:
                        ocr = "partial"
                        break
                    recognised = _ocr_page(
                        document, index, ocr_dpi, tesseract, languages, min(ocr_page_seconds, remaining)
                    )
                    if recognised is None:
                        ocr = "partial"
                        continue
                    recognised = recognised[: max_chars - used]
                    used += len(recognised)
                    texts[index] = (texts[index] + "\n" + recognised).strip()
                    done += 1
                if len(scanned) > ocr_pages:
                    ocr = "partial"
        return {
            "ok": True,
            "pages": page_count,
            "texts": texts,
            "ocr_pages": done,
            "ocr": ocr,
            "truncated": truncated,
        }
    finally:
        document.close()


def _page_text(document: Any, index: int) -> tuple[str, bool]:
    """The page's text layer, and whether it shows a picture (a scan, if it has little text)."""
    import pypdfium2 as pdfium

    try:
        page = document[index]
    except pdfium.PdfiumError:  # one broken page does not cost the text of the others
        return "", False
    try:
        textpage = page.get_textpage()
        try:
            text = str(textpage.get_text_range())
        finally:
            textpage.close()
        images = page.get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_IMAGE], max_depth=MAX_FORM_DEPTH)
        return text, next(iter(images), None) is not None
    except pdfium.PdfiumError:
        return "", False
    finally:
        page.close()


def _visible_chars(text: str) -> int:
    return sum(1 for char in text if char.isalnum())


def _ocr_page(
    document: Any, index: int, dpi: int, tesseract: str, languages: str, timeout: float
) -> str | None:
    """Tesseract's reading of the page rendered in grey at ``dpi``; None when it failed or timed out."""
    import pypdfium2 as pdfium

    try:
        page = document[index]
    except pdfium.PdfiumError:
        return None
    try:
        width_pt, height_pt = page.get_size()
        if not (math.isfinite(width_pt) and math.isfinite(height_pt) and width_pt > 0 and height_pt > 0):
            return None
        scale = dpi / 72
        if width_pt * height_pt * scale * scale > MAX_OCR_PIXELS:
            scale = math.sqrt(MAX_OCR_PIXELS / (width_pt * height_pt))
        try:
            bitmap = page.render(scale=scale, grayscale=True)
        except pdfium.PdfiumError:
            return None
        try:
            width, height, stride = bitmap.width, bitmap.height, bitmap.stride
            pixels = memoryview(bitmap.buffer).cast("B")
            if stride == width:
                raster = bytes(pixels[: width * height])
            else:
                raster = b"".join(bytes(pixels[y * stride : y * stride + width]) for y in range(height))
        finally:
            bitmap.close()
    finally:
        page.close()
    # PGM: tesseract (leptonica) reads it from stdin without any image library of ours in between
    image = b"P5\n%d %d\n255\n" % (width, height) + raster
    effective_dpi = str(max(70, round(scale * 72)))
    try:
        completed = subprocess.run(
            [tesseract, "-", "-", "-l", languages, "--dpi", effective_dpi],
            input=image,
            capture_output=True,
            timeout=timeout,
            env=_tesseract_env(),
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if completed.returncode != 0:
        return None
    return completed.stdout.decode("utf-8", "replace")


def _tesseract_env() -> dict[str, str]:
    environment = {name: os.environ[name] for name in _TESSERACT_ENVIRONMENT if name in os.environ}
    environment["OMP_THREAD_LIMIT"] = "1"
    return environment


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m econtract.contracts.extractchild")
    parser.add_argument("--memory-bytes", type=int, default=DEFAULT_MEMORY_BYTES)
    parser.add_argument("--cpu-seconds", type=int, default=DEFAULT_CPU_SECONDS)
    parser.add_argument("--deadline-seconds", type=float, default=DEFAULT_DEADLINE_SECONDS)
    parser.add_argument("--max-pages", type=int, default=DEFAULT_MAX_PAGES)
    parser.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS)
    parser.add_argument("--ocr-pages", type=int, default=DEFAULT_OCR_PAGES)
    parser.add_argument("--ocr-dpi", type=int, default=DEFAULT_OCR_DPI)
    parser.add_argument("--ocr-page-seconds", type=float, default=DEFAULT_OCR_PAGE_SECONDS)
    parser.add_argument("--tesseract", default="tesseract")
    parser.add_argument("--languages", default="chi_sim+eng")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    args = _parse_args(argv)
    apply_limits(args.memory_bytes, args.cpu_seconds)
    logging.disable(logging.CRITICAL)
    result: dict[str, Any]
    try:
        data = sys.stdin.buffer.read()
        result = extract(
            data,
            deadline=started + args.deadline_seconds,
            max_pages=args.max_pages,
            max_chars=args.max_chars,
            ocr_pages=args.ocr_pages,
            ocr_dpi=args.ocr_dpi,
            ocr_page_seconds=args.ocr_page_seconds,
            tesseract=args.tesseract,
            languages=args.languages,
        )
    except ExtractionRefused as exc:
        result = {"ok": False, "code": exc.code, "detail": exc.detail}
    except MemoryError:
        result = {"ok": False, "code": RESOURCE_LIMIT, "detail": "the PDF needs more memory than allowed"}
    except RecursionError:
        result = {"ok": False, "code": CORRUPT, "detail": "objects are nested or chained too deeply"}
    except Exception as exc:  # a hostile file can trip any branch of PDFium's binding
        result = {"ok": False, "code": CORRUPT, "detail": f"unreadable PDF ({type(exc).__name__})"}
    # ASCII JSON: text from a broken text layer may hold lone surrogates, which UTF-8 cannot carry
    sys.stdout.buffer.write(json.dumps(result, ensure_ascii=True).encode("ascii"))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""inspect_pdf against hostile input: every refusal is an UnsafePdf with a stable code, quickly."""

from __future__ import annotations

import hashlib
import io
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pytest_django.fixtures import Settings

from econtract.documents import sandbox
from econtract.documents.errors import UnsafePdf
from econtract.documents.pdfsafety import inspect_pdf, inspect_pdf_file
from econtract.documents.tests import pdfbuild


def refusal(data: bytes, **kwargs: int) -> UnsafePdf:
    with pytest.raises(UnsafePdf) as caught:
        inspect_pdf(data, **kwargs)
    return caught.value


def encrypted_pdf(user_password: str) -> bytes:
    writer = PdfFileWriter()
    writer.encrypt("owner-secret", user_password)
    content = writer.add_object(generic.StreamObject(stream_data=b"72 72 144 144 re f"))
    writer.insert_page(PageObject(content, (0, 0, 595, 842)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_real_contract_is_described(contract_pdf: bytes) -> None:
    inspection = inspect_pdf(contract_pdf)

    assert inspection.sha256 == hashlib.sha256(contract_pdf).hexdigest()
    assert inspection.page_count == 2
    for width, height in inspection.page_sizes:
        assert width == pytest.approx(595.28, abs=0.01)
        assert height == pytest.approx(841.89, abs=0.01)
    assert inspection.page_boxes[0] == pytest.approx((0, 0, 595.28, 841.89), abs=0.01)
    assert inspection.page_rotations == [0, 0]
    # Content streams, the object stream and the embedded font program were all decoded.
    assert inspection.streams_checked >= 3
    assert inspection.decoded_bytes > 0
    assert inspection.damaged_streams == 0


def test_a_double_flate_bomb_is_refused_quickly_without_parent_memory() -> None:
    data, decoded_size = pdfbuild.double_flate_zeros(2.0)
    assert decoded_size >= 2 * 1024**3 and len(data) < 16 * 1024
    bomb = pdfbuild.flate_bomb_pdf()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.monotonic()

    error = refusal(bomb)

    assert error.code == "decompression_bomb"
    assert "stream 4 0 R" in error.detail
    assert time.monotonic() - started < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 100 * 1024


def test_a_bomb_in_the_cross_reference_stream_is_refused() -> None:
    assert refusal(pdfbuild.xref_stream_bomb_pdf()).code == "decompression_bomb"


def test_kids_pointing_back_to_an_ancestor_is_a_page_tree_loop() -> None:
    error = refusal(pdfbuild.looping_page_tree_pdf())
    assert error.code == "page_tree_loop"
    assert "2 0 R" in error.detail


def test_a_page_listed_twice_is_refused_as_a_loop() -> None:
    assert refusal(pdfbuild.shared_page_pdf()).code == "page_tree_loop"


def test_a_page_tree_nested_absurdly_deep_is_refused() -> None:
    assert refusal(pdfbuild.deep_page_tree_pdf(100)).code == "too_many_pages"


@pytest.mark.parametrize("user_password", ["user-secret", ""])
def test_encrypted_documents_are_refused(user_password: str) -> None:
    assert refusal(encrypted_pdf(user_password)).code == "encrypted"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "not_pdf"),
        (b"PK\x03\x04 this is a zip file" + b"\0" * 2000, "not_pdf"),
        (b"%PDF-1.7\n" + b"\xff garbage \x00" * 200, "corrupt"),
        (pdfbuild.simple_pdf(3)[:400], "corrupt"),
        (b"junk before the header\n" + pdfbuild.simple_pdf(1), "corrupt"),
    ],
    ids=["empty", "zip", "garbage", "truncated", "prefixed"],
)
def test_garbage_and_truncated_files(data: bytes, code: str) -> None:
    error = refusal(data)
    assert error.code == code
    assert error.detail


def test_oversized_files_are_refused_before_any_child_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("the sandbox must not start for an oversized file")

    monkeypatch.setattr(sandbox.subprocess, "run", no_child)
    data = pdfbuild.simple_pdf(1)

    assert refusal(data, max_bytes=len(data) - 1).code == "too_large"
    path = tmp_path / "big.pdf"
    path.write_bytes(data + b"\n" * 1024)
    with pytest.raises(UnsafePdf) as caught:
        inspect_pdf_file(path, max_bytes=len(data))
    assert caught.value.code == "too_large"


def test_the_upload_limit_comes_from_settings(settings: Settings) -> None:
    settings.ECONTRACT_MAX_UPLOAD_BYTES = 100
    assert refusal(pdfbuild.simple_pdf(1)).code == "too_large"


def test_more_than_2000_pages_is_refused_by_default() -> None:
    error = refusal(pdfbuild.simple_pdf(2001))
    assert error.code == "too_many_pages"
    assert "2000" in error.detail


def test_the_page_cap_can_be_lowered() -> None:
    assert refusal(pdfbuild.simple_pdf(6), max_pages=5).code == "too_many_pages"
    assert inspect_pdf(pdfbuild.simple_pdf(5), max_pages=5).page_count == 5


@pytest.mark.parametrize(
    "media_box",
    [b"[0 0 0 842]", b"[0 0 20000 842]", b"[0 0 595 /Tall]", b"[0 0 595]", b"[0 0 " + b"9" * 400 + b" 842]"],
    ids=["zero-width", "too-wide", "not-a-number", "three-numbers", "overflow"],
)
def test_unusable_media_boxes_are_invalid_pages(media_box: bytes) -> None:
    assert refusal(pdfbuild.simple_pdf(1, media_box=media_box)).code == "invalid_page"


def test_media_box_corners_in_any_order_are_normalised() -> None:
    inspection = inspect_pdf(pdfbuild.simple_pdf(1, media_box=b"[612 792 0 0]"))
    assert inspection.page_boxes == [(0.0, 0.0, 612.0, 792.0)]
    assert inspection.page_sizes == [(612.0, 792.0)]


def test_a_page_count_that_lies_is_corrupt() -> None:
    assert refusal(pdfbuild.simple_pdf(3, count=4)).code == "corrupt"


def test_a_slow_check_ends_in_timeout(settings: Settings) -> None:
    settings.ECONTRACT_PDF_TIMEOUT_SECONDS = 0.01
    assert refusal(pdfbuild.simple_pdf(1)).code == "timeout"


def test_a_child_out_of_memory_is_a_resource_limit(settings: Settings) -> None:
    settings.ECONTRACT_PDF_MEMORY_BYTES = 32 * 1024 * 1024
    assert refusal(pdfbuild.simple_pdf(1)).code == "resource_limit"


def test_the_probe_does_not_import_django() -> None:
    check = "import sys, econtract.documents.pdfprobe; print('django' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, check=True, cwd=sandbox._source_root()
    )
    assert completed.stdout.strip() == b"False"

"""How the way a child ended maps to UnsafePdf codes (the outcomes a real PDF rarely produces on cue)."""

from __future__ import annotations

import signal
import subprocess

import pytest

from econtract.documents.errors import UnsafePdf
from econtract.documents.sandbox import _result


def ended(returncode: int, stdout: bytes = b"", stderr: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.CompletedProcess(["pdfprobe"], returncode, stdout, stderr)


@pytest.mark.parametrize(
    ("completed", "code"),
    [
        (ended(-signal.SIGXCPU), "timeout"),
        (ended(-signal.SIGKILL), "resource_limit"),
        (ended(-signal.SIGSEGV, stderr=b"Fatal Python error"), "resource_limit"),
        (ended(1, stderr=b"Traceback ..."), "resource_limit"),
        (ended(0, stdout=b"not json"), "resource_limit"),
        (ended(0, stdout=b"[1, 2]"), "resource_limit"),
        (ended(0, stdout=b'{"ok": false, "code": "made_up", "detail": "x"}'), "corrupt"),
        (ended(0, stdout=b'{"ok": false, "code": "encrypted", "detail": "x"}'), "encrypted"),
    ],
    ids=["sigxcpu", "sigkill", "sigsegv", "exit-1", "not-json", "not-an-object", "unknown-code", "encrypted"],
)
def test_child_outcomes_map_to_codes(completed: subprocess.CompletedProcess[bytes], code: str) -> None:
    with pytest.raises(UnsafePdf) as caught:
        _result(completed, cpu_seconds=12)
    assert caught.value.code == code
    assert caught.value.detail


def test_details_from_the_child_are_bounded() -> None:
    huge = b'{"ok": false, "code": "corrupt", "detail": "' + b"x" * 10_000 + b'"}'
    with pytest.raises(UnsafePdf) as caught:
        _result(ended(0, stdout=huge), cpu_seconds=12)
    assert len(caught.value.detail) <= 300


def test_a_good_answer_is_returned() -> None:
    assert _result(ended(0, stdout=b'{"ok": true, "page_count": 1}'), cpu_seconds=12)["page_count"] == 1

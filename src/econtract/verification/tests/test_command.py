"""The ``verify`` management command (``econtract verify``): output and exit codes."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import types
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError

from econtract.verification.management.commands import verify as verify_command
from econtract.verification.tests import pki_fixtures as fx


def run(*args: str) -> tuple[int, str]:
    """Call the command in-process; return (exit code, stdout)."""
    out = StringIO()
    try:
        call_command("verify", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def write(tmp_path: Path):
    def _write(name: str, data: bytes) -> str:
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)

    return _write


def test_valid_signature_exits_0_with_a_readable_report(signed, write, root_pem, pki):
    code, out = run(write("signed.pdf", signed), "--trust-root", str(root_pem), "--no-platform-root")

    assert code == 0
    assert "Signer:         张三" in out
    assert f"serial {pki.signer.serial}" in out
    assert "Trusted:        yes" in out
    assert "Modification:   none" in out
    assert "Verdict: VALID" in out


def test_json_output(signed, write, root_pem, pki):
    code, out = run(
        write("signed.pdf", signed), "--json", "--trust-root", str(root_pem), "--no-platform-root"
    )

    assert code == 0
    report = json.loads(out)
    assert report["valid"] is True
    (sig,) = report["signatures"]
    assert sig["signer"] == "张三"
    assert sig["certificate_serial"] == str(pki.signer.serial)
    assert (sig["trusted"], sig["intact"], sig["valid"], sig["timestamp_valid"]) == (True, True, True, True)
    assert sig["modification"] == "none"
    assert sig["problems"] == []
    assert (sig["status"], sig["reasons"]) == ("valid", [])
    assert report["mode"] == "strict"
    assert report["document_timestamps"] == []


def test_lta_document_in_json(signed_lt, pki, write, root_pem):
    path = write("lta.pdf", fx.add_document_timestamp(signed_lt, pki))

    code, out = run(path, "--json", "--trust-root", str(root_pem), "--no-platform-root")

    assert code == 0
    report = json.loads(out)
    assert report["signatures"][0]["modification"] == "lta_updates"
    assert report["signatures"][0]["revocation"] == "good"
    (doc_ts,) = report["document_timestamps"]
    assert doc_ts["intact"] and doc_ts["valid"] and doc_ts["trusted"] and doc_ts["time"]


def test_tampered_document_exits_1(signed, write, root_pem):
    path = write("tampered.pdf", fx.flip_byte(signed, b"(Sales contract"))

    code, out = run(path, "--json", "--trust-root", str(root_pem), "--no-platform-root")

    assert code == 1
    report = json.loads(out)
    assert report["valid"] is False
    assert report["signatures"][0]["intact"] is False


def test_untrusted_root_exits_1(signed, write):
    code, out = run(write("signed.pdf", signed), "--no-platform-root")  # no trust root at all

    assert code == 1
    assert "Trusted:        NO" in out
    assert "Verdict: NOT VALID" in out


def test_unsigned_pdf_exits_1(blank, write, root_pem):
    code, out = run(write("blank.pdf", blank), "--trust-root", str(root_pem), "--no-platform-root")

    assert code == 1
    assert "no signature" in out


def test_revoked_signer_exits_1(signed, pki, write, root_pem, now):
    crl = pki.crl(revoked={pki.signer.serial: now - dt.timedelta(hours=2)})
    path = write("revoked.pdf", fx.add_dss(signed, crls=[crl, pki.crl(pki.root)]))

    code, out = run(path, "--json", "--trust-root", str(root_pem), "--no-platform-root")

    assert code == 1
    assert json.loads(out)["signatures"][0]["revocation"] == "revoked"


def test_garbage_exits_2(write, root_pem):
    code, out = run(write("garbage.pdf", b"this is not a PDF"), "--json", "--trust-root", str(root_pem))

    assert code == 2
    assert json.loads(out)["valid"] is False


def test_missing_file_exits_2(tmp_path):
    code, _ = run(str(tmp_path / "nope.pdf"), "--no-platform-root")

    assert code == 2


def test_missing_trust_root_file_exits_2(signed, write, tmp_path):
    code, _ = run(write("signed.pdf", signed), "--trust-root", str(tmp_path / "nope.pem"))

    assert code == 2


def test_trust_root_that_is_not_a_certificate_exits_2(signed, write):
    code, _ = run(write("signed.pdf", signed), "--trust-root", write("bad.pem", b"hello"))

    assert code == 2


def test_usage_error_exits_2():
    code, _ = run()  # FILE missing

    assert code == 2


def test_pem_bundle_and_der_trust_roots(signed, rogue_pki, pki, write):
    bundle = write("bundle.pem", rogue_pki.root.pem() + pki.root.pem())
    der = write("root.der", pki.root.asn1.dump())

    assert run(write("a.pdf", signed), "--trust-root", bundle, "--no-platform-root")[0] == 0
    assert run(write("b.pdf", signed), "--trust-root", der, "--no-platform-root")[0] == 0


def test_platform_root_is_trusted_by_default(signed, pki, write, monkeypatch):
    fake = types.ModuleType("econtract.pki.services")
    fake.root_certificate = lambda: pki.root.asn1  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "econtract.pki.services", fake)
    monkeypatch.setattr(verify_command, "_database_present", lambda: True)
    path = write("signed.pdf", signed)

    assert run(path)[0] == 0
    assert run(path, "--no-platform-root")[0] == 1


def test_platform_root_unavailable_is_not_fatal(signed, write, monkeypatch):
    def broken() -> None:
        raise DatabaseError("no such table: pki_certificateauthority")

    fake = types.ModuleType("econtract.pki.services")
    fake.root_certificate = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "econtract.pki.services", fake)
    monkeypatch.setattr(verify_command, "_database_present", lambda: True)

    assert run(write("signed.pdf", signed))[0] == 1  # judged, just without the platform root


def test_no_database_file_means_no_platform_root_and_no_db_access(signed, write, root_pem):
    # pytest-django blocks DB access here: reaching the database would raise, not return 0
    assert run(write("signed.pdf", signed), "--trust-root", str(root_pem))[0] == 0


def test_exit_codes_from_the_command_line(signed, write, root_pem, tmp_path):
    manage = [sys.executable, "-m", "django", "verify"]
    env = {"DJANGO_SETTINGS_MODULE": "econtract.settings_test", "PATH": "/usr/bin:/bin"}
    env["ECONTRACT_TEST_DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])

    def code(*args: str) -> int:
        return subprocess.run([*manage, *args], env=env, capture_output=True, timeout=60).returncode

    assert code(write("signed.pdf", signed), "--trust-root", str(root_pem), "--no-platform-root") == 0
    assert code(write("signed.pdf", signed), "--no-platform-root") == 1
    assert code(str(tmp_path / "missing.pdf")) == 2
    assert code("--no-such-flag") == 2


# --- real-world files: reading mode, statuses, reason codes -------------------------------------------


def test_hybrid_file_is_read_leniently_and_exits_0(pki, write, root_pem):
    from econtract.verification.tests import realworld as rw

    hybrid = write("hybrid.pdf", rw.sign_incrementally(rw.hybrid_pdf(), pki))

    code, out = run(hybrid, "--json", "--trust-root", str(root_pem), "--no-platform-root")
    text_code, text = run(hybrid, "--trust-root", str(root_pem), "--no-platform-root")

    assert code == 0 and text_code == 0
    report = json.loads(out)
    assert report["mode"] == "lenient" and report["valid"] is True
    assert report["signatures"][0]["status"] == "valid"
    assert "Reading mode:   lenient" in text


def test_byte_range_past_the_end_exits_1_and_says_not_checked(pki, write, root_pem):
    from econtract.verification.tests import realworld as rw

    broken = rw.fill_signature(rw.with_placeholder(), rw.detached_cms(pki), extra_length=7)
    path = write("past-eof.pdf", broken)

    code, out = run(path, "--json", "--trust-root", str(root_pem), "--no-platform-root")
    _, text = run(path, "--trust-root", str(root_pem), "--no-platform-root")

    assert code == 1
    (sig,) = json.loads(out)["signatures"]
    assert (sig["status"], sig["reasons"], sig["intact"]) == ("invalid", ["byte_range_past_eof"], None)
    assert "Intact:         not checked" in text
    assert "Intact:         NO" not in text
    assert "the byte range ends 7 bytes past the end of the file" in text


def test_indeterminate_signature_exits_1(pki, write, root_pem):
    from econtract.verification.tests import realworld as rw

    sha1 = rw.fill_signature(rw.with_placeholder(subfilter=b"/adbe.pkcs7.sha1"), rw.pkcs7_sha1_cms(pki))

    code, out = run(write("sha1.pdf", sha1), "--json", "--trust-root", str(root_pem), "--no-platform-root")
    _, text = run(write("sha1.pdf", sha1), "--trust-root", str(root_pem), "--no-platform-root")

    assert code == 1
    assert "Verdict: NOT VALID (indeterminate: could not be decided)" in text
    report = json.loads(out)
    assert report["valid"] is False
    (sig,) = report["signatures"]
    assert sig["status"] == "indeterminate"
    assert (sig["intact"], sig["valid"], sig["trusted"]) == (True, True, True)

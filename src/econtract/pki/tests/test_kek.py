from __future__ import annotations

import base64
import logging
import os
import stat

import pytest

from econtract.pki import kek
from econtract.pki.errors import KekError, KekMismatch, SealError


@pytest.fixture
def embedded(settings, tmp_path):
    settings.ECONTRACT_KEK_FILE = ""
    settings.DATA_DIR = tmp_path
    return tmp_path / "kek.key"


def test_embedded_kek_is_generated_0600_once_and_warned_about(embedded, caplog):
    with caplog.at_level(logging.WARNING, logger="econtract.pki"):
        kek.warn_if_embedded()  # what `econtract serve` does at start
        first = kek.load_kek()
    assert len(first) == 32
    assert stat.S_IMODE(embedded.stat().st_mode) == 0o600
    assert base64.b64decode(embedded.read_bytes()) == first
    assert any(
        "ECONTRACT_KEK_FILE" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records
    )
    assert kek.load_kek() == first
    kek._cache.clear()  # a new process reads the same file
    assert kek.load_kek() == first


@pytest.mark.parametrize(
    "encode",
    [
        lambda k: k,
        lambda k: k.hex().encode() + b"\n",
        lambda k: base64.b64encode(k) + b"\n",
        base64.urlsafe_b64encode,
    ],
)
def test_configured_kek_formats(settings, tmp_path, encode):
    raw = os.urandom(32)
    path = tmp_path / "kek"
    path.write_bytes(encode(raw))
    path.chmod(0o600)
    settings.ECONTRACT_KEK_FILE = str(path)
    assert kek.load_kek() == raw
    assert not (tmp_path / "kek.key").exists()


@pytest.mark.parametrize("content", [b"", b"short", os.urandom(31), os.urandom(33), b"zz" * 32])
def test_configured_kek_of_wrong_size_is_a_clear_error(settings, tmp_path, content):
    path = tmp_path / "bad.kek"
    path.write_bytes(content)
    settings.ECONTRACT_KEK_FILE = str(path)
    with pytest.raises(KekError, match="32 bytes"):
        kek.load_kek()


def test_unreadable_kek_file_is_a_clear_error(settings, tmp_path):
    settings.ECONTRACT_KEK_FILE = str(tmp_path / "missing.kek")
    with pytest.raises(KekError, match="cannot read ECONTRACT_KEK_FILE"):
        kek.load_kek()


def test_seal_round_trip_binds_aad_and_kek(settings, tmp_path, embedded):
    blob = kek.seal(b"secret key bytes", b"role=tsa")
    assert blob[0] == 1 and b"secret key bytes" not in blob
    assert kek.unseal(blob, b"role=tsa") == b"secret key bytes"
    assert kek.seal(b"secret key bytes", b"role=tsa") != blob  # fresh nonce each time
    with pytest.raises(SealError):
        kek.unseal(blob, b"role=ocsp")
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(SealError):
        kek.unseal(bytes(tampered), b"role=tsa")
    with pytest.raises(SealError):
        kek.unseal(b"\x02" + blob[1:], b"role=tsa")

    other = tmp_path / "other.kek"
    other.write_bytes(os.urandom(32))
    settings.ECONTRACT_KEK_FILE = str(other)
    with pytest.raises(KekMismatch):
        kek.unseal(blob, b"role=tsa")

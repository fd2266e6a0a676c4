from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509

from econtract.accounts.services import create_user
from econtract.identity.tests.factories import verify_identity
from econtract.pki.services import ensure_platform_pki, platform_certificate, platform_chain


@pytest.fixture
def pki(db):
    ensure_platform_pki()


@pytest.fixture
def fast_kdf(settings):
    """Argon2id at its minimum so custody tests run in milliseconds; one test keeps the real defaults."""
    settings.ECONTRACT_PIN_KDF_MEMORY_KIB = 64
    settings.ECONTRACT_PIN_KDF_PASSES = 1


@pytest.fixture
def user(db):
    """张三, whose identity was verified (L2), so she may hold a signing certificate."""
    return verify_identity(create_user("zhang.san@example.com", None, "张三", email_verified=True))


@pytest.fixture
def other_user(db):
    return verify_identity(create_user("li.si@example.com", None, "李四", email_verified=True))


def write_pem(path: Path, *certs: asn1_x509.Certificate) -> Path:
    path.write_bytes(b"".join(pem.armor("CERTIFICATE", cert.dump()) for cert in certs))
    return path


@pytest.fixture
def openssl_dir(tmp_path, pki):
    """root.pem, issuing.pem, chain.pem (issuing + TSA + OCSP responder) for openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    issuing, root = platform_chain()
    write_pem(tmp_path / "root.pem", root)
    write_pem(tmp_path / "issuing.pem", issuing)
    write_pem(tmp_path / "chain.pem", issuing, platform_certificate("tsa"), platform_certificate("ocsp"))
    return tmp_path


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=30)

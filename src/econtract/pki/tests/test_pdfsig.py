"""Independent check with poppler's pdfsig (NSS): our signer certificate profile is accepted, and
revocation through our live OCSP responder is honoured. pdfsig checks OCSP online via the AIA URL,
so this runs a live server and writes its URL into the certificates."""

from __future__ import annotations

import shutil

import pytest

from econtract.pki.services import ensure_platform_pki, platform_chain, revoke_certificate, set_signing_pin

from .conftest import run, write_pem
from .test_pyhanko import PIN, sign

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (shutil.which("pdfsig") and shutil.which("certutil")), reason="needs poppler-utils and NSS tools"
    ),
]


def pdfsig(nssdir, pdf) -> str:
    result = run("pdfsig", "-nssdir", f"sql:{nssdir}", pdf)
    return result.stdout + result.stderr  # pdfsig exits 0 whatever it finds: read its text


@pytest.mark.django_db(transaction=True)
def test_pdfsig_trusts_our_signature_until_the_certificate_is_revoked(
    live_server, settings, tmp_path, user, fast_kdf
):
    from econtract.pki.services import signing_validation_context_for

    settings.BASE_URL = live_server.url
    ensure_platform_pki()
    key = set_signing_pin(user, PIN)
    _, root = platform_chain()
    nssdir = tmp_path / "nss"
    nssdir.mkdir()
    assert run("certutil", "-N", "-d", f"sql:{nssdir}", "--empty-password").returncode == 0
    added = run(
        "certutil",
        "-A",
        "-d",
        f"sql:{nssdir}",
        "-n",
        "econtract-root",
        "-t",
        "CT,C,C",
        "-i",
        write_pem(tmp_path / "root.pem", root),
    )
    assert added.returncode == 0, added.stderr
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(sign(user, signing_validation_context_for([key.certificate.certificate]), lta=False))

    report = pdfsig(nssdir, pdf)
    assert "Signature Validation: Signature is Valid." in report, report
    assert "Certificate Validation: Certificate is Trusted." in report, report
    assert "张三" in report

    revoke_certificate(key.certificate, "key_compromise")

    report = pdfsig(nssdir, pdf)
    assert "Signature Validation: Signature is Valid." in report, report
    assert "Certificate Validation: Certificate is Trusted." not in report, report
    assert "Certificate has been Revoked." in report, report

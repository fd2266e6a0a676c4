"""Independent check with poppler's pdfsig (NSS): our signer certificate profile is accepted, and
revocation through our live OCSP responder is honoured. pdfsig checks OCSP online via the AIA URL,
so this runs a live server and writes its URL into the certificates."""

from __future__ import annotations

import shutil

import pytest
from tests.e2e.independent_checks import pdfsig_report

from econtract.pki.services import ensure_platform_pki, platform_chain, revoke_certificate, set_signing_pin

from .conftest import write_pem
from .test_pyhanko import PIN, sign

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (shutil.which("pdfsig") and shutil.which("certutil")), reason="needs poppler-utils and NSS tools"
    ),
]


@pytest.mark.django_db(transaction=True)
def test_pdfsig_trusts_our_signature_until_the_certificate_is_revoked(
    live_server, settings, tmp_path, user, fast_kdf
):
    from econtract.pki.services import signing_validation_context_for

    settings.BASE_URL = live_server.url
    ensure_platform_pki()
    key = set_signing_pin(user, PIN)
    _, root = platform_chain()
    root_pem = write_pem(tmp_path / "root.pem", root)
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(sign(user, signing_validation_context_for([key.certificate.certificate]), lta=False))

    (signature,) = pdfsig_report(pdf, root_pem, tmp_path)
    assert signature["Signature Validation"] == "Signature is Valid.", signature
    assert signature.get("Certificate Validation") == "Certificate is Trusted.", signature
    assert "张三" in signature["Signer Certificate Common Name"]

    revoke_certificate(key.certificate, "key_compromise")

    (signature,) = pdfsig_report(pdf, root_pem, tmp_path)
    assert signature["Signature Validation"] == "Signature is Valid.", signature
    assert signature.get("Certificate Validation") == "Certificate has been Revoked.", signature

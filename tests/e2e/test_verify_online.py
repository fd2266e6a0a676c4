"""`econtract verify --online` against the platform's own OCSP responder, over HTTP.

Two certificates from the running platform's issuing CA, each signing with the platform's TSA:

* A signs, and is revoked afterwards: online the signature stays valid with a warning naming the
  revocation time and reason (ETSI EN 319 102-1: the timestamp proves it existed before);
* B is revoked first, and its key (think: stolen) signs afterwards: online the signature is not valid.

Offline both read as judged from the data embedded at signing (B-T: none), and nothing is asked.
The platform CA revokes at the time it is told to, never earlier, so B is made by signing after the
revocation rather than by backdating it.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from io import BytesIO
from pathlib import Path

import pytest
import requests
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from econtract.verification.tests.pki_fixtures import blank_pdf, key_to_asn1

pytestmark = pytest.mark.e2e

ISSUE = """
import base64
from cryptography.hazmat.primitives import serialization
from econtract.pki.issuance import issue_signing_certificate
for number, path in enumerate({paths!r}):
    key = serialization.load_pem_public_key(open(path, "rb").read())
    issued = issue_signing_certificate(None, key, common_name=f"online check {{number}}", pseudonym=f"e2e-online-{{number}}")
    print("CERT", issued.serial_number, base64.b64encode(bytes(issued.certificate_der)).decode())
"""


def _issue(platform, tmp_path: Path, keys: list[ec.EllipticCurvePrivateKey]) -> list[asn1_x509.Certificate]:
    paths = []
    for number, key in enumerate(keys):
        path = tmp_path / f"key{number}.pub.pem"
        path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        paths.append(str(path))
    completed = platform.cli("manage", "shell", "-c", ISSUE.format(paths=paths), check=False)
    out = completed.stdout
    assert completed.returncode == 0, out + completed.stderr
    lines = [line.split() for line in out.splitlines() if line.startswith("CERT ")]
    assert len(lines) == len(keys), out
    return [asn1_x509.Certificate.load(base64.b64decode(der)) for _, _, der in lines]


def _sign(platform, cert: asn1_x509.Certificate, key: ec.EllipticCurvePrivateKey, chain: list) -> bytes:
    signer = signers.SimpleSigner(
        signing_cert=cert,
        signing_key=key_to_asn1(key),
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1", subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    out = signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(blank_pdf("Online revocation check"))),
        meta,
        signer=signer,
        timestamper=HTTPTimeStamper(f"{platform.base_url}/tsa", timeout=30),
        bytes_reserved=16384,
    )
    return bytes(out.getvalue())


def _revoke(platform, cert: asn1_x509.Certificate) -> None:
    done = platform.cli("manage", "revoke_certificate", str(cert.serial_number), "--reason", "key_compromise")
    assert "Revoked" in done.stdout, done.stdout + done.stderr


def _verify(platform, path: Path, *args: str) -> tuple[int, dict]:
    completed = platform.cli("verify", str(path), "--json", *args, check=False)
    return completed.returncode, json.loads(completed.stdout)


def test_online_revocation_is_judged_against_the_timestamp(platform, tmp_path: Path):
    root = asn1_x509.Certificate.load(pem.unarmor(platform.root_pem.read_bytes())[2])
    issuing = asn1_x509.Certificate.load(
        requests.get(f"{platform.base_url}/pki/issuing.der", timeout=10).content
    )
    key_a, key_b = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    cert_a, cert_b = _issue(platform, tmp_path, [key_a, key_b])

    signed_a = tmp_path / "a.pdf"
    signed_a.write_bytes(_sign(platform, cert_a, key_a, [issuing, root]))
    _revoke(platform, cert_b)  # a CLI start: seconds, so A's revocation below falls in a later second
    signed_b = tmp_path / "b.pdf"
    signed_b.write_bytes(_sign(platform, cert_b, key_b, [issuing, root]))
    _revoke(platform, cert_a)

    # offline: nothing embedded to judge revocation by, and nothing asked
    code, offline = _verify(platform, signed_a)
    assert code == 0 and offline["valid"] is True, offline
    assert offline["revocation_source"] == "embedded" and offline["warnings"] == []

    # A: revoked after its timestamp -> valid, with a warning
    code, report_a = _verify(platform, signed_a, "--online")
    signature_a = report_a["signatures"][0]
    timestamp_a = datetime.fromisoformat(signature_a["timestamp_time"])
    assert code == 0, report_a
    assert report_a["valid"] is True and report_a["revocation_source"] == "online"
    assert signature_a["status"] == "valid" and signature_a["revocation"] == "good"
    (warning,) = report_a["warnings"]
    assert "the signer's certificate was revoked on " in warning and "reason key_compromise" in warning
    assert f"after the signature's timestamp {timestamp_a.isoformat()}" in warning
    assert f"{platform.base_url}/pki/ocsp" in warning
    revoked_at = datetime.fromisoformat(warning.split("revoked on ", 1)[1].split(",", 1)[0])
    assert revoked_at > timestamp_a

    # B: revoked before its timestamp -> not valid
    code, report_b = _verify(platform, signed_b, "--online")
    signature_b = report_b["signatures"][0]
    assert code == 1 and report_b["valid"] is False, report_b
    assert signature_b["status"] == "invalid" and signature_b["reasons"] == ["certificate_revoked"]
    assert signature_b["revocation"] == "revoked"
    assert "before the signature's timestamp" in signature_b["problems"][0]
    text_b = platform.cli("verify", str(signed_b), "--online", check=False).stdout
    assert "Verdict: NOT VALID" in text_b and "reason key_compromise" in text_b
    assert "asked now" in text_b

"""No certificate carries a name nobody checked (issue 8, "the mallory case"), against a real server.

Mallory registers through the web pages with the full name "张丽 Alice Zhang" and confirms only her
email. Setting a signing PIN is refused (409 assurance_required) and no certificate is made. 张丽's
number, which she knows, is refused too (409 identity_in_use: it is verified for the demo's Alice).
Once she verifies as herself (the sandbox's 张三) through the identity provider (the server's own
sandbox, over HTTP), her PIN makes a certificate whose subject carries the verified name 张三, not the
name she typed.
"""

from __future__ import annotations

import json
import re

import pytest
import requests
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.e2e.probes import csrf_form
from tests.mailbox import CODE, Outbox

pytestmark = pytest.mark.e2e

EMAIL = "mallory@example.org"
TYPED_NAME = "张丽 Alice Zhang"
ZHANG_LI = "110105199003070025"  # the sandbox identity of 张丽, the demo's Alice (docs/identity.md)
ZHANG_SAN = "11010519491231002X"  # the sandbox identity of 张三, held by no demo account
PIN = "864209"

CERTIFICATES = """
from econtract.pki.models import IssuedCertificate
for c in IssuedCertificate.objects.filter(user__email={email!r}).order_by("created_at"):
    print("CERT", bytes(c.certificate_der).hex(), c.revoked_at is not None)
"""


def _register(platform) -> None:  # type: ignore[no-untyped-def]
    url = f"{platform.base_url}/register/"
    web = requests.Session()
    token = csrf_form(web, url)
    answer = web.post(url, data={"csrfmiddlewaretoken": token, "step": "email", "email": EMAIL}, timeout=30)
    assert answer.status_code == 200, answer.text
    code = Outbox(platform.data_dir / "outbox").wait_for(EMAIL, CODE)
    answer = web.post(url, data={"csrfmiddlewaretoken": token, "step": "code", "code": code}, timeout=30)
    assert answer.status_code == 200, answer.text
    account = {
        "csrfmiddlewaretoken": token,
        "step": "account",
        "full_name": TYPED_NAME,
        "password": "correct horse battery staple 8",
        "password2": "correct horse battery staple 8",
    }
    answer = web.post(url, data=account, timeout=30)
    assert answer.status_code == 200 and "/register/" not in answer.url, answer.text


def _certificates(platform) -> list[tuple[x509.Certificate, bool]]:  # type: ignore[no-untyped-def]
    listing = platform.cli("manage", "shell", "-c", CERTIFICATES.format(email=EMAIL)).stdout
    return [
        (x509.load_der_x509_certificate(bytes.fromhex(der)), revoked == "True")
        for _, der, revoked in (line.split() for line in listing.splitlines() if line.startswith("CERT "))
    ]


def test_an_unverified_name_gets_no_certificate_and_a_verified_one_is_what_it_carries(platform) -> None:  # type: ignore[no-untyped-def]
    _register(platform)
    key = platform.cli("apikey", "create", EMAIL).stdout.strip().splitlines()[-1]
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    base = f"{platform.base_url}/api/v1"

    me = api.get(f"{base}/me", timeout=30).json()
    assert (me["full_name"], me["assurance_level"], me["identity"]) == (TYPED_NAME, "L1", None)
    assert me["identity_provider_sandbox"] is True

    refused = api.put(f"{base}/me/signing-pin", json={"pin": PIN}, timeout=60)
    assert refused.status_code == 409, refused.text
    assert (refused.json()["error"], refused.json()["required"], refused.json()["current"]) == (
        "assurance_required",
        "L2",
        "L1",
    )
    assert _certificates(platform) == []

    # 张丽's name and number are known to her, but they are verified for the demo's Alice already:
    # one document, one account.
    claim = {"method": "id_2el", "name": "张丽", "id_type": "cn_resident", "id_number": ZHANG_LI}
    answer = api.post(
        f"{base}/me/identity-verifications",
        data=json.dumps(claim),
        timeout=60,
        headers={"Content-Type": "application/json"},
    )
    assert (answer.status_code, answer.json()["error"]) == (409, "identity_in_use"), answer.text
    assert _certificates(platform) == []

    # Her own identity (the sandbox's 张三): the certificate carries it, not the name she typed.
    claim = {"method": "id_2el", "name": "张三", "id_type": "cn_resident", "id_number": ZHANG_SAN}
    answer = api.post(
        f"{base}/me/identity-verifications",
        data=json.dumps(claim),
        timeout=60,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 201, answer.text
    verified = answer.json()
    assert (verified["status"], verified["assurance_level"], verified["sandbox"]) == ("verified", "L2", True)

    answer = api.put(f"{base}/me/signing-pin", json={"pin": PIN}, timeout=60)
    assert answer.status_code == 200, answer.text
    ((certificate, revoked),) = _certificates(platform)
    assert not revoked
    assert str(certificate.serial_number) == answer.json()["certificate_serial"]
    assert [a.value for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["张三"]
    assert [a.value for a in certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)] == ["CN"]
    subject = certificate.subject.rfc4514_string()
    assert "Alice" not in subject and "张丽" not in subject and ZHANG_SAN not in subject

    me = api.get(f"{base}/me", timeout=30).json()
    assert me["assurance_level"] == "L2"
    assert me["identity"]["name"] == "张三" and me["identity"]["id_number_masked"] == "110***********002X"


def test_the_demo_users_were_verified_through_the_sandbox_before_their_certificates(platform) -> None:  # type: ignore[no-untyped-def]
    me = platform.api("alice").get(f"{platform.base_url}/api/v1/me", timeout=30).json()
    assert me["assurance_level"] == "L2" and me["has_signing_key"] is True
    assert (me["identity"]["name"], me["identity"]["id_number_masked"]) == ("张丽", "110***********0025")
    sample = platform.data_dir / "demo" / "sample-contract-signed.pdf"
    report = platform.cli("verify", str(sample), "--trust-root", str(platform.root_pem)).stdout
    assert re.findall(r"^\s*Signer:\s+(.+?)\s*$", report, re.MULTILINE) == ["张丽", "李明"]

from __future__ import annotations

import base64
import os
from urllib.parse import quote

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from econtract.pki.errors import UnknownCertificate
from econtract.pki.services import (
    issue_signing_certificate,
    ocsp_response_der,
    ocsp_response_for_certificate,
    platform_certificate,
    revoke_certificate,
)

from .conftest import run, write_pem


def crypto(cert) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())


@pytest.fixture
def issued(pki, user):
    key = ec.generate_private_key(ec.SECP256R1())
    return issue_signing_certificate(user, key.public_key(), common_name="张三", pseudonym="EC-OCSP")


def request_der(cert, algorithm=hashes.SHA1(), nonce: bytes | None = None) -> bytes:
    issuing = crypto(platform_certificate("issuing"))
    builder = ocsp.OCSPRequestBuilder().add_certificate(crypto(cert), issuing, algorithm)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def post(client, body: bytes):
    response = client.post("/pki/ocsp", data=body, content_type="application/ocsp-request")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ocsp-response"
    return ocsp.load_der_ocsp_response(response.content)


def check_signed_by_responder(response: ocsp.OCSPResponse) -> None:
    responder = crypto(platform_certificate("ocsp"))
    assert [c.serial_number for c in response.certificates] == [responder.serial_number]
    assert response.responder_key_hash is not None
    responder.public_key().verify(
        response.signature, response.tbs_response_bytes, ec.ECDSA(response.signature_hash_algorithm)
    )


def test_http_ocsp_good_then_revoked(client, issued):
    good = post(client, request_der(issued.certificate))
    assert good.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert good.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert good.serial_number == issued.serial_int
    assert good.next_update_utc > good.this_update_utc
    check_signed_by_responder(good)

    revoke_certificate(issued, "key_compromise")

    revoked = post(client, request_der(issued.certificate))
    assert revoked.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_reason == x509.ReasonFlags.key_compromise
    assert abs((revoked.revocation_time_utc - issued.revoked_at).total_seconds()) < 1
    check_signed_by_responder(revoked)


def test_sha256_cert_ids_and_nonce_echo(client, issued):
    nonce = os.urandom(16)
    response = post(client, request_der(issued.certificate, hashes.SHA256(), nonce))
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.hash_algorithm.name == "sha256"
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce


def test_get_with_url_encoded_base64_path(client, issued):
    encoded = quote(base64.b64encode(request_der(issued.certificate)).decode(), safe="")
    response = client.get(f"/pki/ocsp/{encoded}")
    assert response.status_code == 200
    assert ocsp.load_der_ocsp_response(response.content).certificate_status == ocsp.OCSPCertStatus.GOOD


def test_unknown_serial_is_unknown(client, pki, other_user):
    stranger = ec.generate_private_key(ec.SECP256R1())
    issuing = crypto(platform_certificate("issuing"))
    # A certificate from our issuing CA's name and key that the database never recorded.
    from econtract.pki import ca, hierarchy

    identity = hierarchy.platform_identity("issuing")
    from django.utils import timezone

    forged = ca.build_signer(
        stranger.public_key(),
        common_name="X",
        pseudonym="Y",
        issuing=issuing,
        issuing_key=identity.private_key,
        now=timezone.now(),
        lifetime=__import__("datetime").timedelta(days=1),
    )
    body = ocsp.OCSPRequestBuilder().add_certificate(forged, issuing, hashes.SHA1()).build()
    response = post(client, body.public_bytes(serialization.Encoding.DER))
    assert response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN


@pytest.mark.parametrize("body", [b"", b"garbage", b"\x30\x03\x02\x01\x01", b"\x30" * 300])
def test_garbage_gets_malformed_request_not_a_server_error(client, pki, body):
    response = post(client, body)
    assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_get_with_undecodable_path_is_malformed(client, pki):
    response = client.get("/pki/ocsp/%%%not-base64!!")
    assert response.status_code == 200
    assert (
        ocsp.load_der_ocsp_response(response.content).response_status
        == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )


def test_oversized_nonce_is_malformed(pki, issued):
    der = request_der(issued.certificate, nonce=os.urandom(33))
    assert (
        asn1_ocsp.OCSPResponse.load(ocsp_response_der(der))["response_status"].native == "malformed_request"
    )


def test_request_about_another_issuer_is_unauthorized(pki, issued):
    # The issuing CA's own certificate is issued by the root, which this responder does not answer for.
    issuing = crypto(platform_certificate("issuing"))
    root = crypto(platform_certificate("root"))
    der = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(issuing, root, hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    assert asn1_ocsp.OCSPResponse.load(ocsp_response_der(der))["response_status"].native == "unauthorized"


def test_in_process_response_for_a_certificate(pki, issued):
    response = ocsp_response_for_certificate(issued.certificate)
    parsed = ocsp.load_der_ocsp_response(response.dump())
    assert parsed.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert parsed.serial_number == issued.serial_int
    check_signed_by_responder(parsed)
    with pytest.raises(UnknownCertificate):
        ocsp_response_for_certificate(platform_certificate("issuing"))


@pytest.mark.parametrize("with_nonce", [False, True])
def test_openssl_request_and_verification(client, openssl_dir, issued, with_nonce):
    d = openssl_dir
    write_pem(d / "user.pem", issued.certificate)
    args = [
        "openssl",
        "ocsp",
        "-issuer",
        d / "issuing.pem",
        "-cert",
        d / "user.pem",
        "-reqout",
        d / "req.der",
    ]
    made = run(*args, *([] if with_nonce else ["-no_nonce"]))
    assert made.returncode == 0, made.stderr
    trust = ["-CAfile", d / "root.pem", "-verify_other", d / "chain.pem"]

    for expected in ("good", "revoked"):
        response = client.post(
            "/pki/ocsp", data=(d / "req.der").read_bytes(), content_type="application/ocsp-request"
        )
        (d / "resp.der").write_bytes(response.content)
        # Against the request: signature, responder authorisation and (when sent) the nonce.
        matched = run("openssl", "ocsp", "-respin", d / "resp.der", "-reqin", d / "req.der", *trust)
        assert matched.returncode == 0, matched.stdout + matched.stderr
        assert "Response verify OK" in matched.stderr
        assert "Nonce Verify error" not in matched.stderr
        # Per certificate: the status line.
        checked = run(
            "openssl",
            "ocsp",
            "-respin",
            d / "resp.der",
            "-issuer",
            d / "issuing.pem",
            "-cert",
            d / "user.pem",
            "-no_nonce",
            *trust,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "Response verify OK" in checked.stderr
        assert f"{d / 'user.pem'}: {expected}" in checked.stdout
        revoke_certificate(issued, "key_compromise")
    assert "Reason: keyCompromise" in checked.stdout

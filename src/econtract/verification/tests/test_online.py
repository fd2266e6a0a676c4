"""``verify --online``: OCSP answers judged as ETSI EN 319 102-1 does, and answers that do not count.

The responder here is a real one in process (it parses the request and signs an RFC 6960 response
with the throwaway CA's key); only the HTTP hop is left out. tests/e2e/test_verify_online.py asks the
platform's own responder over HTTP.
"""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Callable, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from econtract.verification import online
from econtract.verification.online import OcspFailure, check_online, http_fetch
from econtract.verification.services import VerificationReport, verify_pdf
from econtract.verification.tests import pki_fixtures as fx

OCSP_URL = "http://ocsp.invalid/ca"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SIGNED_AT = NOW - dt.timedelta(hours=1)


def _signer_with_ocsp(pki: fx.ThrowawayPki) -> fx.Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "李四")]))
        .issuer_name(pki.ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.ca.key.public_key()), False)
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(OCSP_URL)
                    )
                ]
            ),
            critical=False,
        )
        .sign(pki.ca.key, hashes.SHA256())
    )
    return fx.Issued(cert=cert, key=key)


def _delegated_responder(pki: fx.ThrowawayPki, *, ocsp_signing: bool = True) -> fx.Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.OCSP_SIGNING if ocsp_signing else ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test OCSP responder")]))
        .issuer_name(pki.ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .sign(pki.ca.key, hashes.SHA256())
    )
    return fx.Issued(cert=cert, key=key)


def responder(
    pki: fx.ThrowawayPki,
    *,
    revoked_at: dt.datetime | None = None,
    signed_by: fx.Issued | None = None,
    delegate: bool = False,
    echo_nonce: bool | bytes = True,
    next_update: dt.datetime | None = None,
    serial_offset: int = 0,
    calls: list[str] | None = None,
) -> Callable[[str, bytes], bytes]:
    """An OCSP responder for ``pki``'s issuing CA; the keyword arguments make it misbehave."""

    def answer(url: str, request_der: bytes) -> bytes:
        if calls is not None:
            calls.append(url)
        request = ocsp.load_der_ocsp_request(request_der)
        signer = signed_by or pki.ca
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number + serial_offset,
            algorithm=request.hash_algorithm,
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked_at else ocsp.OCSPCertStatus.GOOD,
            this_update=NOW - dt.timedelta(minutes=1),
            next_update=next_update or NOW + dt.timedelta(hours=12),
            revocation_time=revoked_at,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked_at else None,
        )
        if echo_nonce:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
            echoed = echo_nonce if isinstance(echo_nonce, bytes) else nonce
            builder = builder.add_extension(x509.OCSPNonce(echoed), critical=False)
        if delegate:
            builder = builder.certificates([signer.cert])
        response = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer.cert).sign(
            signer.key, hashes.SHA256()
        )
        return response.public_bytes(serialization.Encoding.DER)

    return answer


@pytest.fixture(scope="module")
def ocsp_signer(pki: fx.ThrowawayPki) -> fx.Issued:
    return _signer_with_ocsp(pki)


@pytest.fixture(scope="module")
def timestamped(pki: fx.ThrowawayPki, blank: bytes, ocsp_signer: fx.Issued) -> bytes:
    return fx.sign(blank, pki, who=ocsp_signer, timestamp_at=SIGNED_AT)


@pytest.fixture(scope="module")
def untimestamped(pki: fx.ThrowawayPki, blank: bytes, ocsp_signer: fx.Issued) -> bytes:
    return fx.sign(blank, pki, who=ocsp_signer, timestamp=False)


def offline(data: bytes, pki: fx.ThrowawayPki) -> VerificationReport:
    report = verify_pdf(data, trust_roots=[pki.root.asn1])
    assert report.valid, report.to_dict()
    assert report.signatures[0].revocation == "unknown"  # nothing embedded: B-T only
    return report


def test_a_good_answer_makes_revocation_good(timestamped, pki):
    calls: list[str] = []
    report = offline(timestamped, pki)

    check_online(report, fetch=responder(pki, calls=calls))

    assert calls == [OCSP_URL]  # the signer's responder; the issuing CA names none
    assert report.valid and report.warnings == []
    assert report.signatures[0].revocation == "good"
    assert report.to_dict()["revocation_source"] == "online"


def test_revoked_after_the_timestamp_stays_valid_with_a_warning(timestamped, pki):
    revoked_at = SIGNED_AT + dt.timedelta(minutes=30)
    report = offline(timestamped, pki)

    check_online(report, fetch=responder(pki, revoked_at=revoked_at))

    assert report.valid
    assert report.signatures[0].status == "valid"
    (warning,) = report.warnings
    assert f"revoked on {revoked_at.isoformat()}, reason key_compromise" in warning
    assert f"after the signature's timestamp {SIGNED_AT.isoformat()}" in warning


def test_revoked_before_the_timestamp_is_not_valid(timestamped, pki):
    revoked_at = SIGNED_AT - dt.timedelta(minutes=30)
    report = offline(timestamped, pki)

    check_online(report, fetch=responder(pki, revoked_at=revoked_at))

    signature = report.signatures[0]
    assert not report.valid
    assert signature.status == "invalid" and signature.reasons == ["certificate_revoked"]
    assert signature.revocation == "revoked" and not signature.trusted
    assert f"before the signature's timestamp {SIGNED_AT.isoformat()}" in signature.problems[0]


def test_revoked_at_the_timestamp_itself_is_not_valid(timestamped, pki):
    report = offline(timestamped, pki)
    check_online(report, fetch=responder(pki, revoked_at=SIGNED_AT))
    assert not report.valid


def test_without_a_timestamp_any_revocation_is_fatal(untimestamped, pki):
    report = offline(untimestamped, pki)

    check_online(report, fetch=responder(pki, revoked_at=NOW - dt.timedelta(minutes=5)))

    assert not report.valid
    assert "before now (no timestamp)" in report.signatures[0].problems[0]


def test_a_delegated_responder_the_ca_authorised_counts(timestamped, pki):
    report = offline(timestamped, pki)
    delegated = _delegated_responder(pki)

    check_online(
        report,
        fetch=responder(
            pki, revoked_at=SIGNED_AT - dt.timedelta(hours=1), signed_by=delegated, delegate=True
        ),
    )

    assert not report.valid and report.signatures[0].reasons == ["certificate_revoked"]


@pytest.mark.parametrize(
    ("misbehaviour", "message"),
    [
        ("rogue-ca", "signed neither by the CA nor by a responder the CA authorised"),
        ("no-ocsp-signing-eku", "signed neither by the CA nor by a responder the CA authorised"),
        ("nonce-mismatch", "nonce mismatch"),
        ("stale", "stale"),
        ("other-serial", "does not answer for this certificate"),
    ],
)
def test_answers_that_do_not_count_leave_the_embedded_judgement(
    timestamped, pki, rogue_pki, misbehaviour, message
):
    revoked = SIGNED_AT - dt.timedelta(hours=1)
    fetch = {
        "rogue-ca": responder(pki, revoked_at=revoked, signed_by=rogue_pki.ca),
        "no-ocsp-signing-eku": responder(
            pki, revoked_at=revoked, signed_by=_delegated_responder(pki, ocsp_signing=False), delegate=True
        ),
        "nonce-mismatch": responder(pki, revoked_at=revoked, echo_nonce=b"\x01" * 16),
        "stale": responder(pki, revoked_at=revoked, next_update=NOW - dt.timedelta(hours=1)),
        "other-serial": responder(pki, revoked_at=revoked, serial_offset=1),
    }[misbehaviour]
    report = offline(timestamped, pki)

    check_online(report, fetch=fetch)

    assert report.valid  # a forged "revoked" cannot break a signature, nor a forged "good" save one
    (warning,) = report.warnings
    assert f"the OCSP responder at {OCSP_URL} gave no usable answer" in warning and message in warning


def test_a_responder_without_nonce_support_is_judged_by_time(timestamped, pki):
    report = offline(timestamped, pki)
    check_online(report, fetch=responder(pki, echo_nonce=False))
    assert report.valid and report.warnings == [] and report.signatures[0].revocation == "good"


def test_an_unreachable_responder_is_a_warning(timestamped, pki):
    def down(url: str, body: bytes) -> bytes:
        raise OcspFailure("cannot reach the responder (ConnectionError)")

    report = offline(timestamped, pki)
    check_online(report, fetch=down)
    assert report.valid and "cannot reach the responder" in report.warnings[0]


def test_a_signer_without_an_ocsp_url_is_noted(signed, pki):
    report = verify_pdf(signed, trust_roots=[pki.root.asn1])
    check_online(report, fetch=responder(pki))
    assert report.warnings == [
        "signature 1 (Signature1): the signer's certificate names no OCSP responder; judged from embedded data only"
    ]


def test_an_untrusted_signature_is_not_asked_about(timestamped, rogue_pki):
    calls: list[str] = []
    report = verify_pdf(timestamped, trust_roots=[rogue_pki.root.asn1])
    check_online(report, fetch=responder(rogue_pki, calls=calls))
    # its AIA URL comes from a certificate no trusted CA vouched for
    assert calls == [] and report.signatures[0].certificate_chain == []


# --- the HTTP edge --------------------------------------------------------------------------------


@pytest.fixture
def http_server() -> Iterator[Callable[[bytes, int], str]]:
    servers: list[http.server.HTTPServer] = []

    def serve(body: bytes, status: int = 200) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 -- the stdlib's name
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(status)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/ocsp"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_http_fetch_bounds_the_response_size(http_server):
    url = http_server(b"\x30" * (online.MAX_RESPONSE_BYTES + 10), 200)
    with pytest.raises(OcspFailure, match="larger than"):
        http_fetch(url, b"request")


def test_http_fetch_refuses_an_error_status(http_server):
    with pytest.raises(OcspFailure, match="HTTP status 500"):
        http_fetch(http_server(b"", 500), b"request")


def test_http_fetch_returns_the_body(http_server):
    assert http_fetch(http_server(b"\x30\x03\x0a\x01\x01", 200), b"request") == b"\x30\x03\x0a\x01\x01"

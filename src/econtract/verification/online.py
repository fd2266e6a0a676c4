"""``econtract verify --online``: ask each certificate's OCSP responder (RFC 6960) as well.

Offline, revocation is judged from the data embedded at signing (the DSS and the signatures'
revocation-info archival attributes). Online, for every signature whose certificate chains to a trust
root, each certificate on that validated path whose Authority Information Access names an OCSP
responder is asked about now. Only certificates on a validated path are asked, so every URL was
written by a trusted CA, not by whoever made the file: a crafted PDF cannot make the verifier send
requests to addresses of its choosing.

The judgement follows ETSI EN 319 102-1: a revoked certificate is compared against the best
signature time, the time the signature timestamp proves (the current time when there is none).

* revoked **after** it: the signature provably existed before the revocation and stays valid; the
  report carries a warning with the revocation time and reason;
* revoked **at or before** it: the signature is not valid (reason ``certificate_revoked``).

The time compared is the responder's ``revocationTime``, when the CA revoked the certificate. An
``invalidityDate`` (RFC 5280 §5.3.2: when the key is known or suspected to have been compromised) may
be earlier; ETSI does not judge by it, so it is reported in the warning and nothing more.

A response counts only when it answers our request: signed by the CA itself or by a responder
certificate the same CA issued for OCSP signing (id-kp-OCSPSigning) and valid when the response was
produced, echoing our nonce when it carries one, current (``thisUpdate`` not in the future,
``nextUpdate`` not past; without a nonce and ``nextUpdate``, at most an hour old), and naming our
CertID. Anything else, and any network failure, is a warning: the embedded judgement then stands.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, SignatureAlgorithmOID

from econtract.verification.services import SignatureReport, VerificationReport

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
NONCE_BYTES = 16
CLOCK_SKEW = timedelta(minutes=5)
MAX_AGE_WITHOUT_NEXT_UPDATE = timedelta(hours=1)

# The network edge: POST a DER request to a URL, return the DER response (tests pass their own).
Fetch = Callable[[str, bytes], bytes]
Answer = Literal["good", "revoked", "unknown"]


class OcspFailure(Exception):
    """The responder could not be asked, or its answer does not count."""


@dataclass(frozen=True)
class OcspResult:
    status: Answer
    url: str
    revocation_time: datetime | None = None
    reason: str = ""
    invalidity_date: datetime | None = None


def http_fetch(url: str, request_der: bytes) -> bytes:
    """POST an OCSP request (RFC 6960 Appendix A.1); at most :data:`MAX_RESPONSE_BYTES` are read."""
    try:
        with requests.post(
            url,
            data=request_der,
            headers={"Content-Type": "application/ocsp-request", "Accept": "application/ocsp-response"},
            timeout=TIMEOUT_SECONDS,
            stream=True,
            allow_redirects=False,
        ) as response:
            if response.status_code != 200:
                raise OcspFailure(f"HTTP status {response.status_code}")
            body = response.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise OcspFailure(f"cannot reach the responder ({type(exc).__name__})") from exc
    if len(body) > MAX_RESPONSE_BYTES:
        raise OcspFailure(f"the response is larger than {MAX_RESPONSE_BYTES} bytes")
    return bytes(body)


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    """The http(s) OCSP responder URLs in a certificate's Authority Information Access."""
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    urls = []
    for description in access:
        location = description.access_location
        if description.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            location, x509.UniformResourceIdentifier
        ):
            if urlsplit(location.value).scheme in ("http", "https"):
                urls.append(location.value)
    return urls


def ask_responder(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    url: str,
    *,
    fetch: Fetch = http_fetch,
    now: datetime | None = None,
) -> OcspResult:
    """Ask ``url`` about ``cert`` (issued by ``issuer``) and check the answer.

    :raises OcspFailure: no answer, or one that does not count (see the module docstring).
    """
    moment = now or datetime.now(UTC)
    nonce = os.urandom(NONCE_BYTES)
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303 -- RFC 5019 §2.1.1: SHA-1 CertIDs identify
        .add_extension(x509.OCSPNonce(nonce), critical=False)
        .build()
    )
    body = fetch(url, request.public_bytes(Encoding.DER))
    try:
        response = ocsp.load_der_ocsp_response(body)
    except ValueError as exc:
        raise OcspFailure("the answer is not an OCSP response") from exc
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OcspFailure(f"the responder answered {response.response_status.name.lower()}")
    _check_signature(response, issuer)
    _check_nonce(response, nonce)
    single = _matching_single(response, request)
    _check_freshness(single, response, moment, nonce_echoed=_has_nonce(response))
    if single.certificate_status == ocsp.OCSPCertStatus.GOOD:
        return OcspResult("good", url)
    if single.certificate_status == ocsp.OCSPCertStatus.UNKNOWN:
        return OcspResult("unknown", url)
    reason = single.revocation_reason.name if single.revocation_reason is not None else "unspecified"
    return OcspResult(
        "revoked",
        url,
        revocation_time=single.revocation_time_utc,
        reason=reason,
        invalidity_date=_invalidity_date(response),
    )


def _check_signature(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> None:
    """Signed by the CA itself, or by a responder the CA authorised (RFC 6960 §4.2.2.2)."""
    responder = _responder_certificate(response, issuer)
    try:
        _verify(responder.public_key(), response)
    except InvalidSignature:
        raise OcspFailure("the response's signature does not verify") from None


def _responder_certificate(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> x509.Certificate:
    if _names_responder(response, issuer):
        return issuer
    produced = response.produced_at_utc
    for candidate in response.certificates:
        if not _names_responder(response, candidate) or candidate.issuer != issuer.subject:
            continue
        try:
            candidate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            continue
        try:
            usages = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING not in usages:
            continue
        if not candidate.not_valid_before_utc <= produced <= candidate.not_valid_after_utc:
            continue
        return candidate
    raise OcspFailure("the response is signed neither by the CA nor by a responder the CA authorised")


def _names_responder(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    if response.responder_key_hash is not None:
        return (
            response.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
        )
    return response.responder_name == cert.subject


def _verify(key: object, response: ocsp.OCSPResponse) -> None:
    data, signature = response.tbs_response_bytes, response.signature
    algorithm = response.signature_hash_algorithm
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        key.verify(signature, data)
        return
    if algorithm is None:
        raise OcspFailure("the response's signature algorithm is not supported")
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(algorithm))
    elif isinstance(key, rsa.RSAPublicKey):
        if response.signature_algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS:
            pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=padding.PSS.AUTO)
            key.verify(signature, data, pss, algorithm)
        else:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
    else:
        raise OcspFailure("the responder's key type is not supported")


def _has_nonce(response: ocsp.OCSPResponse) -> bool:
    try:
        response.extensions.get_extension_for_class(x509.OCSPNonce)
    except x509.ExtensionNotFound:
        return False
    return True


def _check_nonce(response: ocsp.OCSPResponse, nonce: bytes) -> None:
    try:
        echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return  # RFC 8954: responders may not echo nonces; freshness is then checked by time
    if echoed != nonce:
        raise OcspFailure("the response answers another request (nonce mismatch)")


def _matching_single(response: ocsp.OCSPResponse, request: ocsp.OCSPRequest) -> ocsp.OCSPSingleResponse:
    for single in response.responses:
        if (
            single.serial_number == request.serial_number
            and single.issuer_name_hash == request.issuer_name_hash
            and single.issuer_key_hash == request.issuer_key_hash
            and isinstance(single.hash_algorithm, type(request.hash_algorithm))
        ):
            return single
    raise OcspFailure("the response does not answer for this certificate")


def _check_freshness(
    single: ocsp.OCSPSingleResponse, response: ocsp.OCSPResponse, now: datetime, *, nonce_echoed: bool
) -> None:
    if single.this_update_utc > now + CLOCK_SKEW:
        raise OcspFailure("the response's thisUpdate is in the future")
    next_update = single.next_update_utc
    if next_update is not None and next_update < now - CLOCK_SKEW:
        raise OcspFailure("the response is stale (nextUpdate has passed)")
    if (
        next_update is None
        and not nonce_echoed
        and now - single.this_update_utc > MAX_AGE_WITHOUT_NEXT_UPDATE
    ):
        raise OcspFailure("the response is more than an hour old and carries neither nonce nor nextUpdate")


def _invalidity_date(response: ocsp.OCSPResponse) -> datetime | None:
    try:
        value = response.single_extensions.get_extension_for_class(x509.InvalidityDate).value
    except x509.ExtensionNotFound:
        return None
    return value.invalidity_date_utc


# --- the report -----------------------------------------------------------------------------------


def check_online(
    report: VerificationReport, *, fetch: Fetch = http_fetch, now: datetime | None = None
) -> None:
    """Ask the OCSP responders of every validated signature; amend ``report`` in place."""
    report.revocation_source = "online"
    for index, signature in enumerate(report.signatures, start=1):
        _check_signature_online(report, index, signature, fetch, now)
    report.valid = report.valid and all(signature.acceptable for signature in report.signatures)


def _check_signature_online(
    report: VerificationReport, index: int, signature: SignatureReport, fetch: Fetch, now: datetime | None
) -> None:
    label = f"signature {index} ({signature.field})"
    try:
        chain = [x509.load_der_x509_certificate(base64.b64decode(der)) for der in signature.certificate_chain]
    except ValueError:
        report.warnings.append(f"{label}: its certificates could not be read for the online check")
        return
    if len(chain) < 2:
        if signature.trusted:
            report.warnings.append(f"{label}: no certificate path to ask OCSP responders about")
        return
    proven = signature.timestamp_time if signature.timestamp_valid else None
    best_time = proven or now or datetime.now(UTC)
    for position, (cert, issuer) in enumerate(zip(chain, chain[1:], strict=False)):
        who = "the signer's certificate" if position == 0 else f"the CA certificate {_name(cert)}"
        urls = ocsp_urls(cert)
        if not urls:
            if position == 0:
                report.warnings.append(
                    f"{label}: {who} names no OCSP responder; judged from embedded data only"
                )
            continue
        try:
            result = ask_responder(cert, issuer, urls[0], fetch=fetch, now=now)
        except OcspFailure as exc:
            report.warnings.append(f"{label}: the OCSP responder at {urls[0]} gave no usable answer ({exc})")
            continue
        if result.status == "good" and position == 0 and signature.revocation == "unknown":
            signature.revocation = "good"
        _apply(report, label, who, signature, result, best_time, timestamped=proven is not None)


def _apply(
    report: VerificationReport,
    label: str,
    who: str,
    signature: SignatureReport,
    result: OcspResult,
    best_time: datetime,
    *,
    timestamped: bool,
) -> None:
    if result.status == "unknown":
        report.warnings.append(f"{label}: the OCSP responder at {result.url} does not know {who}")
        return
    if result.status == "good":
        return
    assert result.revocation_time is not None
    when = f"on {result.revocation_time.isoformat()}, reason {result.reason}"
    if result.invalidity_date is not None:
        when += f", key invalid since {result.invalidity_date.isoformat()}"
    if timestamped and result.revocation_time > best_time:
        # ETSI EN 319 102-1: the timestamp proves the signature existed before the revocation.
        if signature.revocation == "unknown":
            signature.revocation = "good"
        report.warnings.append(
            f"{label}: {who} was revoked {when} (OCSP, {result.url}), after the signature's timestamp "
            f"{best_time.isoformat()}; the signature stays valid"
        )
        return
    moment = f"the signature's timestamp {best_time.isoformat()}" if timestamped else "now (no timestamp)"
    signature.revocation = "revoked"
    signature.trusted = False
    signature.fail("certificate_revoked", f"{who} was revoked {when} (OCSP, {result.url}), before {moment}")


def _name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()

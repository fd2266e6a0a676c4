"""The OCSP responder (RFC 6960), answering for certificates of the issuing CA.

Responses are signed by a delegated responder certificate (EKU OCSPSigning, id-pkix-ocsp-nocheck) that
the issuing CA issued, and carry that certificate. Each requested CertID is echoed as sent; SHA-1,
SHA-256, SHA-384 and SHA-512 CertIDs are matched. A serial we never issued is "unknown"; a request in
which no CertID names our issuing CA gets ``unauthorized`` (RFC 5019 §2.2.3). Garbage gets
``malformedRequest``, never an exception.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from asn1crypto import core, ocsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from econtract.pki import profile
from econtract.pki.errors import UnknownCertificate
from econtract.pki.hierarchy import PlatformIdentity, Role, platform_certificate, platform_identity
from econtract.pki.issuance import certificate_status

logger = logging.getLogger("econtract.pki")

CERT_ID_HASHES = ("sha1", "sha256", "sha384", "sha512")
# pyHanko's own OCSP client and RFC 5019 §2.1.1 use SHA-1 CertIDs; it identifies, it does not protect.
IN_PROCESS_CERT_ID_HASH = "sha1"
MAX_REQUESTS_PER_QUERY = 16
MAX_NONCE_BYTES = 32  # RFC 8954 §2.1


class MalformedRequest(Exception):
    pass


def _status_only(status: str) -> ocsp.OCSPResponse:
    return ocsp.OCSPResponse({"response_status": status})


def _issuer_hashes(issuer: asn1_x509.Certificate, algorithm: str) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash): digests of the issuer's DER name and of its public key bits."""
    name_hash = hashlib.new(algorithm, issuer.subject.dump()).digest()
    # The key hash covers the BIT STRING value without its unused-bits octet (RFC 6960 §4.1.1).
    key_hash = hashlib.new(algorithm, issuer.public_key["public_key"].contents[1:]).digest()
    return name_hash, key_hash


def _cert_id(
    certificate: asn1_x509.Certificate, issuer: asn1_x509.Certificate, algorithm: str
) -> ocsp.CertId:
    name_hash, key_hash = _issuer_hashes(issuer, algorithm)
    return ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": algorithm},
            "issuer_name_hash": name_hash,
            "issuer_key_hash": key_hash,
            "serial_number": certificate.serial_number,
        }
    )


def _parse_request(request_der: bytes) -> tuple[list[ocsp.CertId], bytes | None]:
    try:
        request = ocsp.OCSPRequest.load(bytes(request_der), strict=True)
        request.native  # noqa: B018 -- asn1crypto parses lazily; force a full parse here
        tbs = request["tbs_request"]
        cert_ids = [entry["req_cert"] for entry in tbs["request_list"]]
        nonce: bytes | None = None
        for extension in tbs["request_extensions"] or []:
            if extension["extn_id"].native == "nonce":
                nonce = extension["extn_value"].parsed.native
    except Exception as exc:  # asn1crypto raises ValueError, TypeError, KeyError... on hostile input
        raise MalformedRequest(str(exc)) from exc
    if not cert_ids or len(cert_ids) > MAX_REQUESTS_PER_QUERY:
        raise MalformedRequest("request list empty or too long")
    if nonce is not None and not 1 <= len(nonce) <= MAX_NONCE_BYTES:
        raise MalformedRequest("nonce must be 1..32 octets")
    return cert_ids, nonce


def _truncated_now() -> datetime:
    # RFC 5019 §2.2.4 / RFC 5280 §4.1.2.5.2: GeneralizedTime without fractional seconds.
    return timezone.now().replace(microsecond=0)


def _single_response(
    cert_id: ocsp.CertId, issuing: asn1_x509.Certificate, issuer_key_id: bytes, now: datetime
) -> ocsp.SingleResponse | None:
    """The answer for one CertID, or None when it does not name our issuing CA."""
    algorithm = cert_id["hash_algorithm"]["algorithm"].native
    if algorithm not in CERT_ID_HASHES:
        return None
    name_hash, key_hash = _issuer_hashes(issuing, algorithm)
    if cert_id["issuer_name_hash"].native != name_hash or cert_id["issuer_key_hash"].native != key_hash:
        return None
    found = certificate_status(issuer_key_id, cert_id["serial_number"].native)
    if found.status == "revoked":
        assert found.revoked_at is not None
        revoked: dict[str, object] = {"revocation_time": found.revoked_at.replace(microsecond=0)}
        if found.reason and found.reason != "unspecified":
            revoked["revocation_reason"] = found.reason
        status = ocsp.CertStatus(name="revoked", value=ocsp.RevokedInfo(revoked))
    else:
        status = ocsp.CertStatus(name=found.status, value=core.Null())
    return ocsp.SingleResponse(
        {
            "cert_id": cert_id,
            "cert_status": status,
            "this_update": now,
            "next_update": now + profile.OCSP_RESPONSE_LIFETIME,
        }
    )


def _signed_response(
    singles: list[ocsp.SingleResponse], nonce: bytes | None, responder: PlatformIdentity, now: datetime
) -> ocsp.OCSPResponse:
    responder_cert = responder.asn1
    response_data: dict[str, object] = {
        "responder_id": ocsp.ResponderId(name="by_key", value=responder_cert.public_key.sha1),
        "produced_at": now,
        "responses": singles,
    }
    if nonce is not None:
        response_data["response_extensions"] = [
            {"extn_id": "nonce", "critical": False, "extn_value": core.OctetString(nonce)}
        ]
    tbs = ocsp.ResponseData(response_data)
    signature = responder.private_key.sign(tbs.dump(), ec.ECDSA(hashes.SHA256()))
    basic = ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": tbs,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": signature,
            "certs": [responder_cert],
        }
    )
    return ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    )


def _issuing_and_responder() -> tuple[asn1_x509.Certificate, bytes, PlatformIdentity]:
    # Only the responder's key is unsealed; the issuing CA's key is not needed to answer.
    issuing = platform_certificate(Role.ISSUING)
    return issuing, issuing.key_identifier, platform_identity(Role.OCSP)


def ocsp_response(request_der: bytes) -> ocsp.OCSPResponse:
    try:
        cert_ids, nonce = _parse_request(request_der)
    except MalformedRequest as exc:
        logger.info("Malformed OCSP request: %s", exc)
        return _status_only("malformed_request")
    try:
        issuing, issuer_key_id, responder = _issuing_and_responder()
        now = _truncated_now()
        singles = [_single_response(cert_id, issuing, issuer_key_id, now) for cert_id in cert_ids]
        if all(single is None for single in singles):
            return _status_only("unauthorized")
        answered = [
            single
            if single is not None
            else ocsp.SingleResponse(
                {
                    "cert_id": cert_id,
                    "cert_status": ocsp.CertStatus(name="unknown", value=core.Null()),
                    "this_update": now,
                    "next_update": now + profile.OCSP_RESPONSE_LIFETIME,
                }
            )
            for cert_id, single in zip(cert_ids, singles, strict=True)
        ]
        return _signed_response(answered, nonce, responder, now)
    except Exception:
        logger.exception("OCSP responder failed")
        return _status_only("internal_error")


def ocsp_response_der(request_der: bytes) -> bytes:
    """Answer a DER OCSPRequest with a DER OCSPResponse; never raises."""
    return ocsp_response(request_der).dump()


def ocsp_response_for_certificate(certificate: asn1_x509.Certificate) -> ocsp.OCSPResponse:
    """A signed response about one certificate of the issuing CA, made in process (no HTTP), for
    embedding as validation data (PAdES B-LT) right after signing."""
    issuing, issuer_key_id, responder = _issuing_and_responder()
    if certificate.issuer.dump() != issuing.subject.dump() or (
        certificate.authority_key_identifier is not None
        and certificate.authority_key_identifier != issuer_key_id
    ):
        raise UnknownCertificate("certificate was not issued by the platform's issuing CA")
    now = _truncated_now()
    single = _single_response(
        _cert_id(certificate, issuing, IN_PROCESS_CERT_ID_HASH), issuing, issuer_key_id, now
    )
    assert single is not None
    if single["cert_status"].name == "unknown":
        raise UnknownCertificate(
            f"serial {certificate.serial_number} is not in the issued-certificate records"
        )
    return _signed_response([single], None, responder, now)

"""The platform's RFC 3161 time-stamping authority, and pyHanko clients for it.

Tokens are CMS SignedData (RFC 5652) over a TSTInfo, signed with the TSA's ECDSA P-256 key and
SHA-256, with the signed attributes contentType, messageDigest, signingTime and ESS
signingCertificateV2 (RFC 5035; ``openssl ts -verify`` insists on it). genTime is whole seconds with
an accuracy of one second. Each token gets a random 159-bit serial and an audit row (TimestampRecord).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.utils import timezone
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper, TimestampRequestError

from econtract.pki import ca, profile
from econtract.pki.hierarchy import (
    PlatformIdentity,
    Role,
    ensure_platform_pki,
    platform_certificate,
    platform_identity,
)
from econtract.pki.models import TimestampRecord

logger = logging.getLogger("econtract.pki")

# Accepted message-imprint algorithms and their digest lengths.
IMPRINT_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
MAX_REQUEST_BYTES = 64 * 1024
ACCURACY_SECONDS = 1


class _Rejected(Exception):
    def __init__(self, fail_info: str, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


@dataclass(frozen=True)
class _Request:
    imprint: tsp.MessageImprint
    algorithm: str
    digest: bytes
    nonce: int | None
    cert_req: bool


class TimeStampResponse(core.Sequence):
    """RFC 3161 §2.4.2 TimeStampResp. asn1crypto 1.5's ``tsp.TimeStampResp`` declares timeStampToken
    mandatory, so it can neither encode nor parse a rejection (which has no token): use this instead."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


def _rejection(fail_info: str, text: str) -> TimeStampResponse:
    return TimeStampResponse(
        {
            "status": {
                "status": "rejection",
                "status_string": [text],
                "fail_info": tsp.PKIFailureInfo({fail_info}),
            }
        }
    )


def _parse(request_der: bytes) -> _Request:
    try:
        request = tsp.TimeStampReq.load(bytes(request_der), strict=True)
        request.native  # noqa: B018 -- asn1crypto parses lazily; force a full parse of hostile input here
    except Exception as exc:
        raise _Rejected("bad_data_format", "request is not a DER TimeStampReq") from exc
    if request["version"].native != "v1":
        raise _Rejected("bad_request", "unsupported TimeStampReq version")
    imprint = request["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm not in IMPRINT_DIGEST_SIZES:
        raise _Rejected("bad_alg", f"unsupported hash algorithm {algorithm}")
    if imprint["hash_algorithm"]["parameters"].native is not None:
        raise _Rejected("bad_alg", "hash algorithm parameters must be absent or NULL")
    digest = imprint["hashed_message"].native
    if len(digest) != IMPRINT_DIGEST_SIZES[algorithm]:
        raise _Rejected("bad_data_format", "message imprint length does not match its algorithm")
    policy = request["req_policy"].native
    if policy is not None and policy != profile.TSA_POLICY_OID:
        raise _Rejected("unaccepted_policy", f"this TSA only issues under policy {profile.TSA_POLICY_OID}")
    if request["extensions"].native:
        raise _Rejected("unaccepted_extensions", "request extensions are not supported")
    return _Request(
        imprint=imprint,
        algorithm=algorithm,
        digest=digest,
        nonce=request["nonce"].native,
        cert_req=bool(request["cert_req"].native),
    )


def _attribute(kind: str, value: object) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": kind, "values": [value]})


def _cms_time(moment: datetime) -> cms.Time:
    # RFC 5652 §11.3: UTCTime through 2049, GeneralizedTime from 2050.
    if moment.year < 2050:
        return cms.Time(name="utc_time", value=core.UTCTime(moment))
    return cms.Time(name="generalized_time", value=core.GeneralizedTime(moment))


def _signing_certificate_v2(certificate: asn1_x509.Certificate) -> tsp.SigningCertificateV2:
    return tsp.SigningCertificateV2(
        {
            "certs": [
                {
                    # hashAlgorithm defaults to SHA-256 and is omitted (DER drops DEFAULT values).
                    "hash_algorithm": {"algorithm": "sha256"},
                    "cert_hash": hashlib.sha256(certificate.dump()).digest(),
                    "issuer_serial": {
                        "issuer": [asn1_x509.GeneralName(name="directory_name", value=certificate.issuer)],
                        "serial_number": certificate.serial_number,
                    },
                }
            ]
        }
    )


def _token(
    request: _Request,
    tsa: PlatformIdentity,
    chain: list[asn1_x509.Certificate],
    serial: int,
    gen_time: datetime,
) -> cms.ContentInfo:
    tsa_cert = tsa.asn1
    tst_info: dict[str, object] = {
        "version": "v1",
        "policy": profile.TSA_POLICY_OID,
        "message_imprint": request.imprint,
        "serial_number": serial,
        "gen_time": gen_time,
        "accuracy": {"seconds": ACCURACY_SECONDS},
        "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa_cert.subject),
    }
    if request.nonce is not None:
        tst_info["nonce"] = request.nonce
    content = tsp.TSTInfo(tst_info).dump()
    signed_attrs = cms.CMSAttributes(
        [
            _attribute("content_type", "tst_info"),
            _attribute("signing_time", _cms_time(gen_time)),
            _attribute("message_digest", hashlib.sha256(content).digest()),
            _attribute("signing_certificate_v2", _signing_certificate_v2(tsa_cert)),
        ]
    )
    signature = tsa.private_key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
    digest_algorithm = algos.DigestAlgorithm({"algorithm": "sha256"})
    signed_data: dict[str, object] = {
        "version": "v3",
        "digest_algorithms": [digest_algorithm],
        "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(content)},
        "signer_infos": [
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    name="issuer_and_serial_number",
                    value={"issuer": tsa_cert.issuer, "serial_number": tsa_cert.serial_number},
                ),
                "digest_algorithm": digest_algorithm,
                "signed_attrs": signed_attrs,
                "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                "signature": signature,
            }
        ],
    }
    # RFC 3161 §2.4.1: certificates MUST be present when certReq is true and MUST NOT be otherwise.
    if request.cert_req:
        signed_data["certificates"] = [tsa_cert, *chain]
    return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})


def _issue(request: _Request) -> cms.ContentInfo:
    ensure_platform_pki()
    tsa = platform_identity(Role.TSA)
    now = timezone.now()
    if not tsa.certificate.not_valid_before_utc <= now < tsa.certificate.not_valid_after_utc:
        raise _Rejected("time_not_available", "the TSA certificate is not valid now")
    chain = [platform_certificate(Role.ISSUING)]
    for _attempt in range(3):
        serial = ca.random_serial_number()
        gen_time = timezone.now().replace(microsecond=0)
        token = _token(request, tsa, chain, serial, gen_time)
        try:
            with transaction.atomic():
                TimestampRecord.objects.create(
                    serial_number=str(serial),
                    gen_time=gen_time,
                    message_imprint=request.digest.hex(),
                    hash_algorithm=request.algorithm,
                    policy_oid=profile.TSA_POLICY_OID,
                    nonce=None if request.nonce is None else str(request.nonce),
                    tsa_certificate_serial=str(tsa.certificate.serial_number),
                )
        except IntegrityError:
            continue  # a 159-bit serial collided; draw another
        return token
    raise _Rejected("system_failure", "could not allocate a unique serial number")


def timestamp_reply(request_der: bytes) -> TimeStampResponse:
    try:
        request = _parse(request_der)
        token = _issue(request)
    except _Rejected as rejected:
        logger.info("Time-stamp request rejected: %s", rejected.text)
        return _rejection(rejected.fail_info, rejected.text)
    except Exception:
        logger.exception("Time-stamping failed")
        return _rejection("system_failure", "internal error")
    return TimeStampResponse({"status": {"status": "granted"}, "time_stamp_token": token})


def timestamp_reply_der(request_der: bytes) -> bytes:
    """Answer a DER TimeStampReq with a DER TimeStampResp (granted, or a rejection); never raises."""
    return timestamp_reply(request_der).dump()


class InProcessTimeStamper(TimeStamper):
    """A pyHanko TimeStamper that asks the platform TSA directly instead of over HTTP.

    pyHanko runs this inside an event loop, where Django refuses database access; the TSA code (which
    reads its key and writes an audit row) therefore runs in a worker thread that borrows the database
    connection of the thread that created this object, so the audit row joins that thread's transaction
    (and a SQLite write lock held there cannot deadlock against it).

    Create it in the thread that runs the signing and waits for it: a plain ``sign_pdf`` call, an
    ``async_to_sync`` wrapper, or an async view's own thread. Do not share one instance across threads.
    """

    def __init__(self, include_nonce: bool = True, using: str = DEFAULT_DB_ALIAS) -> None:
        super().__init__(include_nonce=include_nonce)
        self._using = using
        self._connection = connections[using]

    def _reply_on_borrowed_connection(self, request_der: bytes) -> bytes:
        connection = self._connection
        own = connections[self._using]  # this worker thread's wrapper, restored afterwards
        connection.inc_thread_sharing()
        connections[self._using] = connection
        try:
            return timestamp_reply_der(request_der)
        finally:
            connections[self._using] = own
            connection.dec_thread_sharing()

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        reply = await asyncio.to_thread(self._reply_on_borrowed_connection, req.dump())
        status = TimeStampResponse.load(reply)["status"]
        if status["status"].native != "granted":
            raise TimestampRequestError(
                f"the platform TSA refused: {'; '.join(status['status_string'].native or [])} "
                f"({', '.join(sorted(status['fail_info'].native or []))})"
            )
        return tsp.TimeStampResp.load(reply)


def get_timestamper() -> TimeStamper:
    """The TSA client for signing: the external TSA at ECONTRACT_TSA_URL, else ours in process."""
    url = str(getattr(settings, "ECONTRACT_TSA_URL", "") or "")
    if url:
        return HTTPTimeStamper(url)
    return InProcessTimeStamper()

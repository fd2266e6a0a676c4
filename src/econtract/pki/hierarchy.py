"""The platform's own certificates and keys: created once, loaded on demand, leaf ones rolled over.

Creation is idempotent and safe across processes: each role has at most one active row (a partial
unique constraint), every process that finds a role missing builds a candidate, and the one whose
insert loses the race discards its candidate and uses the winner's.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, transaction
from django.utils import timezone

from econtract.accounts.models import User
from econtract.pki import ca, kek, profile
from econtract.pki.errors import PkiError, PkiNotInitialised
from econtract.pki.models import CertificateProfile, IssuedCertificate, PlatformCertificate, PlatformRole

logger = logging.getLogger("econtract.pki")

Role = PlatformRole

_CURVES: dict[str, ec.EllipticCurve] = {
    Role.ROOT: ec.SECP384R1(),
    Role.ISSUING: ec.SECP384R1(),
    Role.TSA: ec.SECP256R1(),
    Role.OCSP: ec.SECP256R1(),
    Role.EVIDENCE: ec.SECP256R1(),
}
# How long a leaf platform key is used before a fresh key and certificate replace it.
_KEY_USE: dict[str, timedelta] = {
    Role.TSA: profile.TSA_KEY_USE,
    Role.OCSP: profile.OCSP_RESPONDER_KEY_USE,
    Role.EVIDENCE: profile.EVIDENCE_KEY_USE,
}
_ISSUED_PROFILE = {
    Role.TSA: CertificateProfile.TSA,
    Role.OCSP: CertificateProfile.OCSP,
    Role.EVIDENCE: CertificateProfile.EVIDENCE,
}


@dataclass(frozen=True)
class PlatformIdentity:
    """A platform certificate with its private key, unsealed in memory."""

    role: str
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    @property
    def asn1(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.certificate.public_bytes(serialization.Encoding.DER))

    @property
    def key_id(self) -> bytes:
        return self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


class _LostRace(Exception):
    pass


def _aad(role: str) -> bytes:
    return f"econtract/platform-key/v1/{role}".encode()


def _unseal_key(record: PlatformCertificate, certificate: x509.Certificate) -> ec.EllipticCurvePrivateKey:
    der = kek.unseal(bytes(record.encrypted_private_key), _aad(record.role))
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"platform {record.role} key is not an EC key")
    if key.public_key() != certificate.public_key():
        raise PkiError(f"platform {record.role} key does not match its certificate")
    return key


def _active_records() -> dict[str, PlatformCertificate]:
    return {record.role: record for record in PlatformCertificate.objects.filter(active=True)}


def _due_for_rollover(record: PlatformCertificate, now: datetime) -> bool:
    key_use = _KEY_USE.get(record.role)
    if key_use is None:
        return False
    certificate = x509.load_der_x509_certificate(bytes(record.certificate_der))
    return now >= certificate.not_valid_before_utc + key_use or now >= certificate.not_valid_after_utc


def _store(
    role: str,
    certificate: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    *,
    replaces: PlatformCertificate | None,
    issuer_key_id: bytes | None,
) -> None:
    key_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        with transaction.atomic():
            if replaces is not None:
                retired = PlatformCertificate.objects.filter(pk=replaces.pk, active=True).update(active=False)
                if retired == 0:
                    raise _LostRace
            PlatformCertificate.objects.create(
                role=role,
                serial_number=str(certificate.serial_number),
                certificate_der=certificate.public_bytes(serialization.Encoding.DER),
                encrypted_private_key=kek.seal(key_der, _aad(role)),
            )
            if role in _ISSUED_PROFILE and issuer_key_id is not None:
                record_issued(certificate, _ISSUED_PROFILE[role], issuer_key_id=issuer_key_id, user=None)
    except IntegrityError as exc:
        raise _LostRace from exc


def record_issued(
    certificate: x509.Certificate,
    profile_name: str,
    *,
    issuer_key_id: bytes,
    user: User | None,
    assurance_level: str = "",
) -> IssuedCertificate:
    from econtract.evidence.services import RequestContext, record_event

    der = certificate.public_bytes(serialization.Encoding.DER)
    issued = IssuedCertificate.objects.create(
        assurance_level=assurance_level,
        serial_number=str(certificate.serial_number),
        issuer_key_id=issuer_key_id.hex(),
        profile=profile_name,
        user=user,
        subject_dn=certificate.subject.rfc4514_string(),
        certificate_der=der,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )
    # The log holds the certificate's SHA-256: anyone can later show which certificate was issued when.
    record_event(
        "certificate_issued",
        issued,
        RequestContext.system("pki"),
        document_sha256=hashlib.sha256(der).hexdigest(),
        payload={
            "serial": str(certificate.serial_number),
            "issuer_key_id": issuer_key_id.hex(),
            "profile": profile_name,
            "subject": certificate.subject.rfc4514_string(),
            "not_after": certificate.not_valid_after_utc.isoformat(),
        },
    )
    return issued


def _ensure_role(
    role: str,
    build: Callable[[ec.EllipticCurvePrivateKey], tuple[x509.Certificate, bytes | None]],
) -> None:
    for _attempt in range(5):
        now = timezone.now()
        record = PlatformCertificate.objects.filter(role=role, active=True).first()
        if record is not None and not _due_for_rollover(record, now):
            return
        key = ca.generate_key(_CURVES[role])
        certificate, issuer_key_id = build(key)
        try:
            _store(role, certificate, key, replaces=record, issuer_key_id=issuer_key_id)
        except _LostRace:
            continue  # another process created or rolled it over first: use theirs
        if record is None:
            logger.info("Created the platform %s certificate, serial %s", role, certificate.serial_number)
        else:
            logger.info(
                "Rolled over the platform %s certificate, new serial %s", role, certificate.serial_number
            )
        return
    raise PkiError(f"could not settle the platform {role} certificate")


def ensure_platform_pki() -> None:
    """Create the root, issuing CA, TSA, OCSP responder and evidence service certificates if missing (or due
    to roll over)."""
    active = _active_records()
    now = timezone.now()
    if len(active) == len(Role.ALL) and not any(_due_for_rollover(r, now) for r in active.values()):
        return

    def build_root(key: ec.EllipticCurvePrivateKey) -> tuple[x509.Certificate, bytes | None]:
        return ca.build_root(key, timezone.now()), None

    def build_issuing(key: ec.EllipticCurvePrivateKey) -> tuple[x509.Certificate, bytes | None]:
        root = platform_identity(Role.ROOT)
        return ca.build_issuing(key, root.certificate, root.private_key, timezone.now()), None

    def build_tsa(key: ec.EllipticCurvePrivateKey) -> tuple[x509.Certificate, bytes | None]:
        issuing = platform_identity(Role.ISSUING)
        cert = ca.build_tsa(key.public_key(), issuing.certificate, issuing.private_key, timezone.now())
        return cert, issuing.key_id

    def build_ocsp(key: ec.EllipticCurvePrivateKey) -> tuple[x509.Certificate, bytes | None]:
        issuing = platform_identity(Role.ISSUING)
        cert = ca.build_ocsp_responder(
            key.public_key(), issuing.certificate, issuing.private_key, timezone.now()
        )
        return cert, issuing.key_id

    def build_evidence(key: ec.EllipticCurvePrivateKey) -> tuple[x509.Certificate, bytes | None]:
        issuing = platform_identity(Role.ISSUING)
        cert = ca.build_evidence_service(
            key.public_key(), issuing.certificate, issuing.private_key, timezone.now()
        )
        return cert, issuing.key_id

    _ensure_role(Role.ROOT, build_root)
    _ensure_role(Role.ISSUING, build_issuing)
    _ensure_role(Role.TSA, build_tsa)
    _ensure_role(Role.OCSP, build_ocsp)
    _ensure_role(Role.EVIDENCE, build_evidence)


def platform_identity(role: str) -> PlatformIdentity:
    """The active certificate and unsealed private key for ``role`` (root and issuing CA are never created
    here: call ``ensure_platform_pki`` first)."""
    record = PlatformCertificate.objects.filter(role=role, active=True).first()
    if record is None:
        raise PkiNotInitialised(f"no active platform {role} certificate; run ensure_platform_pki()")
    certificate = x509.load_der_x509_certificate(bytes(record.certificate_der))
    return PlatformIdentity(role=role, certificate=certificate, private_key=_unseal_key(record, certificate))


def platform_certificate(role: str) -> asn1_x509.Certificate:
    """The active certificate for ``role``, creating the platform PKI first if needed."""
    ensure_platform_pki()
    record = PlatformCertificate.objects.filter(role=role, active=True).first()
    if record is None:
        raise PkiNotInitialised(f"no active platform {role} certificate")
    return record.certificate


def root_certificate() -> asn1_x509.Certificate | None:
    """The root CA certificate, or None before the PKI exists (this never creates it)."""
    record = PlatformCertificate.objects.filter(role=Role.ROOT, active=True).first()
    return None if record is None else record.certificate


def root_certificate_pem() -> bytes:
    return pem.armor("CERTIFICATE", platform_certificate(Role.ROOT).dump())


def platform_chain() -> list[asn1_x509.Certificate]:
    """The CA chain above signer certificates, nearest first: [issuing CA, root CA]."""
    ensure_platform_pki()
    return [platform_certificate(Role.ISSUING), platform_certificate(Role.ROOT)]


def issuing_key_id() -> bytes:
    ensure_platform_pki()
    certificate = x509.load_der_x509_certificate(platform_certificate(Role.ISSUING).dump())
    return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest

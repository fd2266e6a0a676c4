"""Issuing and revoking signer certificates, and the CRLs that publish revocations.

CRLs are generated on request from the database, so a revocation shows in the next CRL and OCSP answer
at once; nothing is cached. The CRL number must grow monotonically (RFC 5280 §5.2.3) without a shared
counter: it is ``thisUpdate`` in Unix seconds shifted left 32 bits, plus the number of revoked entries.
Revocations are never undone (no certificateHold), so two CRLs with the same number have the same
thisUpdate and the same entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.db import transaction
from django.utils import timezone

from econtract.accounts.models import Organization, User
from econtract.pki import ca, profile
from econtract.pki.errors import InvalidRevocationReason
from econtract.pki.hierarchy import (
    PlatformIdentity,
    Role,
    ensure_platform_pki,
    platform_identity,
    record_issued,
)
from econtract.pki.models import CertificateProfile, IssuedCertificate, PlatformCertificate
from econtract.textinput import clean_line

# RFC 5280 §5.3.1 reason codes we accept. certificateHold is excluded: revocation is final here.
REVOCATION_REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "ca_compromise": x509.ReasonFlags.ca_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "privilege_withdrawn": x509.ReasonFlags.privilege_withdrawn,
}
UB_COMMON_NAME = 64  # RFC 5280 Appendix A upper bound, in characters
UB_PSEUDONYM = 128


@dataclass(frozen=True)
class CertificateStatus:
    status: str  # "good" | "revoked" | "unknown"
    revoked_at: datetime | None = None
    reason: str = ""


def _check_public_key(public_key: object) -> None:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if isinstance(public_key.curve, ec.SECP256R1 | ec.SECP384R1 | ec.SECP521R1):
            return
        raise ValueError(f"unsupported curve {public_key.curve.name}")
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size >= 2048:
            return
        raise ValueError("RSA keys must be at least 2048 bits")
    raise ValueError("signer keys must be ECDSA (P-256/384/521) or RSA")


def issue_signing_certificate(
    user: User | None,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    *,
    common_name: str,
    pseudonym: str,
    assurance_level: str = "L1",
    country: str = "",
    email: str = "",
    validity_days: int = profile.SIGNING_CERT_DEFAULT_DAYS,
    validity: timedelta | None = None,
    certificate_profile: str = CertificateProfile.SIGNING,
) -> IssuedCertificate:
    """Issue an end-entity signing certificate from the issuing CA and record it.

    ``common_name`` must be what the identity verification established (identity.assurance decides
    it; this function cannot know). ``pseudonym`` must be an opaque identifier (never an ID-card
    number): the certificate travels inside every signed document. ``assurance_level`` selects the
    certificate policy OID. ``certificate_profile`` is SIGNING for a long-term key, EVENT for a
    one-time key; ``validity`` overrides ``validity_days`` (event certificates live minutes).
    """
    common_name = common_name.strip()
    pseudonym = pseudonym.strip()
    if not common_name or len(common_name) > UB_COMMON_NAME:
        raise ValueError(f"common name must be 1..{UB_COMMON_NAME} characters")
    if not pseudonym or len(pseudonym) > UB_PSEUDONYM:
        raise ValueError(f"pseudonym must be 1..{UB_PSEUDONYM} characters")
    lifetime = validity if validity is not None else timedelta(days=validity_days)
    if lifetime <= timedelta(0):
        raise ValueError("the validity must be positive")
    if country and not (len(country) == 2 and country.isascii() and country.isalpha() and country.isupper()):
        raise ValueError("country must be an ISO 3166 alpha-2 code")
    if certificate_profile not in {CertificateProfile.SIGNING, CertificateProfile.EVENT}:
        raise ValueError(f"not a signer certificate profile: {certificate_profile!r}")
    policy_oid = profile.policy_oid_for_level(assurance_level)
    _check_public_key(public_key)
    ensure_platform_pki()
    issuing = platform_identity(Role.ISSUING)
    certificate = ca.build_signer(
        public_key,
        common_name=common_name,
        pseudonym=pseudonym,
        issuing=issuing.certificate,
        issuing_key=issuing.private_key,
        now=timezone.now(),
        lifetime=lifetime,
        policy_oid=policy_oid,
        country=country,
        email=email,
    )
    return record_issued(
        certificate,
        certificate_profile,
        issuer_key_id=issuing.key_id,
        user=user,
        assurance_level=assurance_level,
    )


def issue_organization_certificate(
    organization: Organization,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    *,
    validity_days: int = profile.ORGANIZATION_CERT_DEFAULT_DAYS,
) -> IssuedCertificate:
    """Issue a seal's certificate naming a verified organisation (legal person) and record it.

    The subject is what enterprise verification established: the registered name (O, and CN) and
    the unified social credit code (organizationIdentifier ``NTRCN-<USCC>``). The caller checks that
    the organisation is verified (seals.services does, under the seal's own error); this function
    only refuses names that cannot be written (ValueError). ``assurance_level`` stays "": levels are
    a natural person's; the organisation's verification method is on the organisation.
    """
    name = clean_line(organization.name, field="organization.name")
    if validity_days <= 0:
        raise ValueError("the validity must be positive")
    _check_public_key(public_key)
    ensure_platform_pki()
    issuing = platform_identity(Role.ISSUING)
    certificate = ca.build_organization(
        public_key,
        name=name,
        uscc=organization.uscc,
        issuing=issuing.certificate,
        issuing_key=issuing.private_key,
        now=timezone.now(),
        lifetime=timedelta(days=validity_days),
    )
    issued = record_issued(
        certificate, CertificateProfile.ORGANIZATION, issuer_key_id=issuing.key_id, user=None
    )
    IssuedCertificate.objects.filter(pk=issued.pk).update(organization=organization)
    issued.organization = organization
    return issued


def revoke_certificate(issued: IssuedCertificate, reason: str = "key_compromise") -> None:
    """Revoke at once (the next CRL and OCSP answer include it). Revoking twice keeps the first time."""
    if reason not in REVOCATION_REASONS:
        raise InvalidRevocationReason(f"unknown revocation reason {reason!r}")
    now = timezone.now()
    from econtract.evidence.services import RequestContext, record_event

    with transaction.atomic():
        revoked = IssuedCertificate.objects.filter(pk=issued.pk, revoked_at__isnull=True).update(
            revoked_at=now, revocation_reason=reason
        )
        if revoked:
            record_event(
                "certificate_revoked",
                issued,
                RequestContext.system("pki"),
                payload={"serial": issued.serial_number, "reason": reason},
            )
        # A revoked TSA or OCSP certificate must stop signing: retire it so a fresh one is made.
        PlatformCertificate.objects.filter(
            serial_number=issued.serial_number, role__in=[Role.TSA, Role.OCSP], revoked_at__isnull=True
        ).update(active=False, revoked_at=now, revocation_reason=reason)
    issued.refresh_from_db(fields=["revoked_at", "revocation_reason"])


def certificate_status(issuer_key_id: bytes, serial_number: int) -> CertificateStatus:
    row = (
        IssuedCertificate.objects.filter(issuer_key_id=issuer_key_id.hex(), serial_number=str(serial_number))
        .values_list("revoked_at", "revocation_reason")
        .first()
    )
    if row is None:
        return CertificateStatus("unknown")
    revoked_at, reason = row
    if revoked_at is None:
        return CertificateStatus("good")
    return CertificateStatus("revoked", revoked_at=revoked_at, reason=reason or "unspecified")


def _crl(issuer: PlatformIdentity, entries: list[tuple[str, datetime | None, str]]) -> bytes:
    this_update = timezone.now().replace(microsecond=0)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(this_update)
        .next_update(this_update + profile.CRL_LIFETIME)
        .add_extension(x509.CRLNumber((int(this_update.timestamp()) << 32) + len(entries)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                issuer.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
    )
    for serial_number, revoked_at, reason in entries:
        if revoked_at is None:  # the queries filter on revoked_at; this only narrows the type
            continue
        entry = x509.RevokedCertificateBuilder().serial_number(int(serial_number)).revocation_date(revoked_at)
        # RFC 5280 §5.3.1: leave the reasonCode out rather than say "unspecified".
        if reason and reason != "unspecified" and reason in REVOCATION_REASONS:
            entry = entry.add_extension(x509.CRLReason(REVOCATION_REASONS[reason]), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(issuer.private_key, ca.signature_hash(issuer.private_key))
    return crl.public_bytes(serialization.Encoding.DER)


def crl_der() -> bytes:
    """The full CRL of the issuing CA, freshly signed (nextUpdate in ``profile.CRL_LIFETIME``)."""
    ensure_platform_pki()
    issuing = platform_identity(Role.ISSUING)
    entries = list(
        IssuedCertificate.objects.filter(issuer_key_id=issuing.key_id.hex(), revoked_at__isnull=False)
        .order_by("revoked_at", "serial_number")
        .values_list("serial_number", "revoked_at", "revocation_reason")
    )
    return _crl(issuing, entries)


def arl_der() -> bytes:
    """The root's CRL of CA certificates (an ARL): lists revoked issuing CA certificates."""
    ensure_platform_pki()
    root = platform_identity(Role.ROOT)
    entries = list(
        PlatformCertificate.objects.filter(role=Role.ISSUING, revoked_at__isnull=False)
        .order_by("revoked_at", "serial_number")
        .values_list("serial_number", "revoked_at", "revocation_reason")
    )
    return _crl(root, entries)

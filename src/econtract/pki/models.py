"""The platform's certificates and keys, the certificates it issues, its timestamps and signer keys."""

from __future__ import annotations

import uuid

from asn1crypto import x509 as asn1_x509
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class PlatformRole:
    """Role names as plain strings (``PlatformCertificate.Role`` offers them as choices)."""

    ROOT = "root"
    ISSUING = "issuing"
    TSA = "tsa"
    OCSP = "ocsp"
    EVIDENCE = "evidence"  # signs evidence reports and package manifests (econtract.evidence.reports)
    ALL = (ROOT, ISSUING, TSA, OCSP, EVIDENCE)


class CertificateProfile:
    """Profile names of issued certificates as plain strings."""

    SIGNING = "signing"
    EVENT = "event"  # a one-time certificate for one signature; its key is destroyed after use
    ORGANIZATION = "organization"  # a seal's certificate: the subject is a verified organisation
    TSA = "tsa"
    OCSP = "ocsp"
    EVIDENCE = "evidence"


class PlatformCertificate(models.Model):
    """A certificate whose private key the platform holds: the CA hierarchy, the TSA, the OCSP responder,
    the evidence service.

    The private key is PKCS#8 DER sealed under the KEK (``kek.seal``) with associated data naming the
    role, so a key cannot be swapped into another role's row.
    """

    class Role(models.TextChoices):
        ROOT = PlatformRole.ROOT, _("root CA")
        ISSUING = PlatformRole.ISSUING, _("issuing CA")
        TSA = PlatformRole.TSA, _("time-stamping authority")
        OCSP = PlatformRole.OCSP, _("OCSP responder")
        EVIDENCE = PlatformRole.EVIDENCE, _("evidence service")

    role = models.CharField(max_length=16, choices=Role.choices)
    serial_number = models.CharField(max_length=64)
    certificate_der = models.BinaryField()
    encrypted_private_key = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=True)
    # Set when a CA certificate is revoked by its issuer; the root-signed CRL (ARL) lists it.
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["role"], condition=Q(active=True), name="pki_one_active_certificate_per_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.role} #{self.serial_number}{'' if self.active else ' (retired)'}"

    @property
    def certificate(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(bytes(self.certificate_der))


class IssuedCertificate(models.Model):
    """Every certificate the issuing CA signed: signer certificates and the platform's TSA/OCSP ones."""

    class Profile(models.TextChoices):
        SIGNING = CertificateProfile.SIGNING, _("signer")
        EVENT = CertificateProfile.EVENT, _("one-time event certificate")
        ORGANIZATION = CertificateProfile.ORGANIZATION, _("organisation seal")
        TSA = CertificateProfile.TSA, _("time-stamping authority")
        OCSP = CertificateProfile.OCSP, _("OCSP responder")
        EVIDENCE = CertificateProfile.EVIDENCE, _("evidence service")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    serial_number = models.CharField(max_length=64, unique=True)
    # Hex SubjectKeyIdentifier of the issuing CA, so a later CA rollover keeps CRL/OCSP scopes apart.
    issuer_key_id = models.CharField(max_length=64, db_index=True)
    profile = models.CharField(max_length=16, choices=Profile.choices, default=CertificateProfile.SIGNING)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,  # the record outlives the account: CRL and OCSP still answer for it
        related_name="certificates",
    )
    # The organisation a seal certificate names (profile organization); null for people and the platform.
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="certificates"
    )
    subject_dn = models.TextField()
    # The identity assurance level it was issued at ("" for the platform's own certificates).
    assurance_level = models.CharField(max_length=2, blank=True, default="")
    certificate_der = models.BinaryField()
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["issuer_key_id", "revoked_at"], name="pki_issued_revoked_idx")]

    def __str__(self) -> str:
        return f"{self.subject_dn} #{self.serial_number}"

    @property
    def certificate(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(bytes(self.certificate_der))

    @property
    def serial_int(self) -> int:
        return int(self.serial_number)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class TimestampRecord(models.Model):
    """An audit line for every RFC 3161 token the platform's TSA issued."""

    serial_number = models.CharField(max_length=64, unique=True)
    gen_time = models.DateTimeField()
    message_imprint = models.CharField(max_length=128)  # hex
    hash_algorithm = models.CharField(max_length=16)
    policy_oid = models.CharField(max_length=64)
    # Decimal; NULL (not "") when the request had no nonce, since 0 is a possible nonce value.
    nonce = models.CharField(max_length=80, null=True, blank=True)  # noqa: DJ001
    tsa_certificate_serial = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"TST #{self.serial_number} at {self.gen_time.isoformat()}"


class SignerKey(models.Model):
    """A signer's ECDSA key held by the platform (custody mode 1), wrapped under her PIN and the KEK.

    See ``econtract.pki.custody`` for the wrapping scheme. The plaintext key exists only in memory
    during a signing operation.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signer_key")
    public_key_der = models.BinaryField()
    wrapped_private_key = models.BinaryField()
    salt = models.BinaryField()
    kdf_memory_kib = models.PositiveIntegerField()
    kdf_passes = models.PositiveIntegerField()
    kdf_lanes = models.PositiveIntegerField()
    certificate = models.ForeignKey(IssuedCertificate, on_delete=models.PROTECT, related_name="signer_keys")
    failed_pin_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"signer key of {self.user_id}"


class PinCheck(models.Model):
    """A PIN check in flight: it holds one of the key's remaining attempts until it resolves.

    Resolving deletes it (a wrong PIN then counts in ``SignerKey.failed_pin_attempts``, a right one
    clears the count). A check whose process died never resolves: its lease lapses and it counts as
    nothing, so a crash can neither cost the signer an attempt nor give a guesser a free one.
    """

    signer_key = models.ForeignKey(SignerKey, on_delete=models.CASCADE, related_name="pin_checks")
    lease_expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"PIN check of {self.signer_key_id} until {self.lease_expires_at.isoformat()}"

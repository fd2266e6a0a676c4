"""Willingness checks: one-time codes sent to a user for one purpose."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class OtpChallenge(models.Model):
    class Purpose(models.TextChoices):
        SIGN = "sign", "sign"
        VERIFY_EMAIL = "verify_email", "verify email"
        VERIFY_IDENTITY = "verify_identity", "confirm the phone of an identity verification"
        PARTY_ACCESS = "party_access", "a party without an account proves her email or phone"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    # What the code unlocks, e.g. a party id; a code for one party never signs for another.
    subject = models.CharField(max_length=320)
    channel = models.CharField(max_length=16, default="email")
    destination = models.CharField(max_length=320)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    passed_at = models.DateTimeField(null=True, blank=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    superseded = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["purpose", "subject", "created_at"])]

    def __str__(self) -> str:
        return f"{self.purpose} code for {self.subject}"


class OtpSubject(models.Model):
    """One row per (purpose, subject) that codes were issued to: issuing locks it, so that "one code per
    20 s, 10 per hour" is counted by one request at a time (10 parallel requests get exactly one code)."""

    purpose = models.CharField(max_length=16, choices=OtpChallenge.Purpose.choices)
    subject = models.CharField(max_length=320)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["purpose", "subject"], name="one_otp_subject_row")]

    def __str__(self) -> str:
        return f"{self.purpose} codes for {self.subject}"


class AssuranceLevel(models.TextChoices):
    """How strongly a person's identity was established (docs/identity.md, "Assurance levels")."""

    L0 = "L0", "L0: nothing verified"
    L1 = "L1", "L1: contact verified (email, phone)"
    L2 = "L2", "L2: identity document checked by a provider"
    L3 = "L3", "L3: strong (bank card, face, eID/OIDC, manual review)"


ASSURANCE_ORDER = {AssuranceLevel.L0: 0, AssuranceLevel.L1: 1, AssuranceLevel.L2: 2, AssuranceLevel.L3: 3}


class IdentityVerification(models.Model):
    """One attempt to establish who a person is, by one method, and its outcome.

    Rows are never deleted: a rejected or revoked verification stays as the record of what was tried.
    The ID number, phone and bank card are sealed at rest (identity.vault) and kept masked beside;
    ``id_number_digest`` (a keyed hash) finds the same number across accounts without decrypting.
    A person without an account (a counterparty signing by link) has ``user`` null; the signing party
    points at her verification.
    """

    class Method(models.TextChoices):
        ID_2EL = "id_2el", "name + ID number"
        ID_3EL = "id_3el", "name + ID number + phone"
        BANK_4EL = "bank_4el", "bank card, 4 elements"
        FACE = "face", "face / liveness check"
        OIDC = "oidc", "OpenID Connect identity provider"
        MANUAL = "manual", "operator's review of document images"

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        VERIFIED = "verified", "verified"
        REJECTED = "rejected", "rejected"
        REVOKED = "revoked", "revoked"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="identity_verifications",
    )

    class Purpose(models.TextChoices):
        IDENTITY = "identity", "establish identity"
        PIN_RESET = "pin_reset", "re-verify to reset the signing PIN"
        SIGNING = "signing", "a party signing without an account"

    method = models.CharField(max_length=16, choices=Method.choices)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.IDENTITY)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The level this verification establishes once verified (L2 for 2/3 elements, L3 for the rest).
    assurance_level = models.CharField(max_length=2, choices=AssuranceLevel.choices)
    name = models.CharField(max_length=200)
    id_type = models.CharField(max_length=24, blank=True)
    id_number_sealed = models.BinaryField(blank=True, default=b"")
    id_number_masked = models.CharField(max_length=64, blank=True)
    id_number_digest = models.CharField(max_length=64, blank=True, db_index=True)
    phone_sealed = models.BinaryField(blank=True, default=b"")
    phone_masked = models.CharField(max_length=32, blank=True)
    bank_card_sealed = models.BinaryField(blank=True, default=b"")
    bank_card_masked = models.CharField(max_length=32, blank=True)
    country = models.CharField(max_length=2, blank=True)  # ISO 3166 alpha-2 of the document, "CN" mainland
    provider = models.CharField(max_length=200, blank=True)
    provider_reference = models.CharField(max_length=200, blank=True)
    sandbox = models.BooleanField(default=False)  # answered from test identities
    outcome = models.CharField(max_length=16, blank=True)  # the provider's answer (match, mismatch, ...)
    reason = models.TextField(blank=True)  # why rejected or revoked, as shown to the person
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "status", "verified_at"])]

    def __str__(self) -> str:
        return f"{self.method} {self.status} ({self.assurance_level}) for {self.user_id or 'a party'}"


class IdentityDocumentImage(models.Model):
    """A picture sent for a manual review or a face check, sealed at rest (identity.vault)."""

    class Kind(models.TextChoices):
        FRONT = "front", "document front"
        BACK = "back", "document back"
        SELFIE = "selfie", "photo of the person"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    verification = models.ForeignKey(IdentityVerification, on_delete=models.CASCADE, related_name="images")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    sealed = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} image of {self.verification_id}"


# Second factors (TOTP, passkeys, recovery codes) live in their own module, registered here.
from econtract.identity.factor_models import (  # noqa: E402,F401
    FactorLockout,
    RecoveryCode,
    TotpDevice,
    WebAuthnChallenge,
    WebAuthnCredential,
)

"""Second factors of an account: a TOTP app, WebAuthn passkeys, one-time recovery codes.

Imported by identity.models, so Django registers them in the identity app.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class TotpDevice(models.Model):
    """An authenticator app holding a shared secret (RFC 6238, SHA-1, 6 digits, 30 s).

    The secret is sealed at rest (identity.vault, purpose "identity.totp"). ``last_step`` is the
    newest time step a code was accepted for: a code is never accepted twice (replay).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_devices")
    name = models.CharField(max_length=100, default="Authenticator app")
    secret_sealed = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"TOTP {self.name} of {self.user_id}"


class WebAuthnCredential(models.Model):
    """A passkey registered by a WebAuthn registration ceremony for this platform's RP id."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webauthn_credentials"
    )
    name = models.CharField(max_length=100, default="Passkey")
    credential_id = models.CharField(max_length=1400, unique=True)  # base64url, as the browser names it
    public_key = models.BinaryField()  # COSE_Key
    sign_count = models.BigIntegerField(default=0)
    rp_id = models.CharField(max_length=253)
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=36, blank=True)
    backed_up = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"passkey {self.name} of {self.user_id}"


class WebAuthnChallenge(models.Model):
    """A challenge handed to the browser: answered once, within 5 minutes, for one purpose and subject."""

    class Ceremony(models.TextChoices):
        REGISTER = "register", "registration"
        AUTHENTICATE = "authenticate", "authentication"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    ceremony = models.CharField(max_length=16, choices=Ceremony.choices)
    purpose = models.CharField(max_length=32)
    subject = models.CharField(max_length=320)
    challenge = models.CharField(max_length=128, unique=True)  # base64url of 32 random bytes
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.ceremony} challenge for {self.user_id} ({self.purpose})"


class RecoveryCode(models.Model):
    """One of ten codes for when the factor is lost; only a SHA-256 is stored, each works once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "code_hash"])]

    def __str__(self) -> str:
        return f"recovery code {self.id} of {self.user_id}"


class FactorLockout(models.Model):
    """Wrong second-factor codes in a row (TOTP and recovery codes together); 5 lock the account's codes."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    failures = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.failures} wrong codes for {self.user_id}"

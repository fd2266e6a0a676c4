"""Willingness checks: one-time codes sent to a user for one purpose."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class OtpChallenge(models.Model):
    class Purpose(models.TextChoices):
        SIGN = "sign", "sign"
        VERIFY_EMAIL = "verify_email", "verify email"

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

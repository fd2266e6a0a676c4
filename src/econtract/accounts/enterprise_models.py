"""Enterprise organisations: verification attempts, departments and invitations (accounts.organizations)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrganizationVerification(models.Model):
    """One attempt to verify an organisation by one method, after the enterprise 4-element check.

    Secrets (the transfer's amount and code, the business licence image) are sealed with
    identity.vault; the bank account number is kept masked only.
    """

    class Method(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", _("bank transfer")
        OPERATOR_REVIEW = "operator_review", _("operator review of the business licence")
        AUTHORIZATION_LETTER = "authorization_letter", _("authorisation letter")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        VERIFIED = "verified", _("verified")
        REJECTED = "rejected", _("rejected")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="verifications"
    )
    method = models.CharField(max_length=32, choices=Method.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # the enterprise 4-element check (name + USCC + legal representative's name and number)
    provider = models.CharField(max_length=100, blank=True)
    provider_reference = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=16, blank=True)
    sandbox = models.BooleanField(default=False)
    # the member who asked (经办人) and her role then
    requested_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    requested_role = models.CharField(max_length=16, blank=True)
    # bank transfer
    attempts = models.PositiveSmallIntegerField(default=0)
    amount_sealed = models.BinaryField(null=True, blank=True)
    code_sealed = models.BinaryField(null=True, blank=True)
    bank_account_name = models.CharField(max_length=200, blank=True)
    bank_account_masked = models.CharField(max_length=40, blank=True)
    bank_name = models.CharField(max_length=200, blank=True)
    bank_reference = models.CharField(max_length=200, blank=True)
    # authorisation letter: the envelope (signing.Envelope, by id: accounts never depends on signing)
    envelope_id = models.UUIDField(null=True, blank=True)
    # operator review
    licence_sealed = models.BinaryField(null=True, blank=True)
    licence_content_type = models.CharField(max_length=64, blank=True)
    licence_sha256 = models.CharField(max_length=64, blank=True)
    licence_size = models.PositiveIntegerField(default=0)
    # the verdict
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.method} verification of {self.organization_id}: {self.status}"


class Department(models.Model):
    """A node of the organisation's department tree."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="departments"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    name = models.CharField(_("name"), max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "parent", "name"], name="one_department_name_per_parent"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Invitation(models.Model):
    """An emailed invitation to join an organisation; only a SHA-256 of its token is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=16)  # Membership.Role
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.organization_id}"

"""Users, organisations, memberships and API keys."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _


class EmailUserManager(UserManager):
    """Users log in with their email; `username` mirrors it for Django's admin."""

    def create_user(self, email, password=None, **extra):  # type: ignore[override]
        email = self.normalize_email(email).lower()
        extra.setdefault("username", email)
        return super().create_user(email=email, password=password, **extra)

    def create_superuser(self, email, password=None, **extra):  # type: ignore[override]
        email = self.normalize_email(email).lower()
        extra.setdefault("username", email)
        return super().create_superuser(email=email, password=password, **extra)


class User(AbstractUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(_("email"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # identity.models.AssuranceLevel, kept current by identity.assurance (never set by hand).
    assurance_level = models.CharField(max_length=2, default="L0")
    phone = models.CharField(_("mobile phone"), max_length=32, blank=True)  # E.164, once verified
    phone_verified_at = models.DateTimeField(null=True, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["username"]

    objects = EmailUserManager()

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class Organization(models.Model):
    class Kind(models.TextChoices):
        PERSONAL = "personal", _("personal")
        ENTERPRISE = "enterprise", _("enterprise")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ENTERPRISE)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(User, through="Membership", related_name="organizations")

    # Enterprise identity (accounts.organizations): the unified social credit code and the legal
    # representative, checked together against the identity provider, then verified by one method.
    class VerificationStatus(models.TextChoices):
        UNVERIFIED = "unverified", _("unverified")
        PENDING = "pending", _("pending")
        VERIFIED = "verified", _("verified")
        REJECTED = "rejected", _("rejected")

    uscc = models.CharField(_("unified social credit code"), max_length=18, blank=True, db_index=True)
    legal_rep_name = models.CharField(_("legal representative"), max_length=200, blank=True)
    legal_rep_id_type = models.CharField(max_length=32, blank=True)
    legal_rep_id_number_sealed = models.BinaryField(null=True, blank=True)  # vault.seal_text
    legal_rep_id_number_masked = models.CharField(max_length=32, blank=True)
    legal_rep_id_digest = models.CharField(max_length=64, blank=True)  # vault.digest_id_number
    verification_status = models.CharField(
        max_length=16, choices=VerificationStatus.choices, default=VerificationStatus.UNVERIFIED
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_method = models.CharField(max_length=32, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="created_organizations"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["uscc"],
                condition=models.Q(verification_status="verified"),
                name="one_verified_org_per_uscc",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_verified(self) -> bool:
        return self.verification_status == self.VerificationStatus.VERIFIED


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("owner")
        ADMIN = "admin", _("admin")
        LEGAL = "legal", _("legal")
        SEAL_KEEPER = "seal_keeper", _("seal keeper")
        AUDITOR = "auditor", _("auditor")  # reads seal usage logs (seals.rights)
        MEMBER = "member", _("member")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.organization_id} as {self.role}"


class OrgScopedQuerySet(models.QuerySet):
    """The one place organisation scoping is written; every org-owned model's manager uses it."""

    org_field = "organization"

    def for_org(self, organization: Organization) -> OrgScopedQuerySet:
        return self.filter(**{self.org_field: organization})

    def for_member(self, user: User) -> OrgScopedQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(**{f"{self.org_field}__memberships__user": user})


class ApiKey(models.Model):
    """A bearer credential. Only a SHA-256 of the secret is stored; the secret is shown once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16, db_index=True)
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user.email})"


class LoginLink(models.Model):
    """A one-time login link emailed to the account's address: only a SHA-256 of its token is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_links")
    # The address it was mailed to: after an email change the link no longer logs anyone in.
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"login link {self.id} for {self.user_id}"


# Enterprise verification, departments and invitations live in their own module (size).
from econtract.accounts.enterprise_models import (  # noqa: E402
    Department,
    Invitation,
    OrganizationVerification,
)

__all__ = [
    "ApiKey",
    "Department",
    "Invitation",
    "LoginLink",
    "Membership",
    "Organization",
    "OrganizationVerification",
    "OrgScopedQuerySet",
    "User",
]

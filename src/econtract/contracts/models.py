"""The archive: a contract record, its files, its place in the organisation's filing, its lifecycle."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from econtract.accounts.models import Membership, OrgScopedQuerySet

# Who sees every contract of the organisation; others see their department's, their own and shared ones.
ORG_WIDE_ROLES = frozenset(
    {Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.LEGAL, Membership.Role.AUDITOR}
)
# Who may change metadata, file, hold and delete any contract of the organisation.
MANAGER_ROLES = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.LEGAL})

DEFAULT_NUMBER_PATTERN = "HT-{yyyy}-{seq:05}"


class ArchiveSettings(models.Model):
    """An organisation's archive rules: how contracts are numbered, when reminders go, how long they are kept."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, related_name="archive_settings"
    )
    number_pattern = models.CharField(max_length=100, default=DEFAULT_NUMBER_PATTERN)
    reminder_days = models.PositiveSmallIntegerField(default=30)  # before expiry
    retention_years = models.PositiveSmallIntegerField(default=0)  # after expiry (or signing); 0: none

    def __str__(self) -> str:
        return f"archive settings of {self.organization_id}"


class NumberSequence(models.Model):
    """The last sequence number given in one scope of a pattern (the year for ``{yyyy}``…{seq}``)."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=100)  # the pattern with its date parts filled in, e.g. "HT-2026-"
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "scope"], name="one_sequence_per_scope")
        ]

    def __str__(self) -> str:
        return f"{self.scope}{self.last}"


class Category(models.Model):
    """A node of the organisation's category tree (sales / purchase / labour …)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="contract_categories"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    name = models.CharField(_("name"), max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "parent", "name"], name="one_category_name_per_parent"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="contract_tags"
    )
    name = models.CharField(_("name"), max_length=50)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="one_tag_name_per_org")]

    def __str__(self) -> str:
        return self.name


class CustomField(models.Model):
    """A metadata field the organisation adds to every contract (cost centre, project code …)."""

    class Type(models.TextChoices):
        TEXT = "text", _("text")
        NUMBER = "number", _("number")
        DATE = "date", _("date")
        CHOICE = "choice", _("choice")

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="contract_custom_fields"
    )
    key = models.SlugField(max_length=50)  # the name in Contract.metadata
    label = models.CharField(_("label"), max_length=100)
    type = models.CharField(max_length=8, choices=Type.choices, default=Type.TEXT)
    options = models.JSONField(default=list, blank=True)  # for a choice
    required = models.BooleanField(default=False)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="one_custom_field_per_key")
        ]

    def __str__(self) -> str:
        return self.key


class ContractQuerySet(OrgScopedQuerySet):
    def alive(self) -> ContractQuerySet:
        return self.filter(deleted_at__isnull=True)

    def visible_to(self, user: Any) -> ContractQuerySet:
        """The one place contract visibility is written (lists, search, snippets, downloads all use it).

        Organisation-wide roles see the organisation's contracts; any member sees those of her department
        and the departments below it, those she archived, and those shared with her."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        from econtract.accounts.enterprise_models import Department

        memberships = list(
            Membership.objects.filter(user=user).values_list("organization_id", "role", "department_id")
        )
        condition = Q(shares__user=user)
        for organization_id, role, department_id in memberships:
            if role in ORG_WIDE_ROLES:
                condition |= Q(organization_id=organization_id)
                continue
            mine = Q(organization_id=organization_id, created_by=user)
            if department_id is not None:
                departments = _subtree(Department, organization_id, department_id)
                mine |= Q(organization_id=organization_id, department_id__in=departments)
            condition |= mine
        return self.filter(pk__in=self.model.objects.filter(condition).values("pk"))


def _subtree(department_model: Any, organization_id: Any, root_id: Any) -> list[Any]:
    rows = list(
        department_model.objects.filter(organization_id=organization_id).values_list("id", "parent_id")
    )
    children: dict[Any, list[Any]] = {}
    for node, parent in rows:
        children.setdefault(parent, []).append(node)
    found, queue = [], [root_id]
    while queue:
        node = queue.pop()
        found.append(node)
        queue.extend(children.get(node, []))
    return found


class Contract(models.Model):
    """One concluded contract (or an amendment, supplement or termination of one) in the archive."""

    class Status(models.TextChoices):
        IN_FORCE = "in_force", _("in force")
        EXPIRING = "expiring", _("expiring")
        EXPIRED = "expired", _("expired")
        TERMINATED = "terminated", _("terminated")

    class Verdict(models.TextChoices):
        VALID = "valid", _("valid")
        ALTERED = "altered", _("altered")
        UNTRUSTED = "untrusted", _("untrusted")
        REVOKED = "revoked", _("revoked")
        UNSIGNED = "unsigned", _("unsigned")

    class Relation(models.TextChoices):
        AMENDMENT = "amendment", _("amendment")
        SUPPLEMENT = "supplement", _("supplementary agreement")
        TERMINATION = "termination", _("termination agreement")

    class Source(models.TextChoices):
        ENVELOPE = "envelope", _("signed on the platform")
        UPLOAD = "upload", _("archived upload")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="contracts"
    )
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="contracts"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=8, choices=Source.choices)
    envelope = models.OneToOneField(
        "signing.Envelope", null=True, blank=True, on_delete=models.PROTECT, related_name="contract"
    )
    title = models.CharField(_("title"), max_length=300)
    number = models.CharField(_("contract number"), max_length=100)
    archive_number = models.CharField(_("archive number"), max_length=100, blank=True)
    counterparties = models.JSONField(default=list, blank=True)  # [{"name", "email"?, "uscc"?}]
    # their names and codes as one text, for the counterparty filter (JSON stores CJK escaped on SQLite)
    counterparty_text = models.TextField(blank=True, editable=False)
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="CNY")
    signed_at = models.DateTimeField(null=True, blank=True)
    effective_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_FORCE)
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    verification = models.JSONField(default=dict, blank=True)  # the verifier's report when archived
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="contracts"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="contracts")
    metadata = models.JSONField(default=dict, blank=True)  # CustomField values by key
    amends = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="amendments"
    )
    relation = models.CharField(max_length=12, choices=Relation.choices, blank=True)
    legal_hold = models.BooleanField(default=False)
    legal_hold_reason = models.CharField(max_length=300, blank=True)
    retain_until = models.DateField(null=True, blank=True)
    reminded_for = models.DateField(null=True, blank=True)  # the expiry date a reminder was sent for
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ContractQuerySet.as_manager()

    class Meta:
        ordering = ["-signed_at", "-created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="one_contract_per_number")
        ]
        indexes = [
            models.Index(fields=["organization", "status", "expires_on"]),
            models.Index(fields=["organization", "signed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.counterparty_text = "\n".join(
            " ".join(str(party.get(key, "")) for key in ("name", "email", "uscc") if party.get(key))
            for party in self.counterparties or []
            if isinstance(party, dict)
        )
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "counterparties" in update_fields:
            kwargs["update_fields"] = {*update_fields, "counterparty_text"}
        super().save(*args, **kwargs)


def contract_file_path(instance: ContractFile, filename: str) -> str:
    # the stored name never comes from the user: her file name is kept in ``name`` only
    return f"contracts/{instance.contract_id}/{instance.kind}-{instance.sha256[:24]}"


class ContractFile(models.Model):
    """A file of the contract: stored as given, never rewritten, never executed, served only as an attachment."""

    class Kind(models.TextChoices):
        ORIGINAL = "original", _("original")
        SIGNED = "signed", _("signed PDF")
        ATTACHMENT = "attachment", _("attachment")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="files")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(max_length=100, default="application/octet-stream")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to=contract_file_path, max_length=300)
    description = models.CharField(_("description"), max_length=300, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"

    def read_bytes(self) -> bytes:
        with self.file.open("rb") as handle:
            return handle.read()


class ContractShare(models.Model):
    """A contract shared with one member of the organisation outside the departments that see it."""

    class Right(models.TextChoices):
        VIEW = "view", _("view and download")
        EDIT = "edit", _("edit metadata")

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    right = models.CharField(max_length=8, choices=Right.choices, default=Right.VIEW)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contract", "user"], name="one_share_per_user")]

    def __str__(self) -> str:
        return f"{self.contract_id} → {self.user_id} ({self.right})"


from econtract.contracts.search_models import ExtractedText, FtsRow, SearchEntry  # noqa: E402,F401


class SavedView(models.Model):
    """A search and filters of the contract list that a member keeps under a name ("expiring purchases")."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    query = models.JSONField(default=dict)  # the list's filter parameters, as the list form reads them
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization", "name"], name="one_view_name_per_user")
        ]

    def __str__(self) -> str:
        return self.name

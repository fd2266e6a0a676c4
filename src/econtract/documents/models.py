"""Documents written on the platform: versions, collaborators, comments, and templates (docs/documents.md).

The HTML of every version is what ``documents.sanitizing.clean_html`` let through; it is never
rendered by a template engine. A template's placeholders are read only by ``documents.placeholders``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from econtract.accounts.models import OrgScopedQuerySet


class DocumentKind(models.TextChoices):
    CONTRACT = "contract", _("contract")
    AGREEMENT = "agreement", _("agreement")
    ANNOUNCEMENT = "announcement", _("announcement")
    OTHER = "other", _("other")


class PageSize(models.TextChoices):
    A4 = "A4", "A4"
    LETTER = "Letter", "Letter"


MARGIN_MIN_MM = 5
MARGIN_MAX_MM = 60
MARGIN_SIDES = ("top", "right", "bottom", "left")  # the order of rendering.PageSetup.margin_mm


def _margin(default: int) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        default=default, validators=[MinValueValidator(MARGIN_MIN_MM), MaxValueValidator(MARGIN_MAX_MM)]
    )


class DocumentQuerySet(OrgScopedQuerySet):
    def visible_to(self, user: object) -> DocumentQuerySet:
        """Documents she created, is a collaborator on, or whose organisation she manages (owner, admin,
        legal). The one place this rule is written (documents.permissions says what each may do)."""
        from econtract.accounts.permissions import MANAGE_ALL_ROLES

        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(
            Q(created_by=user)
            | Q(collaborators__user=user)
            | Q(organization__memberships__user=user, organization__memberships__role__in=MANAGE_ALL_ROLES)
        ).distinct()


class Document(models.Model):
    """A contract, agreement or announcement written in the editor."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        IN_REVIEW = "in_review", _("in review")
        FINAL = "final", _("final")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="authored_documents"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=300)
    kind = models.CharField(max_length=16, choices=DocumentKind.choices, default=DocumentKind.CONTRACT)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    language = models.CharField(max_length=8, default="zh-hans")  # page numbers and built-in texts
    page_size = models.CharField(max_length=8, choices=PageSize.choices, default=PageSize.A4)
    header = models.CharField(max_length=200, blank=True)
    footer = models.CharField(max_length=200, blank=True)
    margin_top = _margin(25)  # mm
    margin_right = _margin(20)
    margin_bottom = _margin(25)
    margin_left = _margin(20)
    # An imported PDF is a fixed document: these bytes are what it is (its versions hold no HTML)
    fixed_pdf_name = models.CharField(max_length=200, blank=True)  # in default storage
    fixed_pdf_sha256 = models.CharField(max_length=64, blank=True)
    fixed_pdf_pages = models.PositiveIntegerField(default=0)
    fixed_pdf_page_size = models.JSONField(default=list, blank=True)  # [width, height] of page 1, points
    template = models.ForeignKey(
        "documents.Template", null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    current_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["organization", "status", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.title} (v{self.current_version})"

    def latest(self) -> DocumentVersion:
        return self.versions.get(number=self.current_version)

    @property
    def is_fixed(self) -> bool:
        """An imported PDF: shown, commented and signed as it is, never edited."""
        return bool(self.fixed_pdf_name)

    @property
    def margins(self) -> dict[str, int]:
        """The page margins in mm, by side."""
        return {side: getattr(self, f"margin_{side}") for side in MARGIN_SIDES}


class DocumentVersion(models.Model):
    """One saved state. Every save is a version; nothing is overwritten (restoring makes a new one)."""

    id = models.BigAutoField(primary_key=True)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    html = models.TextField()
    sha256 = models.CharField(max_length=64)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    restored_from = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["document", "number"], name="one_version_per_number")]

    def __str__(self) -> str:
        return f"{self.document_id} v{self.number}"


class Collaborator(models.Model):
    """Someone the document is shared with, and what she may do with it."""

    class Right(models.TextChoices):
        VIEW = "view", _("view")
        COMMENT = "comment", _("comment")
        EDIT = "edit", _("edit")

    id = models.BigAutoField(primary_key=True)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="collaborators")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    right = models.CharField(max_length=8, choices=Right.choices, default=Right.VIEW)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "user"], name="one_right_per_collaborator")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} may {self.right} {self.document_id}"


class Comment(models.Model):
    """A remark anchored to a passage of one version (the quoted text and its offsets in the version's
    plain text), with replies; the thread can be resolved."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="comments")
    version = models.PositiveIntegerField()
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    quote = models.CharField(max_length=500, blank=True)
    start = models.PositiveIntegerField(null=True, blank=True)
    end = models.PositiveIntegerField(null=True, blank=True)
    body = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"comment {self.pk} on {self.document_id} v{self.version}"


class TemplateQuerySet(OrgScopedQuerySet):
    def usable_by(self, user: object) -> TemplateQuerySet:
        """The built-in templates and those of her organisations."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(Q(organization__isnull=True) | Q(organization__memberships__user=user)).distinct()


class Template(models.Model):
    """HTML with placeholders (documents.placeholders): variables filled from a form, signer fields."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="templates"
    )  # null: a built-in template, offered to everyone
    slug = models.SlugField(max_length=64, blank=True)  # built-in templates' stable name
    title = models.CharField(_("title"), max_length=300)
    kind = models.CharField(max_length=16, choices=DocumentKind.choices, default=DocumentKind.CONTRACT)
    language = models.CharField(max_length=8, default="zh-hans")
    description = models.TextField(blank=True)
    html = models.TextField()
    variables = models.JSONField(default=list)  # [{"name", "type", "options", "attributes"}]
    fields = models.JSONField(default=list)  # [{"kind", "party", "name"}]
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TemplateQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(
                fields=["slug"], condition=Q(organization__isnull=True), name="one_builtin_template_per_slug"
            )
        ]

    def __str__(self) -> str:
        return self.title

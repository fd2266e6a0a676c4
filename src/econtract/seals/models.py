"""Personal signatures, organisation seals, their grants, per-use approvals and the usage log.

Data flows one way (identity -> pki -> seals -> documents -> signing): nothing here imports signing.
Envelopes and parties are referred to by id (``envelope_id``, ``party_id``), and the signing app
passes what a seal decision needs as ``seals.services.EnvelopeFacts``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from econtract.accounts.models import OrgScopedQuerySet


class PersonalSignatureQuerySet(models.QuerySet):
    def live(self) -> PersonalSignatureQuerySet:
        return self.filter(deleted_at__isnull=True)

    def of(self, user) -> PersonalSignatureQuerySet:  # type: ignore[no-untyped-def]
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(user=user)


class PersonalSignature(models.Model):
    """A person's handwritten-style signature image: drawn on the pad, typed in a font, or uploaded.

    ``image_png`` is RGBA, trimmed to the ink, transparent where there is no ink. A deleted signature
    keeps its row (``deleted_at``): signed documents and evidence may refer to it.
    """

    class Kind(models.TextChoices):
        DRAWN = "drawn", _("drawn")
        TYPED = "typed", _("typed")
        UPLOADED = "uploaded", _("uploaded")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signatures")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    typed_text = models.CharField(max_length=64, blank=True)  # the text of a typed signature
    image_png = models.BinaryField()
    width_px = models.PositiveIntegerField()
    height_px = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)  # of image_png, recorded in signing evidence
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = PersonalSignatureQuerySet.as_manager()

    class Meta:
        ordering = ["-is_default", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(is_default=True, deleted_at__isnull=True),
                name="seals_one_default_signature_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} signature {self.id} of {self.user_id}"


class Seal(models.Model):
    """An organisation's seal: its picture (vector when generated) and its own certificate and key.

    The key is ECDSA P-256, PKCS#8 DER sealed under the KEK (``pki.kek.seal``) with associated data
    naming this seal and its public key (``seals.keys``). It is unsealed only in memory, for one
    signature by a member holding a live grant (or under an automatic-signing grant).
    """

    class Type(models.TextChoices):
        OFFICIAL = "official", _("official seal")  # 公章
        CONTRACT = "contract", _("contract seal")  # 合同专用章
        FINANCE = "finance", _("finance seal")  # 财务专用章
        HR = "hr", _("HR seal")  # 人事专用章
        INVOICE = "invoice", _("invoice seal")  # 发票专用章
        LEGAL_REPRESENTATIVE = "legal_representative", _("legal representative seal")  # 法人章
        CUSTOM = "custom", _("custom seal")

    class Shape(models.TextChoices):
        ROUND = "round", _("round")
        OVAL = "oval", _("oval")
        SQUARE = "square", _("square")

    class Source(models.TextChoices):
        GENERATED = "generated", _("generated")
        UPLOADED = "uploaded", _("uploaded scan")

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        SUSPENDED = "suspended", _("suspended")
        REVOKED = "revoked", _("revoked")
        RETIRED = "retired", _("retired")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="seals")
    name = models.CharField(_("name"), max_length=100)  # what members see in lists: "合同专用章"
    seal_type = models.CharField(max_length=24, choices=Type.choices)
    type_text = models.CharField(max_length=20, blank=True)  # the words on the horizontal line
    shape = models.CharField(max_length=8, choices=Shape.choices)
    # The optional code: 13 digits on a round seal's lower arc; on an oval invoice seal the taxpayer
    # number (15, 17, 18 or 20 characters) across its middle.
    code = models.CharField(max_length=20, blank=True)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.GENERATED)
    # Generated seals: a PDF content stream of filled paths (no fonts, no resources) drawing the seal
    # in a box of drawing_width x drawing_height points, origin lower-left (seals.drawing).
    drawing = models.BinaryField(null=True, blank=True)
    drawing_width = models.FloatField(default=0)
    drawing_height = models.FloatField(default=0)
    image_png = models.BinaryField()  # RGBA, for the web and for uploaded scans in the PDF
    image_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    certificate = models.ForeignKey("pki.IssuedCertificate", on_delete=models.PROTECT, related_name="seals")
    public_key_der = models.BinaryField()
    sealed_private_key = models.BinaryField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.organization_id})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class SealGrantQuerySet(OrgScopedQuerySet):
    org_field = "seal__organization"


class SealGrant(models.Model):
    """Permission to use a seal: for a member, a department's members, or unattended API signing.

    ``scope`` is ``{"templates": [ids]?, "categories": [ids]?, "max_amount": "decimal"?,
    "currency": "CNY"?}``; an empty scope covers every document. Revocation is immediate and final.
    """

    class Grantee(models.TextChoices):
        USER = "user", _("member")
        DEPARTMENT = "department", _("department")
        AUTOMATIC = "automatic", _("automatic signing")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    seal = models.ForeignKey(Seal, on_delete=models.PROTECT, related_name="grants")
    grantee = models.CharField(max_length=12, choices=Grantee.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="seal_grants"
    )
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="seal_grants"
    )
    scope = models.JSONField(default=dict, blank=True)
    requires_approval = models.BooleanField(default=False)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoke_reason = models.CharField(max_length=500, blank=True)

    objects = SealGrantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(grantee="user", user__isnull=False, department__isnull=True)
                    | Q(grantee="department", user__isnull=True, department__isnull=False)
                    | Q(grantee="automatic", user__isnull=True, department__isnull=True)
                ),
                name="seals_grant_names_one_grantee",
            )
        ]

    def __str__(self) -> str:
        return f"grant {self.id} of {self.seal_id} ({self.grantee})"


class ApprovalRequestQuerySet(OrgScopedQuerySet):
    org_field = "seal__organization"


class ApprovalRequest(models.Model):
    """A request to use a seal once, on one envelope whose original document has ``document_sha256``.

    Approved, it is consumed by the one signature it allows (``used_at``); it cannot be reused, nor
    used on another envelope or document.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        USED = "used", _("used")
        WITHDRAWN = "withdrawn", _("withdrawn")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    seal = models.ForeignKey(Seal, on_delete=models.PROTECT, related_name="approval_requests")
    grant = models.ForeignKey(SealGrant, on_delete=models.PROTECT, related_name="approval_requests")
    envelope_id = models.UUIDField(db_index=True)
    party_id = models.UUIDField(null=True, blank=True)
    document_sha256 = models.CharField(max_length=64)  # the envelope's original, as sent
    envelope_title = models.CharField(max_length=300, blank=True)  # shown to the approver
    amount = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    request_note = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ApprovalRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"approval {self.id} of {self.seal_id} for {self.envelope_id} ({self.status})"


class SealUsageQuerySet(OrgScopedQuerySet):
    org_field = "seal__organization"


class SealUsage(models.Model):
    """One use of a seal: who applied it, when, on which envelope, under which grant and approval.

    Written in the signing transaction, beside the ``signed`` evidence event that says the same.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    seal = models.ForeignKey(Seal, on_delete=models.PROTECT, related_name="usages")
    grant = models.ForeignKey(SealGrant, on_delete=models.PROTECT, related_name="usages")
    approval = models.ForeignKey(
        ApprovalRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="usages"
    )
    used_by = models.ForeignKey(  # null under an automatic-signing grant
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    automatic = models.BooleanField(default=False)
    envelope_id = models.UUIDField(db_index=True)
    party_id = models.UUIDField()
    envelope_title = models.CharField(max_length=300, blank=True)
    document_sha256 = models.CharField(max_length=64)  # the revision the seal's signature made
    certificate_serial = models.CharField(max_length=64)
    cross_page = models.BooleanField(default=False)
    used_at = models.DateTimeField(auto_now_add=True)

    objects = SealUsageQuerySet.as_manager()

    class Meta:
        ordering = ["-used_at"]
        indexes = [models.Index(fields=["seal", "used_at"], name="seals_usage_seal_time_idx")]

    def __str__(self) -> str:
        return f"use of {self.seal_id} on {self.envelope_id}"

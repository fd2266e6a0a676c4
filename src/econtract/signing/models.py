"""Envelopes (a signing request), their parties, fields placed on pages, and document revisions."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from econtract.accounts.models import OrgScopedQuerySet
from econtract.accounts.permissions import managed_envelopes_q


class EnvelopeQuerySet(OrgScopedQuerySet):
    def visible_to(self, user) -> EnvelopeQuerySet:  # type: ignore[no-untyped-def]
        """The envelopes a user manages (accounts.permissions: a member her own, the owner, admins and
        legal all of the organisation's), and, once sent, those she is a party to."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        as_party = Q(parties__user=user)
        if user.email_verified:
            as_party |= Q(parties__email__iexact=user.email)
        return self.filter(managed_envelopes_q(user) | (as_party & ~Q(status="draft"))).distinct()


class Envelope(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SENT = "sent", _("sent")
        COMPLETED = "completed", _("completed")
        DECLINED = "declined", _("declined")
        VOIDED = "voided", _("voided")
        EXPIRED = "expired", _("expired")

    FINAL_STATUSES = (Status.COMPLETED, Status.DECLINED, Status.VOIDED, Status.EXPIRED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="envelopes"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=300)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    original_sha256 = models.CharField(max_length=64)
    # What the contract is worth, when the sender says (seal grants may cap it): ISO 4217 currency.
    amount = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    page_count = models.PositiveIntegerField(default=0)
    page_sizes = models.JSONField(default=list)  # [[llx, lly, urx, ury], ...] per page, PDF points
    page_rotations = models.JSONField(default=list)  # /Rotate of each page: 0, 90, 180 or 270
    current_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.TextField(blank=True)

    objects = EnvelopeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES

    def current_document(self) -> DocumentRevision:
        return self.revisions.get(version=self.current_version)


def revision_path(instance: DocumentRevision, filename: str) -> str:
    return f"envelopes/{instance.envelope_id}/v{instance.version:03d}-{instance.sha256[:16]}.pdf"


class DocumentRevision(models.Model):
    """Every state of the envelope's PDF is kept: nothing stored is ever overwritten."""

    class Reason(models.TextChoices):
        ORIGINAL = "original", "original"
        FORM_FIELDS = "form_fields", "form fields"  # the empty fields signers fill, added when sent
        SIGNATURE = "signature", "signature"
        DOCUMENT_TIMESTAMP = "document_timestamp", "document timestamp"

    envelope = models.ForeignKey(Envelope, on_delete=models.PROTECT, related_name="revisions")
    version = models.PositiveIntegerField()
    reason = models.CharField(max_length=24, choices=Reason.choices)
    party = models.ForeignKey(
        "signing.Party", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    file = models.FileField(upload_to=revision_path, max_length=300)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["version"]
        constraints = [
            models.UniqueConstraint(fields=["envelope", "version"], name="one_revision_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.envelope_id} v{self.version} ({self.reason})"

    def read_bytes(self) -> bytes:
        with self.file.open("rb") as handle:
            return handle.read()


class Party(models.Model):
    class Kind(models.TextChoices):
        PERSON = "person", _("person")
        # An organisation signs with one of its seals, applied by the member named by ``email``
        # (or unattended, under an automatic-signing grant of ``automatic_seal``).
        ORGANIZATION = "organization", _("organisation")

    class Status(models.TextChoices):
        WAITING = "waiting", _("waiting")
        READY = "ready", _("ready")
        SIGNED = "signed", _("signed")
        DECLINED = "declined", _("declined")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    envelope = models.ForeignKey(Envelope, on_delete=models.CASCADE, related_name="parties")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"))
    organization_uscc = models.CharField(max_length=18, blank=True)  # kind organization
    automatic_seal = models.ForeignKey(
        "seals.Seal", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    order = models.PositiveSmallIntegerField(default=1)
    position = models.PositiveSmallIntegerField(default=0)  # index in the sender's list of parties
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="parties"
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    signature_field_name = models.CharField(max_length=64, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)
    # The level the sender asked for (L1..L3); the platform's minimum applies when it is higher.
    min_assurance = models.CharField(
        max_length=2, choices=[("L1", "L1"), ("L2", "L2"), ("L3", "L3")], default="L2"
    )
    # Willingness methods all required at signing: email_otp, sms_otp, totp, webauthn.
    willingness = models.JSONField(default=list)
    # How a party without an account established who she is (identity.IdentityVerification, user null).
    identity_verification = models.ForeignKey(
        "identity.IdentityVerification", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class PartyAccess(models.Model):
    """A browser's proof that it holds a party's email (and phone), for signing without an account.

    The secret lives in that browser's session; only its SHA-256 is stored. It works for this party
    only and until ``expires_at``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="accesses")
    secret_hash = models.CharField(max_length=64, unique=True)
    email_proved_at = models.DateTimeField()
    phone_proved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"access to {self.party_id} until {self.expires_at.isoformat()}"


class SignatureField(models.Model):
    """A box on a page, in PDF points of the page's user space, origin at the MediaBox's lower-left.

    A ``cross_page_seal`` is one row per page at the page's right edge; the spec gives ``y`` and
    ``height``; ``x`` and ``width`` are fixed at signing from the seal's width / page count.
    """

    class Kind(models.TextChoices):
        SIGNATURE = "signature", _("signature")
        SEAL = "seal", _("seal")
        CROSS_PAGE_SEAL = "cross_page_seal", _("cross-page seal")
        INITIALS = "initials", _("initials")  # another widget of her signature: her mark, smaller
        DATE_SIGNED = "date_signed", _("date signed")  # filled with the date when she signs
        TEXT = "text", _("text")
        NUMBER = "number", _("number")
        CHECKBOX = "checkbox", _("checkbox")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    envelope = models.ForeignKey(Envelope, on_delete=models.CASCADE, related_name="fields")
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="fields")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SIGNATURE)
    page = models.PositiveIntegerField()
    x = models.FloatField()
    y = models.FloatField()
    width = models.FloatField()
    height = models.FloatField()
    position = models.PositiveSmallIntegerField(default=0)
    # Kinds the signer fills (FILLED_KINDS) are PDF form fields of their own, created when the envelope
    # is sent: ``name`` is the PDF field name; the value she gave is kept beside the PDF's.
    name = models.CharField(max_length=64, blank=True)
    label = models.CharField(max_length=200, blank=True)
    required = models.BooleanField(default=True)
    value = models.CharField(max_length=500, blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "page"]

    def __str__(self) -> str:
        return f"field p{self.page} ({self.x:.0f},{self.y:.0f}) for {self.party_id}"


# Kinds shown by her signature (widgets of her one signature field) and kinds that are form fields.
MARK_KINDS = frozenset({"signature", "seal", "cross_page_seal", "initials"})
FILLED_KINDS = frozenset({"date_signed", "text", "number", "checkbox"})


class SigningLink(models.Model):
    """A personal link to a party's signing page. Only the token's SHA-256 is stored.

    A party may hold several: the one emailed when her turn comes, and short-lived ones opened from
    her dashboard when she is already logged in as the matching user.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "email"
        DASHBOARD = "dashboard", "dashboard"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.channel} link for {self.party_id}"

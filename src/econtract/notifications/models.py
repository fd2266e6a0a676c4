"""One row per outgoing email or SMS (what it is, what it is about, how its delivery went), and in-app notices."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class EmailDeliveryQuerySet(models.QuerySet):
    def about(self, subject: models.Model) -> EmailDeliveryQuerySet:
        return self.filter(about_type=subject._meta.label_lower, about_id=str(subject.pk))

    def due(self, now: object) -> EmailDeliveryQuerySet:
        """Waiting for an attempt, or claimed by a runner whose lease ran out (it died mid-send)."""
        return self.filter(status__in=EmailDelivery.PENDING, next_attempt_at__lte=now)


class EmailDelivery(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        SENDING = "sending", "sending"  # claimed by one runner until next_attempt_at (its lease)
        RETRYING = "retrying", "retrying"
        SENT = "sent", "sent"  # accepted by the mail server
        FAILED = "failed", "failed"  # permanently: refused with 5xx, expired, or out of attempts

    PENDING = (Status.QUEUED, Status.SENDING, Status.RETRYING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    recipient = models.CharField(max_length=320)
    subject = models.CharField(max_length=998)
    # Held only until the message is sent or has failed: bodies carry signing links and codes.
    body = models.TextField(blank=True)
    body_sha256 = models.CharField(max_length=64)
    # [{"filename", "mimetype", "storage_name"}]: files in the default storage, read at send time.
    attachments = models.JSONField(default=list, blank=True)
    purpose = models.CharField(max_length=48, blank=True)
    # The evidence subject the message is about (an envelope), and the events to record on its outcome.
    about_type = models.CharField(max_length=64, blank=True)
    about_id = models.CharField(max_length=64, blank=True)
    event_on_sent = models.CharField(max_length=48, blank=True)
    event_on_failure = models.CharField(max_length=48, blank=True)
    event_payload = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    objects = EmailDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx"),
            models.Index(fields=["about_type", "about_id"], name="delivery_about_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.recipient} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status in self.PENDING


class SmsDeliveryQuerySet(models.QuerySet):
    def about(self, subject: models.Model) -> SmsDeliveryQuerySet:
        return self.filter(about_type=subject._meta.label_lower, about_id=str(subject.pk))

    def due(self, now: object) -> SmsDeliveryQuerySet:
        """Waiting for an attempt, or claimed by a runner whose lease ran out (it died mid-send)."""
        return self.filter(status__in=SmsDelivery.PENDING, next_attempt_at__lte=now)


class SmsDelivery(models.Model):
    """One outgoing text message; the same lifecycle as `EmailDelivery` (statuses, lease, events)."""

    Status = EmailDelivery.Status
    PENDING = EmailDelivery.PENDING

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    recipient = models.CharField(max_length=16)  # E.164: "+" and at most 15 digits
    # Held only until the message is sent or has failed: texts carry codes.
    body = models.TextField(blank=True)
    body_sha256 = models.CharField(max_length=64)
    purpose = models.CharField(max_length=48, blank=True)
    about_type = models.CharField(max_length=64, blank=True)
    about_id = models.CharField(max_length=64, blank=True)
    event_on_sent = models.CharField(max_length=48, blank=True)
    event_on_failure = models.CharField(max_length=48, blank=True)
    event_payload = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # The gateway's own id for the message, when it answers one (for an operator tracing a complaint).
    gateway_id = models.CharField(max_length=128, blank=True)

    objects = SmsDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="sms_due_idx"),
            models.Index(fields=["about_type", "about_id"], name="sms_about_idx"),
        ]

    def __str__(self) -> str:
        return f"SMS {self.purpose or 'message'} → {self.recipient} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status in self.PENDING


class NoticeQuerySet(models.QuerySet):
    def for_user(self, user: object) -> NoticeQuerySet:
        """The one place notice scoping is written: a user reads her own notices, nobody else's."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(user=user)

    def unread(self) -> NoticeQuerySet:
        return self.filter(read_at__isnull=True)


class Notice(models.Model):
    """One in-app message to one user (a contract about to expire …), listed until she marks it read.

    Title and body are composed by the platform (bilingual, like the mails); ``url`` is a path on this
    site, ``about_type``/``about_id`` the object the notice concerns."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices")
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=48)
    title = models.CharField(max_length=400)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    about_type = models.CharField(max_length=64, blank=True)
    about_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NoticeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="notice_user_idx")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.user_id}: {self.title}"

"""The append-only audit trail. Each subject's events form a hash chain."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class EventQuerySet(models.QuerySet):
    def for_subject(self, subject: models.Model) -> EventQuerySet:
        return self.filter(subject_type=subject._meta.label_lower, subject_id=str(subject.pk)).order_by(
            "sequence"
        )

    def update(self, **kwargs):  # type: ignore[no-untyped-def]
        raise TypeError("evidence events are append-only")

    def delete(self):  # type: ignore[no-untyped-def]
        raise TypeError("evidence events are append-only")


class Event(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=64)
    sequence = models.PositiveIntegerField()
    kind = models.CharField(max_length=48)
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=320, blank=True)
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    document_sha256 = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict)
    previous_hash = models.CharField(max_length=64)
    event_hash = models.CharField(max_length=64, unique=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["subject_type", "subject_id", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "sequence"], name="one_event_per_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject_type}:{self.subject_id}#{self.sequence} {self.kind}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not self._state.adding:
            raise TypeError("evidence events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise TypeError("evidence events are append-only")

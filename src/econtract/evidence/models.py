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
    # Set once when the personal fields (actor, actor_label, ip_address, user_agent, payload) were blanked
    # under PIPL (evidence.erasure); the database refuses every other change (append_only.py).
    erased_at = models.DateTimeField(null=True, blank=True)

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


class LogState(models.Model):
    """The transparency log's identity and head: one row, fixed origin and Ed25519 key (docs/evidence.md).

    The private key is sealed under the KEK. `tree_size` is the number of leaves appended; the audit
    recomputes the tree from the leaves, so this row is a cache of the head, not a source of truth.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    origin = models.CharField(max_length=255)
    encrypted_private_key = models.BinaryField()
    public_key = models.BinaryField()
    tree_size = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.origin} ({self.tree_size} leaves)"


class LogQueue(models.Model):
    """An event recorded but not yet appended to the log; the sequencer empties this in order."""

    id = models.BigAutoField(primary_key=True)
    event = models.OneToOneField(Event, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"pending {self.event_id}"


class Leaf(models.Model):
    """One event's canonical leaf bytes (docs/evidence.md) at its position in the log. Append-only."""

    index = models.BigIntegerField(primary_key=True)
    event = models.OneToOneField(Event, on_delete=models.PROTECT, related_name="leaf")
    data = models.BinaryField()
    hash = models.BinaryField()

    def __str__(self) -> str:
        return f"leaf {self.index}"


class TreeHash(models.Model):
    """The hash of one complete subtree (2**level leaves from index·2**level). Written once, never changed."""

    id = models.BigAutoField(primary_key=True)
    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="one_hash_per_subtree")]

    def __str__(self) -> str:
        return f"subtree {self.level}/{self.index}"


class EventSecret(models.Model):
    """The salt of a personal-data commitment in a leaf. Kept apart from the published leaves: erasing it
    (PIPL) leaves every proof valid while the commitment can no longer be opened or guessed."""

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="+")
    field = models.CharField(max_length=32)
    salt = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "field"], name="one_salt_per_field")]

    def __str__(self) -> str:
        return f"salt {self.event_id}/{self.field}"


class Checkpoint(models.Model):
    """A signed tree head: a c2sp.org/tlog-checkpoint body in a c2sp.org/signed-note, with an RFC 3161
    token over the note. Append-only."""

    id = models.BigAutoField(primary_key=True)
    tree_size = models.BigIntegerField()
    root_hash = models.BinaryField()
    note = models.TextField()
    timestamp_token = models.BinaryField(blank=True, default=b"")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size}"


class Cosignature(models.Model):
    """A witness's c2sp.org/tlog-cosignature (v1, type 0x04) on a checkpoint, as it returned it."""

    id = models.BigAutoField(primary_key=True)
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="cosignatures")
    witness = models.CharField(max_length=255)  # the witness key's name
    key_id = models.CharField(max_length=8)  # hex
    timestamp = models.BigIntegerField()  # seconds since the epoch, as signed
    line = models.TextField()  # the signature line, "— name base64"
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["checkpoint", "witness", "key_id"], name="one_cosignature_per_witness"
            )
        ]

    def __str__(self) -> str:
        return f"{self.witness} on checkpoint {self.checkpoint_id}"

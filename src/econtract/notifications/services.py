"""Outgoing messages. Recorded inside the caller's transaction, sent only after it commits.

Every message is one `EmailDelivery` row per recipient: a rolled-back step leaves neither a row nor a
mail, and a mail server that is down or refuses is retried with backoff (`notifications.delivery`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models, transaction

from econtract.notifications.models import EmailDelivery
from econtract.textinput import one_line


@dataclass(frozen=True)
class StoredAttachment:
    """A file already in the default storage (a signed PDF revision), read when the mail is sent."""

    filename: str
    storage_name: str
    mimetype: str


@dataclass(frozen=True)
class About:
    """The evidence subject a message concerns, and the events its delivery records there."""

    subject: models.Model
    on_sent: str = ""  # recorded once the mail server accepted the message; "" records nothing
    on_failure: str = "notification_failed"  # recorded once the message has failed for good
    payload: dict[str, Any] = field(default_factory=dict)


def send_email(
    to: Sequence[str],
    subject: str,
    body: str,
    *,
    attachments: Sequence[StoredAttachment] = (),
    purpose: str = "",
    about: About | None = None,
    expires_at: datetime | None = None,
) -> list[EmailDelivery]:
    """Record one delivery per recipient now and try them once the transaction commits.

    A mail outage never undoes the committed step: the delivery is retried, and its outcome is
    recorded as an event on ``about.subject``. Messages not delivered by ``expires_at`` are dropped.
    """
    deliveries = [
        EmailDelivery.objects.create(
            recipient=recipient,
            subject=one_line(subject),  # user text is single-line already; a header can never break
            body=body,
            body_sha256=hashlib.sha256(body.encode()).hexdigest(),
            attachments=[
                {"filename": a.filename, "storage_name": a.storage_name, "mimetype": a.mimetype}
                for a in attachments
            ],
            purpose=purpose,
            about_type=about.subject._meta.label_lower if about else "",
            about_id=str(about.subject.pk) if about else "",
            event_on_sent=about.on_sent if about else "",
            event_on_failure=about.on_failure if about else "",
            event_payload=dict(about.payload) if about else {},
            expires_at=expires_at,
        )
        for recipient in dict.fromkeys(to)
    ]
    ids = [delivery.pk for delivery in deliveries]

    def deliver() -> None:
        from econtract.notifications.delivery import attempt_now

        attempt_now(ids)

    # robust: a failing mail never turns the caller's committed step into an error
    transaction.on_commit(deliver, robust=True)
    return deliveries


def latest_deliveries(
    about: models.Model, purposes: Iterable[str], key: str = "party"
) -> dict[str, EmailDelivery]:
    """The newest delivery of the given purposes about ``about``, per value of ``event_payload[key]``."""
    latest: dict[str, EmailDelivery] = {}
    query = EmailDelivery.objects.about(about).filter(purpose__in=list(purposes)).defer("body")
    for delivery in query.order_by("created_at"):
        value = delivery.event_payload.get(key) if isinstance(delivery.event_payload, dict) else None
        if value:
            latest[str(value)] = delivery
    return latest


def public_status(delivery: EmailDelivery | None) -> str:
    """none, queued, retrying, sent or failed: what a sender needs to know about one message."""
    if delivery is None:
        return "none"
    if delivery.status == EmailDelivery.Status.SENDING:
        return "retrying" if delivery.attempts > 1 else "queued"
    return str(delivery.status)


def undelivered(about: models.Model) -> list[EmailDelivery]:
    """Messages about ``about`` that failed for good or are waiting for a retry, newest first."""
    return list(
        EmailDelivery.objects.about(about)
        .filter(status__in=[EmailDelivery.Status.FAILED, EmailDelivery.Status.RETRYING])
        .defer("body")
        .order_by("-created_at")
    )

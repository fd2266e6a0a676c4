"""Text messages: recorded inside the caller's transaction, sent after it commits, retried with backoff.

The same lifecycle as email (`notifications.delivery`): one `SmsDelivery` row per message, claimed by a
conditional UPDATE with a lease, retried on the mail schedule (ECONTRACT_MAIL_RETRY_SECONDS, at most
ECONTRACT_MAIL_MAX_ATTEMPTS attempts), its outcome recorded as an event on ``about.subject``, and the
text (it carries codes) erased once the message is out or has failed, keeping its SHA-256.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from econtract.evidence.services import RequestContext, record_event
from econtract.notifications.delivery import LEASE, DeliveryRun, _Outage, backoff
from econtract.notifications.models import SmsDelivery
from econtract.notifications.phone import normalise_phone
from econtract.notifications.services import About
from econtract.notifications.smsgateway import OutgoingSms, SmsGatewayError, sms_backend

logger = logging.getLogger("econtract.notifications")

CONTEXT = RequestContext.system("sms delivery")
ERROR_LENGTH = 500
# Ten concatenated segments of 67 UCS-2 characters: far past any code message, short of a letter.
MAX_TEXT_LENGTH = 670

# After the gateway could not be reached, requests leave their messages to the runner for a while.
outage = _Outage()


def send_sms(
    to: str,
    text: str,
    *,
    purpose: str,
    about: About | None = None,
    expires_at: datetime | None = None,
) -> SmsDelivery:
    """Record one message to ``to`` (any written form; stored as E.164) and try it after commit.

    InvalidPhone when ``to`` is not a valid number. Messages not out by ``expires_at`` are dropped.
    """
    recipient = normalise_phone(to)
    if not text or len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"an SMS text has 1 to {MAX_TEXT_LENGTH} characters")
    delivery = SmsDelivery.objects.create(
        recipient=recipient,
        body=text,
        body_sha256=hashlib.sha256(text.encode()).hexdigest(),
        purpose=purpose,
        about_type=about.subject._meta.label_lower if about else "",
        about_id=str(about.subject.pk) if about else "",
        event_on_sent=about.on_sent if about else "",
        event_on_failure=about.on_failure if about else "",
        event_payload=dict(about.payload) if about else {},
        expires_at=expires_at,
    )
    pk = delivery.pk
    # robust: a failing gateway never turns the caller's committed step into an error
    transaction.on_commit(lambda: attempt_now([pk]), robust=True)
    return delivery


def attempt_now(ids: Iterable[Any]) -> None:
    """The attempt right after the recording transaction commits; failures are left to the runner."""
    for pk in ids:
        if outage.ongoing:
            return
        try:
            now = timezone.now()
            delivery = _claim(pk, now)
            if delivery is not None:
                _attempt(delivery, now)
        except Exception:  # never let one message break the committed step or the next message
            logger.exception("sms delivery %s could not be attempted", pk)


def deliver_due(*, now: datetime | None = None, limit: int = 100) -> DeliveryRun:
    """Attempt every text message that is due (run by `econtract deliver` and the server's runner)."""
    now = now or timezone.now()
    run = DeliveryRun()
    with transaction.atomic():
        due = SmsDelivery.objects.due(now).order_by("next_attempt_at")
        ids = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
        claimed = [delivery for pk in ids if (delivery := _claim(pk, now)) is not None]
    for delivery in claimed:
        try:
            run.count(_attempt(delivery, now))
        except Exception:
            logger.exception("sms delivery %s could not be attempted", delivery.pk)
    return run


def _claim(pk: Any, now: datetime) -> SmsDelivery | None:
    claimed = (
        SmsDelivery.objects.due(now)
        .filter(pk=pk)
        .update(status=SmsDelivery.Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
    )
    return SmsDelivery.objects.get(pk=pk) if claimed else None


def _attempt(delivery: SmsDelivery, now: datetime) -> str:
    if delivery.expires_at is not None and delivery.expires_at <= now:
        return _finish(delivery, now, SmsDelivery.Status.FAILED, "expired before it could be delivered")
    message = OutgoingSms(id=str(delivery.pk), to=delivery.recipient, text=delivery.body)
    try:
        gateway_id = sms_backend().send(message)
    except SmsGatewayError as exc:
        if not exc.reached:
            outage.began()
        return _failed(delivery, now, exc.error, permanent=exc.permanent)
    except OSError as exc:  # the outbox directory cannot be written: retried once an operator fixes it
        return _failed(delivery, now, _clean(f"{type(exc).__name__}: {exc.strerror}"), permanent=False)
    outage.ended()
    return _finish(delivery, now, SmsDelivery.Status.SENT, "", gateway_id=gateway_id)


def _failed(delivery: SmsDelivery, now: datetime, error: str, *, permanent: bool) -> str:
    error = _clean(error)
    logger.warning(
        "sms %s to %s failed (attempt %d): %s", delivery.pk, delivery.recipient, delivery.attempts, error
    )
    if permanent:
        return _finish(delivery, now, SmsDelivery.Status.FAILED, error)
    if delivery.attempts >= settings.ECONTRACT_MAIL_MAX_ATTEMPTS:
        error = _clean(f"gave up after {delivery.attempts} attempts: {error}")
        return _finish(delivery, now, SmsDelivery.Status.FAILED, error)
    return _finish(delivery, now, SmsDelivery.Status.RETRYING, error)


def _clean(text: str) -> str:
    return " ".join(text.split())[:ERROR_LENGTH]


def _finish(delivery: SmsDelivery, now: datetime, status: str, error: str, gateway_id: str = "") -> str:
    """Store the outcome and, for a final one, record its event; only the current claim may finish."""
    changes: dict[str, Any] = {"status": status}
    if status == SmsDelivery.Status.SENT:
        changes.update(sent_at=timezone.now(), body="", last_error="", gateway_id=gateway_id)
    elif status == SmsDelivery.Status.FAILED:
        changes.update(failed_at=timezone.now(), body="", last_error=error)
    else:
        changes.update(last_error=error, next_attempt_at=now + backoff(delivery.attempts))
    with transaction.atomic():
        finished = SmsDelivery.objects.filter(
            pk=delivery.pk, status=SmsDelivery.Status.SENDING, attempts=delivery.attempts
        ).update(**changes)
        if finished and status != SmsDelivery.Status.RETRYING:
            kind = delivery.event_on_sent if status == SmsDelivery.Status.SENT else delivery.event_on_failure
            _record_outcome(delivery, kind, error)
    return status


def _record_outcome(delivery: SmsDelivery, kind: str, error: str) -> None:
    if not (kind and delivery.about_type and delivery.about_id):
        return
    model = apps.get_model(delivery.about_type)
    subject: models.Model | None = model._default_manager.filter(pk=delivery.about_id).first()
    if subject is None:
        return
    payload = {
        **delivery.event_payload,
        "delivery": str(delivery.pk),
        "channel": "sms",
        "attempts": delivery.attempts,
    }
    if error:
        payload["error"] = error
    record_event(kind, subject, CONTEXT, organization=getattr(subject, "organization", None), payload=payload)

"""Text messages: recorded inside the caller's transaction, sent after it commits, retried with backoff.

The same lifecycle as email (`notifications.delivery`): one `SmsDelivery` row per message, claimed by a
conditional UPDATE with a lease, retried on the mail schedule (ECONTRACT_MAIL_RETRY_SECONDS, at most
ECONTRACT_MAIL_MAX_ATTEMPTS attempts), its outcome recorded as an event on ``about.subject``, and the
text (it carries codes) erased once the message is out or has failed, keeping its SHA-256.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from django.db import transaction

from econtract.evidence.services import RequestContext
from econtract.notifications.delivery import DeliveryQueue, _Outage
from econtract.notifications.models import SmsDelivery
from econtract.notifications.phone import normalise_phone
from econtract.notifications.services import About
from econtract.notifications.smsgateway import OutgoingSms, SmsGatewayError, sms_backend

logger = logging.getLogger("econtract.notifications")

CONTEXT = RequestContext.system("sms delivery")
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


def _attempt(delivery: SmsDelivery, now: datetime) -> str:
    if delivery.expires_at is not None and delivery.expires_at <= now:
        return SMS.finish(delivery, now, SmsDelivery.Status.FAILED, "expired before it could be delivered")
    message = OutgoingSms(id=str(delivery.pk), to=delivery.recipient, text=delivery.body)
    try:
        gateway_id = sms_backend().send(message)
    except SmsGatewayError as exc:
        if not exc.reached:
            outage.began()
        return SMS.fail(delivery, now, exc.error, permanent=exc.permanent)
    except OSError as exc:  # the outbox directory cannot be written: retried once an operator fixes it
        return SMS.fail(delivery, now, f"{type(exc).__name__}: {exc.strerror}", permanent=False)
    outage.ended()
    return SMS.finish(delivery, now, SmsDelivery.Status.SENT, "", gateway_id=gateway_id)


SMS = DeliveryQueue(
    SmsDelivery,
    label="sms",
    context=CONTEXT,
    outage=outage,
    attempt=_attempt,
    event_extra={"channel": "sms"},
)
attempt_now = SMS.attempt_now
deliver_due = SMS.deliver_due

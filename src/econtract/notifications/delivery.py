"""Delivering recorded emails: one attempt right after commit, then retries with backoff.

A runner claims a row by a conditional UPDATE (status pending and due → sending, lease in
next_attempt_at), so two runners, or a runner and the after-commit attempt, never send the same
message twice. On PostgreSQL the due rows are picked with SELECT … FOR UPDATE SKIP LOCKED so
concurrent runners do not wait for each other; SQLite serialises writers anyway.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage
from django.core.mail.utils import DNS_NAME
from django.db import connection, models, transaction
from django.db.models import F
from django.utils import timezone

from econtract.evidence.services import RequestContext, record_event
from econtract.notifications.models import EmailDelivery

logger = logging.getLogger("econtract.notifications")

# A runner that died mid-send loses its claim after this long; the message is then tried again.
LEASE = timedelta(minutes=10)
MAX_BACKOFF = timedelta(hours=1)
ERROR_LENGTH = 500
CONTEXT = RequestContext.system("mail delivery")


@dataclass
class DeliveryRun:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def count(self, status: str) -> None:
        if status == EmailDelivery.Status.SENT:
            self.sent += 1
        elif status == EmailDelivery.Status.RETRYING:
            self.retrying += 1
        elif status == EmailDelivery.Status.FAILED:
            self.failed += 1


def backoff(attempts: int) -> timedelta:
    """The wait after the given number of failed attempts: base, 2×base, 4×base … capped at an hour."""
    base = timedelta(seconds=settings.ECONTRACT_MAIL_RETRY_SECONDS)
    return min(base * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def describe_failure(exc: BaseException) -> tuple[bool, str]:
    """(permanent, error): RFC 5321 5yz replies about the message are permanent; the rest are retried.

    An authentication failure or a refused greeting is a 5yz too, but about our configuration or the
    connection: an operator fixes it and the queued messages then go out. The error is the server's reply or the exception's class and text:
    smtplib never puts the password in either.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        codes = [code for code, _ in replies]
        text = "; ".join(f"{code} {_reply_text(message)}" for code, message in replies)
        return bool(codes) and all(code >= 500 for code in codes), _clean(f"recipient refused: {text}")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False, _clean(f"authentication failed: {exc.smtp_code} {_reply_text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        # a refused greeting is about this connection (a busy or blocking server), not the message
        return False, _clean(f"{exc.smtp_code} {_reply_text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500, _clean(f"{exc.smtp_code} {_reply_text(exc.smtp_error)}")
    # strerror, not str(): an OSError's text may name a server path (a missing attachment file)
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return False, _clean(f"{type(exc).__name__}: {text}")


def _reply_text(message: Any) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def _clean(text: str) -> str:
    return " ".join(text.split())[:ERROR_LENGTH]


class _Outage:
    """After the mail server could not be reached, this process's after-commit attempts leave their
    mail to the runner for a while: one outage must not add a connect timeout to every request."""

    def __init__(self) -> None:
        self.until = 0.0

    def began(self) -> None:
        self.until = time.monotonic() + backoff(1).total_seconds()

    def ended(self) -> None:
        self.until = 0.0

    @property
    def ongoing(self) -> bool:
        return time.monotonic() < self.until


outage = _Outage()


def _is_reply(exc: BaseException) -> bool:
    return isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused)


class DeliveryQueue:
    """The lifecycle mail and SMS share: claim a due row under a lease, attempt it, finish it once
    (only the current claim may), retry with backoff or give up, and record the final outcome."""

    def __init__(
        self,
        model: Any,
        *,
        label: str,
        context: RequestContext,
        outage: _Outage,
        attempt: Callable[[Any, datetime], str],
        event_extra: dict[str, Any] | None = None,
    ) -> None:
        self.model, self.label, self.context, self.outage = model, label, context, outage
        self.attempt = attempt
        self.event_extra = event_extra or {}

    def attempt_now(self, ids: Iterable[Any]) -> None:
        """The attempt right after the recording transaction commits; failures are left to the runner."""
        for pk in ids:
            if self.outage.ongoing:
                return  # queued and due: the runner sends them once the server answers again
            try:
                now = timezone.now()
                delivery = self.claim(pk, now)
                if delivery is not None:
                    self.attempt(delivery, now)
            except Exception:  # never let one message break the committed step or the next message
                logger.exception("%s delivery %s could not be attempted", self.label, pk)

    def deliver_due(self, *, now: datetime | None = None, limit: int = 100) -> DeliveryRun:
        """Attempt every message that is due (run by `econtract deliver` and the server's runner)."""
        now = now or timezone.now()
        run = DeliveryRun()
        with transaction.atomic():
            due = self.model.objects.due(now).order_by("next_attempt_at")
            ids = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
            claimed = [delivery for pk in ids if (delivery := self.claim(pk, now)) is not None]
        for delivery in claimed:
            try:
                run.count(self.attempt(delivery, now))
            except Exception:
                logger.exception("%s delivery %s could not be attempted", self.label, delivery.pk)
        return run

    def claim(self, pk: Any, now: datetime) -> Any:
        Status = self.model.Status
        claimed = (
            self.model.objects.due(now)
            .filter(pk=pk)
            .update(status=Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
        )
        return self.model.objects.get(pk=pk) if claimed else None

    def fail(self, delivery: Any, now: datetime, error: str, *, permanent: bool) -> str:
        error = _clean(error)
        logger.warning(
            "%s %s to %s failed (attempt %d): %s",
            self.label,
            delivery.pk,
            delivery.recipient,
            delivery.attempts,
            error,
        )
        Status = self.model.Status
        if permanent:
            return self.finish(delivery, now, Status.FAILED, error)
        if delivery.attempts >= settings.ECONTRACT_MAIL_MAX_ATTEMPTS:
            error = _clean(f"gave up after {delivery.attempts} attempts: {error}")
            return self.finish(delivery, now, Status.FAILED, error)
        return self.finish(delivery, now, Status.RETRYING, error)

    def finish(self, delivery: Any, now: datetime, status: str, error: str, **on_sent: Any) -> str:
        """Store the outcome and, for a final one, record its event; only the current claim may finish.
        ``on_sent``: further fields stored when the message went out (the gateway's id)."""
        Status = self.model.Status
        changes: dict[str, Any] = {"status": status}
        if status == Status.SENT:
            changes.update(sent_at=timezone.now(), body="", last_error="", **on_sent)
        elif status == Status.FAILED:
            changes.update(failed_at=timezone.now(), body="", last_error=error)
        else:
            changes.update(last_error=error, next_attempt_at=now + backoff(delivery.attempts))
        with transaction.atomic():
            finished = self.model.objects.filter(
                pk=delivery.pk, status=Status.SENDING, attempts=delivery.attempts
            ).update(**changes)
            if finished and status != Status.RETRYING:
                kind = delivery.event_on_sent if status == Status.SENT else delivery.event_on_failure
                self._record_outcome(delivery, kind, error)
        return status

    def _record_outcome(self, delivery: Any, kind: str, error: str) -> None:
        if not (kind and delivery.about_type and delivery.about_id):
            return
        model = apps.get_model(delivery.about_type)
        subject: models.Model | None = model._default_manager.filter(pk=delivery.about_id).first()
        if subject is None:
            return
        payload = {
            **delivery.event_payload,
            "delivery": str(delivery.pk),
            **self.event_extra,
            "attempts": delivery.attempts,
        }
        if error:
            payload["error"] = error
        organization = getattr(subject, "organization", None)
        record_event(kind, subject, self.context, organization=organization, payload=payload)


def _attempt(delivery: EmailDelivery, now: datetime) -> str:
    if delivery.expires_at is not None and delivery.expires_at <= now:
        return MAIL.finish(delivery, now, EmailDelivery.Status.FAILED, "expired before it could be delivered")
    try:
        message = _message(delivery)
    except Exception as exc:  # a stored attachment that cannot be read: not the mail server's fault
        return _failed(delivery, now, exc)
    try:
        if message.send(fail_silently=False) != 1:
            raise smtplib.SMTPException("the mail backend accepted nothing")
    except Exception as exc:
        if not _is_reply(exc):
            outage.began()
        return _failed(delivery, now, exc)
    outage.ended()
    return MAIL.finish(delivery, now, EmailDelivery.Status.SENT, "")


def _failed(delivery: EmailDelivery, now: datetime, exc: BaseException) -> str:
    permanent, error = describe_failure(exc)
    return MAIL.fail(delivery, now, error, permanent=permanent)


def _message(delivery: EmailDelivery) -> EmailMessage:
    message = EmailMessage(
        subject=delivery.subject,
        body=delivery.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.recipient],
        # The same Message-ID on every attempt, so a mail client can fold a rare duplicate.
        headers={"Message-ID": f"<{delivery.pk}@{DNS_NAME}>"},
    )
    for attachment in delivery.attachments:
        with default_storage.open(attachment["storage_name"], "rb") as handle:
            message.attach(attachment["filename"], handle.read(), attachment["mimetype"])
    return message


MAIL = DeliveryQueue(EmailDelivery, label="mail", context=CONTEXT, outage=outage, attempt=_attempt)
attempt_now = MAIL.attempt_now
deliver_due = MAIL.deliver_due


class DeliveryRunner(threading.Thread):
    """The embedded server's runner: attempts due mail and SMS retries every ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="econtract-mail", daemon=True)
        self.interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        from econtract.notifications import sms

        while True:
            for channel, deliver in (("mail", deliver_due), ("sms", sms.deliver_due)):
                try:
                    deliver()
                except Exception:  # a database hiccup must not end the runner for the server's lifetime
                    logger.exception("%s runner: delivery pass failed", channel)
            connection.close()
            if self._stopping.wait(self.interval):
                return

    def stop(self) -> None:
        self._stopping.set()

"""Outgoing messages. Sent only after the surrounding transaction commits."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction

logger = logging.getLogger("econtract.notifications")


def send_email(
    to: Sequence[str],
    subject: str,
    body: str,
    *,
    attachments: Sequence[tuple[str, bytes, str]] = (),
) -> None:
    """Queue an email for after commit, so a rolled-back step never mails anyone."""
    recipients = list(to)

    def deliver() -> None:
        message = EmailMessage(
            subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=recipients
        )
        for filename, content, mimetype in attachments:
            message.attach(filename, content, mimetype)
        try:
            message.send()
        except Exception:  # a mail outage must not undo a signature that is already committed
            logger.exception("could not send %r to %s", subject, recipients)

    transaction.on_commit(deliver)

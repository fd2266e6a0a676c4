"""The delivery lifecycle against a real local SMTP server: accepted, refused for now, refused for good."""

from __future__ import annotations

import smtplib
import threading
from datetime import timedelta

import pytest
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from econtract.evidence.models import Event
from econtract.notifications.delivery import DeliveryRunner, backoff, deliver_due, describe_failure, outage
from econtract.notifications.models import EmailDelivery
from econtract.notifications.services import About, StoredAttachment, send_email

pytestmark = pytest.mark.django_db(transaction=True)


def kinds(subject) -> list[str]:
    """The subject's events, less the `registered` that creating a user records."""
    return [e.kind for e in Event.objects.for_subject(subject) if e.kind != "registered"]


def send(subject, to="signer@example.test", **extra) -> EmailDelivery:
    with transaction.atomic():
        (delivery,) = send_email(
            [to],
            "Please sign / 请签署",
            "Open https://econtract.test/sign/secret-token to sign.\n",
            purpose="signing_link",
            about=About(subject, on_sent="notified", payload={"party": "p1"}),
            **extra,
        )
    delivery.refresh_from_db()
    return delivery


def test_an_accepted_message_is_sent_once_and_recorded_as_notified(smtp, make_user):
    user = make_user()
    delivery = send(user)

    assert delivery.status == EmailDelivery.Status.SENT and delivery.attempts == 1
    assert delivery.sent_at is not None and delivery.last_error == ""
    assert delivery.body == ""  # the signing link is not kept once the message is out
    assert len(delivery.body_sha256) == 64
    (message,) = smtp.handler.to("signer@example.test")
    assert "secret-token" in message.get_content()
    assert message["Message-ID"] == f"<{delivery.pk}@{message['Message-ID'].split('@', 1)[1]}"
    (event,) = Event.objects.for_subject(user).filter(kind="notified")
    assert event.payload == {"party": "p1", "delivery": str(delivery.pk), "attempts": 1}
    assert event.actor_label == "mail delivery"


def test_a_server_that_answers_451_is_retried_with_backoff_until_it_accepts(smtp, make_user):
    user = make_user()
    smtp.handler.data_replies = ["451 4.3.0 try again later", "452 4.3.1 insufficient storage"]
    before = timezone.now()
    delivery = send(user)

    # the step committed; the message waits for a retry and nothing says it was delivered
    assert delivery.status == EmailDelivery.Status.RETRYING and delivery.attempts == 1
    assert delivery.last_error == "451 4.3.0 try again later"
    assert (
        before + timedelta(seconds=60) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=60)
    )
    assert "notified" not in kinds(user) and "notification_failed" not in kinds(user)
    assert delivery.body  # kept for the retry

    # not due yet: a runner leaves it alone
    assert deliver_due(now=delivery.next_attempt_at - timedelta(seconds=1)).sent == 0
    first_retry = delivery.next_attempt_at
    run = deliver_due(now=first_retry)
    assert (run.sent, run.retrying, run.failed) == (0, 1, 0)
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.last_error.startswith("452")
    assert delivery.next_attempt_at == first_retry + timedelta(seconds=120)  # doubled

    run = deliver_due(now=delivery.next_attempt_at)
    assert (run.sent, run.retrying, run.failed) == (1, 0, 0)
    delivery.refresh_from_db()
    assert delivery.status == EmailDelivery.Status.SENT and delivery.attempts == 3
    assert smtp.handler.refused == 2 and len(smtp.handler.to("signer@example.test")) == 1
    assert kinds(user).count("notified") == 1 and "notification_failed" not in kinds(user)
    assert Event.objects.for_subject(user).get(kind="notified").payload["attempts"] == 3


def test_a_server_that_is_down_then_up_gets_the_message(smtp, make_user):
    user = make_user()
    smtp.stop()
    delivery = send(user)
    assert delivery.status == EmailDelivery.Status.RETRYING
    assert delivery.last_error == "ConnectionRefusedError: Connection refused"

    smtp.start()
    assert deliver_due(now=delivery.next_attempt_at).sent == 1
    assert len(smtp.handler.received) == 1 and kinds(user).count("notified") == 1


def test_while_the_server_is_unreachable_requests_leave_their_mail_to_the_runner(smtp, make_user):
    user = make_user()
    smtp.stop()
    first = send(user)
    assert first.status == EmailDelivery.Status.RETRYING and first.attempts == 1
    # the next step's mail is not tried in its request (no second connect timeout), only queued
    second = send(user, to="other@example.test")
    assert second.status == EmailDelivery.Status.QUEUED and second.attempts == 0

    smtp.start()
    assert deliver_due(now=first.next_attempt_at).sent == 2
    # the server answered again: the next mail goes out in its request
    assert send(user, to="third@example.test").status == EmailDelivery.Status.SENT
    assert len(smtp.handler.received) == 3 and kinds(user).count("notified") == 3


def test_an_attachment_that_cannot_be_read_is_retried_without_blaming_the_server(smtp, make_user):
    user = make_user()
    with transaction.atomic():
        (delivery,) = send_email(
            ["signer@example.test"],
            "Completed",
            "attached",
            attachments=[StoredAttachment("signed.pdf", "envelopes/missing/v9.pdf", "application/pdf")],
            about=About(user),
        )
    delivery.refresh_from_db()
    assert delivery.status == EmailDelivery.Status.RETRYING
    assert delivery.last_error == "FileNotFoundError: No such file or directory"  # no server path
    assert not outage.ongoing and smtp.handler.received == []


def test_a_permanent_refusal_fails_at_once_and_records_notification_failed(smtp, make_user):
    user = make_user()
    smtp.handler.rcpt_replies["gone@example.test"] = "550 5.1.1 <gone@example.test>: no such user"
    delivery = send(user, to="gone@example.test")

    assert delivery.status == EmailDelivery.Status.FAILED and delivery.attempts == 1
    assert delivery.last_error == "recipient refused: 550 5.1.1 <gone@example.test>: no such user"
    assert delivery.body == "" and delivery.failed_at is not None
    (event,) = Event.objects.for_subject(user).filter(kind="notification_failed")
    assert event.payload["error"] == delivery.last_error and event.payload["party"] == "p1"
    assert "notified" not in kinds(user)
    # a failed message is never tried again
    assert deliver_due(now=timezone.now() + timedelta(days=2)).sent == 0


def test_after_the_last_attempt_the_message_fails(smtp, make_user, settings):
    settings.ECONTRACT_MAIL_MAX_ATTEMPTS = 2
    user = make_user()
    smtp.handler.data_replies = ["421 4.7.0 too busy"] * 5
    delivery = send(user)
    run = deliver_due(now=delivery.next_attempt_at)
    assert (run.sent, run.retrying, run.failed) == (0, 0, 1)
    delivery.refresh_from_db()
    assert delivery.status == EmailDelivery.Status.FAILED and delivery.attempts == 2
    assert delivery.last_error == "gave up after 2 attempts: 421 4.7.0 too busy"
    assert kinds(user).count("notification_failed") == 1


def test_a_message_not_delivered_before_it_expires_is_dropped(smtp, make_user):
    user = make_user()
    smtp.stop()
    expires = timezone.now() + timedelta(minutes=5)
    delivery = send(user, expires_at=expires)
    smtp.start()
    assert deliver_due(now=expires + timedelta(seconds=1)).failed == 1
    delivery.refresh_from_db()
    assert delivery.status == EmailDelivery.Status.FAILED
    assert delivery.last_error == "expired before it could be delivered"
    assert smtp.handler.received == [] and kinds(user) == ["notification_failed"]


def test_a_rolled_back_step_leaves_no_record_and_sends_nothing(smtp, make_user):
    user = make_user()
    with pytest.raises(RuntimeError), transaction.atomic():
        send_email(["signer@example.test"], "s", "b", about=About(user, on_sent="notified"))
        raise RuntimeError("the step failed after queueing its mail")
    assert not EmailDelivery.objects.exists()
    assert smtp.handler.received == [] and kinds(user) == []


def queued(count: int) -> list[EmailDelivery]:
    """Deliveries waiting for a runner (written as if their first attempt had found the server down)."""
    return [
        EmailDelivery.objects.create(
            recipient=f"r{n}@example.test", subject=f"message {n}", body="b", body_sha256="0" * 64
        )
        for n in range(count)
    ]


def test_two_runners_at_once_never_send_a_message_twice(smtp):
    deliveries = queued(12)
    start = threading.Barrier(2)
    runs = []

    def runner() -> None:
        try:
            start.wait(timeout=10)
            runs.append(deliver_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(run.sent for run in runs) == 12 and len(runs) == 2
    received_ids = sorted(str(m["Message-ID"]).split("@")[0].strip("<") for m in smtp.handler.received)
    assert received_ids == sorted(str(d.pk) for d in deliveries)
    assert set(EmailDelivery.objects.values_list("attempts", flat=True)) == {1}


NESTED_RUNS: list = []


class SecondRunnerMidSend(smtplib.SMTP):
    """An SMTP client that lets a second runner make its pass while the first is sending."""

    def sendmail(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        NESTED_RUNS.append(deliver_due())
        return super().sendmail(*args, **kwargs)


class NestedRunnerBackend(SmtpBackend):
    connection_class = SecondRunnerMidSend


def test_a_runner_never_takes_a_message_another_runner_is_sending(smtp, settings):
    """While one runner is mid-send, a second pass finds the message claimed (its lease) and skips it."""
    (delivery,) = queued(1)
    NESTED_RUNS.clear()
    settings.EMAIL_BACKEND = f"{__name__}.NestedRunnerBackend"
    assert deliver_due().sent == 1
    assert NESTED_RUNS[0].sent == 0 and len(smtp.handler.received) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_a_claim_whose_lease_ran_out_is_tried_again(smtp):
    (delivery,) = queued(1)
    now = timezone.now()
    EmailDelivery.objects.filter(pk=delivery.pk).update(
        status=EmailDelivery.Status.SENDING, attempts=1, next_attempt_at=now + timedelta(minutes=10)
    )
    assert deliver_due(now=now).sent == 0
    assert deliver_due(now=now + timedelta(minutes=10)).sent == 1
    delivery.refresh_from_db()
    assert delivery.status == EmailDelivery.Status.SENT and delivery.attempts == 2


def test_econtract_deliver_sends_what_is_due(smtp, capsys):
    queued(2)
    call_command("deliver")
    assert "sent 2, retrying 0, failed 0" in capsys.readouterr().out
    assert len(smtp.handler.received) == 2


def test_the_servers_runner_sends_what_is_due(smtp):
    queued(1)
    runner = DeliveryRunner(interval=3600)
    runner.stop()  # one pass, then it ends
    runner.start()
    runner.join(timeout=30)
    assert not runner.is_alive()
    assert EmailDelivery.objects.get().status == EmailDelivery.Status.SENT


def test_the_embedded_outbox_delivers_at_once(outbox, make_user):
    user = make_user()
    delivery = send(user)
    assert delivery.status == EmailDelivery.Status.SENT and delivery.attempts == 1
    assert "secret-token" in outbox.text(outbox.messages("signer@example.test")[-1])
    assert kinds(user).count("notified") == 1


@pytest.mark.parametrize(
    ("exc", "permanent", "error"),
    [
        (smtplib.SMTPDataError(451, b"4.3.0 later"), False, "451 4.3.0 later"),
        (smtplib.SMTPDataError(554, b"5.7.1 spam"), True, "554 5.7.1 spam"),
        (smtplib.SMTPSenderRefused(553, b"5.1.8 bad sender", "a@b"), True, "553 5.1.8 bad sender"),
        (
            smtplib.SMTPRecipientsRefused({"a@b": (450, b"4.2.0 greylisted")}),
            False,
            "recipient refused: 450 4.2.0 greylisted",
        ),
        # our credentials are wrong: an operator fixes them and the queue then goes out
        (
            smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"),
            False,
            "authentication failed: 535 5.7.8 bad credentials",
        ),
        (smtplib.SMTPConnectError(554, b"5.7.1 no service for you"), False, "554 5.7.1 no service for you"),
        (
            smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
            False,
            "SMTPServerDisconnected: Connection unexpectedly closed",
        ),
        (TimeoutError("timed out"), False, "TimeoutError: timed out"),
    ],
)
def test_failures_are_told_apart(exc, permanent, error):
    assert describe_failure(exc) == (permanent, error)


def test_backoff_doubles_up_to_an_hour(settings):
    settings.ECONTRACT_MAIL_RETRY_SECONDS = 60
    assert [backoff(n).total_seconds() for n in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]

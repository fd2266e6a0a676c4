"""The SMS channel: the outbox file, a real local HTTP gateway (accepts, refuses for now, refuses for
good, hangs), retries on a moved clock, the text erased once out, and the phone number checked."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from econtract.evidence.models import Event
from econtract.notifications import sms
from econtract.notifications.checks import sms_gateway
from econtract.notifications.delivery import DeliveryRunner
from econtract.notifications.errors import InvalidPhone
from econtract.notifications.models import SmsDelivery
from econtract.notifications.phone import normalise_phone
from econtract.notifications.services import About
from econtract.notifications.sms import deliver_due, send_sms
from econtract.notifications.smsgateway import HttpSmsGateway
from econtract.notifications.tests.smsserver import HANG, SmsGatewayServer

TEXT = "【econtract】您的签署验证码 493817，10 分钟内有效。"


@pytest.fixture(autouse=True)
def no_sms_outage():
    sms.outage.ended()
    yield
    sms.outage.ended()


@pytest.fixture
def gateway(settings):
    server = SmsGatewayServer()
    server.start()
    settings.ECONTRACT_SMS_URL = server.url
    settings.ECONTRACT_SMS_KEY = "test-key-123"
    settings.ECONTRACT_SMS_TIMEOUT = 5
    settings.ECONTRACT_MAIL_RETRY_SECONDS = 60
    settings.ECONTRACT_MAIL_MAX_ATTEMPTS = 8
    yield server
    server.stop()


def kinds(subject) -> list[str]:
    return [e.kind for e in Event.objects.for_subject(subject) if e.kind != "registered"]


def send(subject, to="138 0013 8000", **extra) -> SmsDelivery:
    with transaction.atomic():
        delivery = send_sms(
            to,
            TEXT,
            purpose="signing_code",
            about=About(subject, on_sent="notified", payload={"party": "p1"}),
            **extra,
        )
    delivery.refresh_from_db()
    return delivery


def sms_files(settings) -> list:
    directory = settings.OUTBOX_DIR / "sms"
    return sorted(directory.iterdir()) if directory.exists() else []


# --- phone numbers


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("13800138000", "+8613800138000"),  # no country code: mainland China
        ("+86 138 0013 8000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"),
        ("0086 138 0013 8000", "+8613800138000"),
        ("１３８００１３８０００", "+8613800138000"),  # full-width digits from a Chinese keyboard
        ("+852 9123 4567", "+85291234567"),
        ("+1 (650) 253-0000", "+16502530000"),  # North America does not tell mobiles apart
    ],
)
def test_a_mobile_number_is_stored_in_e164(written, e164):
    assert normalise_phone(written) == e164


@pytest.mark.parametrize(
    "written",
    [
        "",
        "12345",  # too short for China
        "23800138000",  # no Chinese mobile starts with 2
        "+86 10 8888 8888",  # a Beijing landline cannot receive a text
        "400 812 3123",  # nor a hotline
        "+8613800138000x12",  # an extension
        "1-800-FLOWERS",
        "+86 138 0013 8000; rm -rf /",
        "1" * 41,
        None,
    ],
)
def test_anything_else_is_refused_as_invalid_phone(written):
    with pytest.raises(InvalidPhone) as refused:
        normalise_phone(written)
    assert refused.value.code == "invalid_phone"


@pytest.mark.django_db
def test_send_sms_refuses_an_invalid_number_and_records_nothing():
    with pytest.raises(InvalidPhone):
        send_sms("+86 10 8888 8888", TEXT, purpose="signing_code")
    assert not SmsDelivery.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["", "码" * 671])
def test_an_empty_or_letter_length_text_is_a_programming_error(text):
    with pytest.raises(ValueError):
        send_sms("13800138000", text, purpose="signing_code")
    assert not SmsDelivery.objects.exists()


# --- embedded mode: the outbox


@pytest.mark.django_db(transaction=True)
def test_without_a_gateway_each_message_is_one_json_file_in_the_outbox(settings, make_user):
    settings.ECONTRACT_SMS_URL = ""
    user = make_user()
    delivery = send(user)

    assert delivery.status == SmsDelivery.Status.SENT and delivery.attempts == 1
    (path,) = sms_files(settings)
    assert path.name.endswith(f"-{delivery.pk}.json") and path.name[:8].isdigit()
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "id": str(delivery.pk),
        "to": "+8613800138000",
        "text": TEXT,
    }
    # the code is gone from the database once the message is out; its digest proves what was sent
    assert delivery.body == "" and delivery.body_sha256 == hashlib.sha256(TEXT.encode()).hexdigest()
    (event,) = Event.objects.for_subject(user).filter(kind="notified")
    assert event.payload == {"party": "p1", "delivery": str(delivery.pk), "channel": "sms", "attempts": 1}
    assert event.actor_label == "sms delivery"


@pytest.mark.django_db(transaction=True)
def test_an_unwritable_outbox_is_retried(settings, make_user, tmp_path):
    settings.ECONTRACT_SMS_URL = ""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.OUTBOX_DIR = blocker  # outbox/sms cannot be created under a file
    delivery = send(make_user())
    assert delivery.status == SmsDelivery.Status.RETRYING
    assert delivery.last_error.startswith("NotADirectoryError") and str(tmp_path) not in delivery.last_error
    assert delivery.body == TEXT


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_step_leaves_no_record_and_sends_nothing(settings, make_user):
    settings.ECONTRACT_SMS_URL = ""
    user = make_user()
    with pytest.raises(RuntimeError), transaction.atomic():
        send_sms("13800138000", TEXT, purpose="signing_code", about=About(user, on_sent="notified"))
        raise RuntimeError("the step failed after queueing its text")
    assert not SmsDelivery.objects.exists() and sms_files(settings) == [] and kinds(user) == []


# --- the HTTP gateway


@pytest.mark.django_db(transaction=True)
def test_the_gateway_gets_to_text_and_id_with_the_bearer_key(gateway, make_user):
    delivery = send(make_user())
    assert delivery.status == SmsDelivery.Status.SENT and delivery.gateway_id == "gw-42"
    (request,) = gateway.received
    assert request.path == "/v1/sms" and request.authorization == "Bearer test-key-123"
    assert request.content_type == "application/json"
    assert request.body == {"to": "+8613800138000", "text": TEXT, "id": str(delivery.pk)}
    assert delivery.body == ""


@pytest.mark.django_db(transaction=True)
def test_a_503_is_retried_with_backoff_and_the_same_id_until_the_gateway_accepts(gateway, make_user):
    user = make_user()
    gateway.replies = [503, 502]
    before = timezone.now()
    delivery = send(user)

    assert delivery.status == SmsDelivery.Status.RETRYING and delivery.attempts == 1
    assert delivery.last_error == "503 Service Unavailable"
    assert delivery.body == TEXT  # kept for the retry
    assert (
        before + timedelta(seconds=60) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=60)
    )
    assert kinds(user) == []

    assert deliver_due(now=delivery.next_attempt_at - timedelta(seconds=1)).retrying == 0  # not due yet
    first_retry = delivery.next_attempt_at
    run = deliver_due(now=first_retry)
    assert (run.sent, run.retrying, run.failed) == (0, 1, 0)
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.last_error == "502 Bad Gateway"
    assert delivery.next_attempt_at == first_retry + timedelta(seconds=120)  # doubled

    run = deliver_due(now=delivery.next_attempt_at)
    assert (run.sent, run.retrying, run.failed) == (1, 0, 0)
    delivery.refresh_from_db()
    assert delivery.status == SmsDelivery.Status.SENT and delivery.attempts == 3 and delivery.body == ""
    # one message, three requests: the gateway can drop a duplicate by its id
    assert [r.body["id"] for r in gateway.received] == [str(delivery.pk)] * 3
    assert kinds(user) == ["notified"]
    assert Event.objects.for_subject(user).get(kind="notified").payload["attempts"] == 3


@pytest.mark.django_db(transaction=True)
def test_a_400_fails_at_once_erases_the_text_and_records_notification_failed(gateway, make_user):
    user = make_user()
    gateway.replies = [400]
    delivery = send(user)
    assert delivery.status == SmsDelivery.Status.FAILED and delivery.attempts == 1
    assert delivery.last_error == "400 Bad Request" and delivery.body == ""
    (event,) = Event.objects.for_subject(user).filter(kind="notification_failed")
    assert event.payload["error"] == "400 Bad Request" and event.payload["channel"] == "sms"
    assert deliver_due(now=timezone.now() + timedelta(days=2)).sent == 0
    assert len(gateway.received) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("status", "error"), [(401, "401 Unauthorized"), (429, "429 Too Many Requests")])
def test_a_wrong_key_or_a_throttle_is_retried_not_dropped(gateway, make_user, status, error):
    gateway.replies = [status]
    delivery = send(make_user())
    assert delivery.status == SmsDelivery.Status.RETRYING and delivery.last_error == error
    assert deliver_due(now=delivery.next_attempt_at).sent == 1


@pytest.mark.django_db(transaction=True)
def test_a_gateway_that_does_not_answer_in_time_is_an_outage(gateway, make_user, settings):
    settings.ECONTRACT_SMS_TIMEOUT = 0.5
    user = make_user()
    gateway.replies = [HANG]
    first = send(user)
    assert first.status == SmsDelivery.Status.RETRYING
    assert first.last_error == "timeout: no answer within 0.5s"
    # during the outage the next request only queues its text (no second timeout in a request)
    second = send(user, to="+852 9123 4567")
    assert second.status == SmsDelivery.Status.QUEUED and second.attempts == 0
    assert deliver_due(now=first.next_attempt_at).sent == 2
    assert send(user).status == SmsDelivery.Status.SENT  # the gateway answered again


@pytest.mark.django_db(transaction=True)
def test_a_gateway_that_is_down_then_up_gets_the_message(gateway, make_user):
    gateway.stop()
    delivery = send(make_user())
    assert delivery.status == SmsDelivery.Status.RETRYING
    assert delivery.last_error == "ConnectionError: gateway unreachable"
    gateway.start()
    assert deliver_due(now=delivery.next_attempt_at).sent == 1 and len(gateway.received) == 1


@pytest.mark.django_db(transaction=True)
def test_after_the_last_attempt_the_message_fails(gateway, make_user, settings):
    settings.ECONTRACT_MAIL_MAX_ATTEMPTS = 2
    user = make_user()
    gateway.replies = [503] * 5
    delivery = send(user)
    assert deliver_due(now=delivery.next_attempt_at).failed == 1
    delivery.refresh_from_db()
    assert delivery.last_error == "gave up after 2 attempts: 503 Service Unavailable" and delivery.body == ""
    assert kinds(user) == ["notification_failed"]


@pytest.mark.django_db(transaction=True)
def test_a_code_not_delivered_before_it_expires_is_dropped(gateway, make_user):
    user = make_user()
    gateway.replies = [503]
    expires = timezone.now() + timedelta(minutes=5)
    delivery = send(user, expires_at=expires)
    assert deliver_due(now=expires + timedelta(seconds=1)).failed == 1
    delivery.refresh_from_db()
    assert delivery.last_error == "expired before it could be delivered" and delivery.body == ""
    assert len(gateway.received) == 1 and kinds(user) == ["notification_failed"]


@pytest.mark.django_db(transaction=True)
def test_the_deliver_command_and_the_servers_runner_send_due_texts(gateway, make_user, capsys):
    user = make_user()
    gateway.replies = [503, 503, 503]  # both first attempts, then the command's first retry
    first, second = send(user), send(user, to="+852 9123 4567")
    SmsDelivery.objects.update(next_attempt_at=timezone.now())
    call_command("deliver")
    assert "sms: sent 1, retrying 1, failed 0" in capsys.readouterr().out
    SmsDelivery.objects.filter(status=SmsDelivery.Status.RETRYING).update(next_attempt_at=timezone.now())
    runner = DeliveryRunner(interval=3600)
    runner.stop()  # one pass, then it ends
    runner.start()
    runner.join(timeout=30)
    assert set(SmsDelivery.objects.values_list("status", flat=True)) == {SmsDelivery.Status.SENT}
    assert {first.pk, second.pk} == set(SmsDelivery.objects.values_list("pk", flat=True))


@pytest.mark.parametrize(
    "url", ["http://sms.example.com/send", "ftp://127.0.0.1/x", "http://127.0.0.1.evil.test/"]
)
def test_codes_and_the_key_never_travel_in_plain_http_off_this_machine(url):
    with pytest.raises(ImproperlyConfigured):
        HttpSmsGateway(url, "k", 5)


def test_a_gateway_url_that_would_leak_codes_stops_the_start(settings):
    settings.ECONTRACT_SMS_URL = "http://sms.example.com/send"
    (error,) = sms_gateway()
    assert error.id == "notifications.E001" and "https" in error.msg
    settings.ECONTRACT_SMS_URL = "https://sms.example.com/send"
    settings.ECONTRACT_SMS_KEY = ""
    assert [message.id for message in sms_gateway()] == ["notifications.W001"]
    settings.ECONTRACT_SMS_KEY = "k"
    assert sms_gateway() == []

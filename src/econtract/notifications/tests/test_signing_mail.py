"""Signing-flow mail over real SMTP: events follow delivery, and the sender sees what did not arrive."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from econtract.evidence.models import Event
from econtract.notifications.delivery import deliver_due
from econtract.notifications.models import EmailDelivery
from econtract.signing.models import Envelope
from econtract.signing.tests.factories import create_and_send, people

pytestmark = pytest.mark.django_db(transaction=True)

PARTIES = [
    {"name": "张三", "email": "first@example.test", "order": 1},
    {"name": "李四", "email": "second@example.test", "order": 2},
]
FIELDS = [
    {"party": 0, "page": 2, "x": 50, "y": 60, "width": 180, "height": 60},
    {"party": 1, "page": 2, "x": 300, "y": 60, "width": 180, "height": 60},
]


@pytest.fixture
def cast(make_user, enterprise, api_client):
    sender, first, second = people(make_user, enterprise)
    return {
        "sender": sender,
        "first": first,
        "sender_api": api_client(sender, enterprise),
        "first_api": api_client(first),
    }


def events(envelope_id) -> list[Event]:
    return list(Event.objects.for_subject(Envelope.objects.get(pk=envelope_id)))


def party_mail(envelope_id, client) -> list[tuple[str, str]]:
    parties = client.get(f"/api/v1/envelopes/{envelope_id}").json()["parties"]
    return [(p["notification_status"], p["notification_error"]) for p in parties]


def test_a_signing_link_refused_for_now_is_retried_and_only_then_notified(cast, sample_pdf, smtp):
    smtp.handler.data_replies = ["451 4.3.0 try again later"]
    envelope = create_and_send(cast["sender_api"], sample_pdf, PARTIES, FIELDS)

    # sending succeeded; the link is waiting for a retry and the log does not claim it was emailed
    assert envelope["status"] == "sent"
    assert [(p["notification_status"], p["notification_error"]) for p in envelope["parties"]] == [
        ("retrying", "451 4.3.0 try again later"),
        ("none", ""),
    ]
    assert [e.kind for e in events(envelope["id"])] == ["created", "sent"]

    assert deliver_due(now=timezone.now() + timedelta(seconds=61)).sent == 1
    assert party_mail(envelope["id"], cast["sender_api"]) == [("sent", ""), ("none", "")]
    kinds = [e.kind for e in events(envelope["id"])]
    assert kinds == ["created", "sent", "notified"]
    notified = events(envelope["id"])[-1]
    assert notified.payload["party"] == envelope["parties"][0]["id"] and notified.payload["attempts"] == 2
    (mail,) = smtp.handler.to("first@example.test")
    assert re.search(r"https?://\S+/sign/\S+", mail.get_content())


def test_a_refused_link_shows_on_the_envelope_page_and_remind_tries_again_at_once(
    cast, sample_pdf, smtp, client
):
    smtp.handler.rcpt_replies["first@example.test"] = "550 5.1.1 mailbox unavailable"
    envelope = create_and_send(cast["sender_api"], sample_pdf, PARTIES, FIELDS)
    party_id = envelope["parties"][0]["id"]

    assert envelope["parties"][0]["notification_status"] == "failed"
    assert envelope["parties"][0]["notification_error"] == "recipient refused: 550 5.1.1 mailbox unavailable"
    failed = [e for e in events(envelope["id"]) if e.kind == "notification_failed"]
    assert len(failed) == 1 and failed[0].payload["party"] == party_id
    assert "notified" not in [e.kind for e in events(envelope["id"])]

    client.force_login(cast["sender"])
    page_url = reverse("web:envelope_detail", args=[envelope["id"]])
    remind_url = reverse("web:envelope_remind", args=[envelope["id"], party_id])
    english = client.get(page_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert (
        "Notification failed: the signing link email to first@example.test could not be delivered." in english
    )
    assert "550 5.1.1 mailbox unavailable" in english
    alert = english[english.index('class="alert error notification-failed"') :]
    assert f'action="{remind_url}"' in alert[: alert.index("</div>")]
    chinese = client.get(page_url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "通知失败" in chinese and "550 5.1.1 mailbox unavailable" in chinese
    assert "邮件未送达" in chinese  # the audit trail's name for notification_failed

    # reminding from the page at once is allowed; while the server still refuses, the page says so
    page = client.post(remind_url, HTTP_ACCEPT_LANGUAGE="en", follow=True).content.decode()
    assert "The new signing link to first@example.test could not be delivered." in page
    assert [e.kind for e in events(envelope["id"])][-2:] == ["reminded", "notification_failed"]

    # the address is fixed at the mail server; the sender need not wait ten minutes to remind
    del smtp.handler.rcpt_replies["first@example.test"]
    response = cast["sender_api"].post(f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/remind")
    assert response.status_code == 200, response.content
    assert response.json()["notification_status"] == "sent"
    assert [e.kind for e in events(envelope["id"])][-2:] == ["reminded", "notified"]
    assert events(envelope["id"])[-1].payload["reminder"] is True
    assert "notification-failed" not in client.get(page_url).content.decode()
    # once it arrived, the ordinary interval applies again
    again = cast["sender_api"].post(f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/remind")
    assert again.status_code == 429


def test_the_page_shows_a_mail_waiting_for_its_retry(cast, sample_pdf, smtp, client):
    smtp.handler.data_replies = ["421 4.7.0 too many connections"]
    envelope = create_and_send(cast["sender_api"], sample_pdf, PARTIES, FIELDS)
    client.force_login(cast["sender"])
    page = client.get(
        reverse("web:envelope_detail", args=[envelope["id"]]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "was not accepted yet; it is retried at" in page and "421 4.7.0 too many connections" in page
    # the party herself sees no sender's warnings
    client.force_login(cast["first"])
    page = client.get(reverse("web:envelope_detail", args=[envelope["id"]])).content.decode()
    assert "421 4.7.0" not in page


def test_otp_sent_is_recorded_once_the_code_was_accepted(cast, sample_pdf, smtp):
    envelope = create_and_send(cast["sender_api"], sample_pdf, PARTIES, FIELDS)
    party_id = envelope["parties"][0]["id"]
    smtp.handler.data_replies = ["451 4.3.0 try again later"]
    response = cast["first_api"].post(f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/otp")
    assert response.status_code == 200  # the code exists; its mail is on its way
    assert "otp_sent" not in [e.kind for e in events(envelope["id"])]
    code_mail = EmailDelivery.objects.get(purpose="otp_sign")
    assert code_mail.expires_at is not None and code_mail.status == EmailDelivery.Status.RETRYING

    assert deliver_due(now=timezone.now() + timedelta(seconds=61)).sent == 1
    otp_sent = [e for e in events(envelope["id"]) if e.kind == "otp_sent"]
    assert len(otp_sent) == 1 and otp_sent[0].payload["party"] == party_id
    assert re.search(r"^\s+(\d{6})\s*$", smtp.handler.to("first@example.test")[-1].get_content(), re.M)

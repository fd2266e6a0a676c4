"""Sending from the web UI: a confirmation step, warnings, and a Send button that says why it is off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from econtract.evidence.services import RequestContext
from econtract.signing import services
from econtract.signing.models import Envelope

pytestmark = pytest.mark.django_db(transaction=True)

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def add_parties(draft, sender, *, boxes_for=(0,)):
    services.replace_recipients(
        draft,
        parties=[
            services.PartySpec(name="张三 Zhang", email="zhang@example.test", order=1),
            services.PartySpec(name="李四 Li", email="li@example.test", order=2),
            services.PartySpec(name="王五 Wang", email="wang@example.test", order=2),
        ],
        fields=[
            services.FieldSpec(party=index, page=1, x=60, y=80 + 80 * index, width=180, height=60)
            for index in boxes_for
        ],
        user=sender,
        context=RequestContext.system("test"),
    )


def test_send_asks_for_confirmation_listing_the_order_before_anyone_is_emailed(client, sender, draft, outbox):
    add_parties(draft, sender, boxes_for=(0, 1, 2))
    client.force_login(sender)
    edit = client.get(reverse("web:envelope_edit", args=[draft.pk]), **EN).content.decode()
    confirm_url = reverse("web:envelope_send", args=[draft.pk])
    assert f'href="{confirm_url}"' in edit  # the editor's Send leads to the confirmation, not a POST

    response = client.get(confirm_url, **EN)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Send to 3 parties?" in html
    rounds = response.context["check"].rounds
    assert [[p.name for p in group] for group in rounds] == [["张三 Zhang"], ["李四 Li", "王五 Wang"]]
    assert html.index("张三 Zhang") < html.index("李四 Li") < html.index("王五 Wang")
    assert 'id="confirm-send"' in html and "disabled" not in html.split('id="confirm-send"')[1][:40]
    draft.refresh_from_db()
    assert draft.status == Envelope.Status.DRAFT and outbox.messages() == []

    response = client.post(confirm_url)
    assert response["Location"] == reverse("web:envelope_detail", args=[draft.pk])
    draft.refresh_from_db()
    assert draft.status == Envelope.Status.SENT
    assert len(outbox.messages("zhang@example.test")) == 1 and outbox.messages("li@example.test") == []
    # once sent, the confirmation (reached again by the back button) says why it cannot be used
    again = client.get(confirm_url, **EN).content.decode()
    assert "Only a draft can be sent; this envelope is sent." in again
    assert "<form" not in again.split('id="send-confirm"')[1]


def test_a_party_without_a_signature_box_is_warned_about_but_may_be_sent(client, sender, draft):
    add_parties(draft, sender, boxes_for=(0,))
    client.force_login(sender)
    for url in (
        reverse("web:envelope_send", args=[draft.pk]),
        reverse("web:envelope_edit", args=[draft.pk]),
        reverse("web:envelope_detail", args=[draft.pk]),
    ):
        html = client.get(url, **EN).content.decode()
        assert "李四 Li has no signature box" in html, url
        assert "王五 Wang has no signature box" in html, url
        assert "张三 Zhang has no signature box" not in html, url
    client.post(reverse("web:envelope_send", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.status == Envelope.Status.SENT


def test_send_is_shown_disabled_with_the_reason_when_there_are_no_parties(client, sender, draft):
    client.force_login(sender)
    for url in (
        reverse("web:envelope_edit", args=[draft.pk]),
        reverse("web:envelope_detail", args=[draft.pk]),
    ):
        html = client.get(url, **EN).content.decode()
        button = html.split('id="send-button"')[0].rsplit("<", 1)[1] + html.split('id="send-button"')[1][:80]
        assert "button" in button and "disabled" in button, url
        assert "Add at least one party before sending." in html, url
    html = client.get(reverse("web:envelope_send", args=[draft.pk]), **EN).content.decode()
    assert "Add at least one party before sending." in html
    assert "<form" not in html.split('id="send-confirm"')[1]


def test_send_is_disabled_once_the_deadline_has_passed(client, sender, draft):
    add_parties(draft, sender, boxes_for=(0, 1, 2))
    Envelope.objects.filter(pk=draft.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    client.force_login(sender)
    html = client.get(reverse("web:envelope_detail", args=[draft.pk]), **EN).content.decode()
    assert "The signing deadline has already passed." in html
    assert 'href="' + reverse("web:envelope_send", args=[draft.pk]) + '"' not in html


def test_the_confirmation_speaks_chinese_by_default(client, sender, draft):
    add_parties(draft, sender, boxes_for=(0,))
    client.force_login(sender)
    html = client.get(reverse("web:envelope_send", args=[draft.pk])).content.decode()
    assert "发送给 3 位签署方？" in html
    assert "没有签署位置" in html

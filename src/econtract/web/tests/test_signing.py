"""The signer's page: link checks, the login prompt, and the ceremony through htmx and plain posts."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from econtract.pki import custody
from econtract.signing.models import Envelope, Party

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HTTP_HX_REQUEST": "true"}
PIN = "246810"


def test_a_bad_token_is_not_found(client):
    response = client.get(reverse("web:sign", args=["not-a-real-token"]))
    assert response.status_code == 404
    assert client.post(reverse("web:sign_code", args=["not-a-real-token"])).status_code == 403


def test_a_visitor_is_asked_to_log_in_with_the_partys_email(client, signing_token, signer):
    response = client.get(reverse("web:sign", args=[signing_token]))
    assert response.status_code == 200
    assert not response.context["may_act"]
    assert "pages" not in response.context
    assert "email=signer%40example.test" in response.context["login_url"]
    assert client.post(reverse("web:sign_code", args=[signing_token]), **HTMX).status_code == 403


def test_someone_else_logged_in_cannot_act(client, signing_token, sender):
    client.force_login(sender)
    response = client.get(reverse("web:sign", args=[signing_token]))
    assert not response.context["may_act"]
    assert (
        client.post(
            reverse("web:sign_submit", args=[signing_token]), {"code": "123456", "pin": PIN}
        ).status_code
        == 403
    )


def test_the_ceremony_from_first_pin_to_completion(client, signing_token, signer, sent, outbox):
    client.force_login(signer)
    url = reverse("web:sign", args=[signing_token])
    response = client.get(url)
    assert response.context["may_act"] and response.context["stage"] == "set_pin"
    assert [len(page["fields"]) for page in response.context["pages"]] == [1, 0]

    response = client.post(
        reverse("web:sign_pin", args=[signing_token]), {"pin": PIN, "pin2": "246811"}, **HTMX
    )
    assert response.context["pin_form"].errors and response.context["stage"] == "set_pin"
    response = client.post(reverse("web:sign_pin", args=[signing_token]), {"pin": PIN, "pin2": PIN}, **HTMX)
    assert response.context["stage"] == "sign"
    assert response.templates[0].name == "web/_ceremony.html"

    response = client.post(reverse("web:sign_code", args=[signing_token]), **HTMX)
    assert response.context["code_sent"]
    code = outbox.last_code(signer.email)

    response = client.post(
        reverse("web:sign_submit", args=[signing_token]), {"code": code, "pin": "999999"}, **HTMX
    )
    assert "4" in response.context["error"]  # attempts left before the key locks
    assert Party.objects.get(envelope=sent).status == Party.Status.READY

    response = client.post(
        reverse("web:sign_submit", args=[signing_token]), {"code": code, "pin": PIN}, **HTMX
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("web:envelope_detail", args=[sent.pk])
    sent.refresh_from_db()
    assert sent.status == Envelope.Status.COMPLETED

    response = client.get(response["HX-Redirect"])
    assert response.context["envelope"].status == Envelope.Status.COMPLETED
    assert client.get(url).context["stage"] == "signed"


def test_a_wrong_code_says_how_many_tries_are_left(client, signing_token, signer, outbox):
    custody.set_signing_pin(signer, PIN)
    client.force_login(signer)
    client.post(reverse("web:sign_code", args=[signing_token]))
    code = outbox.last_code(signer.email)
    wrong = "000000" if code != "000000" else "111111"
    response = client.post(reverse("web:sign_submit", args=[signing_token]), {"code": wrong, "pin": PIN})
    assert response.status_code == 400
    assert response.templates[0].name == "web/sign.html"
    assert response.context["error"]


def test_decline_with_a_reason_ends_the_envelope(client, signing_token, signer, sent):
    client.force_login(signer)
    response = client.post(
        reverse("web:sign_decline", args=[signing_token]), {"reason": "条款不清 unclear terms"}
    )
    assert response.status_code == 302
    sent.refresh_from_db()
    assert sent.status == Envelope.Status.DECLINED and sent.end_reason == "条款不清 unclear terms"
    assert client.get(reverse("web:sign", args=[signing_token])).context["stage"] == "declined"


def test_a_voided_envelope_shows_closed(client, signing_token, signer, sent, sender):
    from econtract.evidence.services import RequestContext
    from econtract.signing import services

    services.void(sent, sender, reason="", context=RequestContext.system("test"))
    client.force_login(signer)
    assert client.get(reverse("web:sign", args=[signing_token])).context["stage"] == "closed"


def test_too_many_wrong_pins_lock_the_key_and_say_until_when(client, signing_token, signer, outbox):
    custody.set_signing_pin(signer, PIN)
    client.force_login(signer)
    client.post(reverse("web:sign_code", args=[signing_token]), **HTMX)
    code = outbox.last_code(signer.email)
    submit = reverse("web:sign_submit", args=[signing_token])
    for _ in range(5):
        client.post(submit, {"code": code, "pin": "999999"}, **HTMX)
    response = client.post(submit, {"code": code, "pin": PIN}, HTTP_ACCEPT_LANGUAGE="en", **HTMX)
    assert "locked until" in response.context["error"]


@pytest.mark.django_db(transaction=True)
def test_a_logged_in_party_signs_from_her_dashboard_without_the_emailed_link(
    client, make_user, enterprise, api_client, sample_pdf, outbox
):
    from econtract.signing.tests.factories import create_and_send, people

    sender, first, second = people(make_user, enterprise)
    envelope = create_and_send(
        api_client(sender, enterprise),
        sample_pdf,
        [
            {"name": "张三", "email": first.email, "order": 1},
            {"name": "李四", "email": second.email, "order": 2},
        ],
    )
    client.force_login(first)
    page = client.get(reverse("web:dashboard")).content.decode()
    sign_now = reverse("web:envelope_sign_now", args=[envelope["id"], envelope["parties"][0]["id"]])
    assert sign_now in page
    response = client.post(sign_now)
    assert response.status_code == 302 and "/sign/" in response["Location"]
    assert client.get(response["Location"]).status_code == 200
    # the emailed link still works, and nobody else can open a link for her
    assert client.get(urlsplit(outbox.last_link(first.email)).path).status_code == 200
    client.force_login(second)
    refused = client.post(
        reverse("web:envelope_sign_now", args=[envelope["id"], envelope["parties"][0]["id"]])
    )
    assert refused.status_code == 302 and refused["Location"] == reverse("web:dashboard")


@pytest.mark.django_db(transaction=True)
def test_sender_reminds_from_the_envelope_page(client, make_user, enterprise, api_client, sample_pdf, outbox):
    from datetime import timedelta

    from django.utils import timezone

    from econtract.signing.tests.factories import create_and_send, people

    sender, first, _ = people(make_user, enterprise)
    envelope = create_and_send(
        api_client(sender, enterprise), sample_pdf, [{"name": "张三", "email": first.email, "order": 1}]
    )
    Party.objects.filter(pk=envelope["parties"][0]["id"]).update(
        notified_at=timezone.now() - timedelta(hours=1)
    )
    client.force_login(sender)
    detail = reverse("web:envelope_detail", args=[envelope["id"]])
    remind = reverse("web:envelope_remind", args=[envelope["id"], envelope["parties"][0]["id"]])
    assert remind in client.get(detail).content.decode()
    before = len(outbox.messages(first.email))
    response = client.post(remind)
    assert response.status_code == 302 and response["Location"] == detail
    assert len(outbox.messages(first.email)) == before + 1


def test_the_signing_page_asks_for_her_fields_and_signs_with_them(client, draft, sender, signer, outbox):
    # Given an envelope in which she fills an address and ticks a box
    from econtract.evidence.services import RequestContext
    from econtract.signing import services
    from econtract.signing.models import SignatureField

    services.replace_recipients(
        draft,
        parties=[services.PartySpec(name=signer.full_name, email=signer.email, order=1)],
        fields=[
            services.FieldSpec(party=0, page=1, x=60, y=80, width=180, height=60),
            services.FieldSpec(
                party=0,
                page=1,
                x=60,
                y=200,
                width=200,
                height=20,
                kind="text",
                name="address",
                label="地址 Address",
            ),
            services.FieldSpec(
                party=0,
                page=1,
                x=60,
                y=240,
                width=14,
                height=14,
                kind="checkbox",
                name="agree",
                label="I agree",
            ),
        ],
        user=sender,
        context=RequestContext.system("test"),
    )
    services.send_envelope(draft, sender, RequestContext.system("test"))
    token = outbox.last_link(signer.email).rsplit("/sign/", 1)[1]
    custody.set_signing_pin(signer, PIN)
    client.force_login(signer)
    # When she opens the page, then it asks for both fields
    page = client.get(reverse("web:sign", args=[token]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="field_address"' in page and 'name="field_agree"' in page and "地址 Address" in page
    # When she signs without them, then she is told to fill them and nothing is signed
    client.post(reverse("web:sign_code", args=[token]), **HTMX)
    code = outbox.last_code(signer.email)
    submit = reverse("web:sign_submit", args=[token])
    response = client.post(
        submit, {"code": code, "pin": PIN, "field_address": "福州"}, HTTP_ACCEPT_LANGUAGE="en", **HTMX
    )
    assert response.status_code == 200  # htmx swaps the ceremony panel, which says what went wrong
    assert "Fill in every required field" in response.content.decode()
    assert Envelope.objects.get(pk=draft.pk).status == Envelope.Status.SENT
    assert 'value="福州"' in response.content.decode()  # what she typed is kept
    # When she fills them, then she signs and the values are hers
    response = client.post(
        submit, {"code": code, "pin": PIN, "field_address": "福州市鼓楼区", "field_agree": "on"}, **HTMX
    )
    assert response.status_code in (200, 204), response.content
    assert Envelope.objects.get(pk=draft.pk).status == Envelope.Status.COMPLETED
    assert SignatureField.objects.get(envelope=draft, name="address").value == "福州市鼓楼区"
    assert SignatureField.objects.get(envelope=draft, name="agree").value == "Yes"

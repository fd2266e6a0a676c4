"""The signing page when the sender asks for a passkey: the ceremony panel offers it, the sign form
carries the assertion, and the server verifies it (py_webauthn, no mock) before the PIN. A software
authenticator stands in for the browser's; tests/browser/test_signing_passkey.py drives a real one."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext
from econtract.identity.tests.factories import verify_identity
from econtract.identity.tests.soft_authenticator import enrol
from econtract.pki import custody
from econtract.signing import services
from econtract.signing.models import Envelope, Party

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HTTP_HX_REQUEST": "true"}
PIN = "246810"
ORIGIN = "https://sign.example.cn"
RP_ID = "sign.example.cn"


@pytest.fixture
def rp(settings):
    settings.BASE_URL = ORIGIN
    settings.ECONTRACT_WEBAUTHN_RP_ID = ""


@pytest.fixture
def passkey_envelope(rp, draft, sender, signer, outbox):
    verify_identity(signer, name="李四")
    custody.set_signing_pin(signer, PIN)
    services.replace_recipients(
        draft,
        parties=[
            services.PartySpec(
                name=signer.full_name, email=signer.email, order=1, willingness=("email_otp", "webauthn")
            )
        ],
        fields=[services.FieldSpec(party=0, page=1, x=60, y=80, width=180, height=60)],
        user=sender,
        context=RequestContext.system("test"),
    )
    envelope = services.send_envelope(draft, sender, RequestContext.system("test"))
    token = outbox.last_link(signer.email).rsplit("/sign/", 1)[1]
    return envelope, token


def refusals(envelope, kind="willingness_failed"):
    return [e.payload for e in Event.objects.for_subject(envelope) if e.kind == kind]


def test_without_a_registered_passkey_the_panel_says_where_to_add_one(client, passkey_envelope, signer):
    envelope, token = passkey_envelope
    client.force_login(signer)
    response = client.get(reverse("web:sign", args=[token]))
    assert response.context["stage"] == "sign" and not response.context["passkey_registered"]
    page = response.content.decode()
    assert 'id="sign-passkey-missing"' in page and 'id="sign-passkey"' not in page
    response = client.post(reverse("web:sign_passkey_options", args=[token]))
    assert response.status_code == 409 and response.json()["error"] == "factor_missing"


def test_the_sign_form_carries_the_assertion_and_only_the_signer_s_passkey_signs(
    client, passkey_envelope, signer, make_user, outbox
):
    envelope, token = passkey_envelope
    mine = enrol(signer, rp_id=RP_ID, origin=ORIGIN)
    theirs = enrol(make_user("other@example.test", "王五"), rp_id=RP_ID, origin=ORIGIN)
    party = Party.objects.get(envelope=envelope)
    client.force_login(signer)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the messages' English text is asserted below
    page = client.get(reverse("web:sign", args=[token])).content.decode()
    assert 'id="sign-passkey"' in page and 'name="webauthn"' in page and "web/passkeys.js" in page
    client.post(reverse("web:sign_code", args=[token]), **HTMX)
    code = outbox.last_code(signer.email)
    submit = reverse("web:sign_submit", args=[token])

    def options():
        response = client.post(reverse("web:sign_passkey_options", args=[token]))
        assert response.status_code == 200, response.content
        return response.json()

    # no passkey answer: refused, and the panel says what to do
    response = client.post(submit, {"code": code, "pin": PIN}, **HTMX)
    assert "confirm with your passkey" in response.context["error"]
    # another account's passkey, answering this party's own challenge
    response = client.post(
        submit, {"code": code, "pin": PIN, "webauthn": json.dumps(theirs.assert_(options()))}, **HTMX
    )
    assert "nothing was signed" in response.context["error"]
    # something that is no JSON object is refused by the form
    response = client.post(submit, {"code": code, "pin": PIN, "webauthn": "[1, 2]"}, **HTMX)
    assert response.context["sign_form"].errors["webauthn"]
    assert Party.objects.get(pk=party.pk).status == Party.Status.READY
    assert [(r["method"], r["why"]) for r in refusals(envelope)] == [
        ("webauthn", "webauthn_required"),
        ("webauthn", "webauthn_failed"),
    ]

    response = client.post(
        submit, {"code": code, "pin": PIN, "webauthn": json.dumps(mine.assert_(options()))}, **HTMX
    )
    assert response.status_code == 204, response.context and response.context.get("error")
    assert Envelope.objects.get(pk=envelope.pk).status == Envelope.Status.COMPLETED
    (signed,) = refusals(envelope, "signed")
    assert signed["willingness"] == ["email_otp", "webauthn", "pin"]


def test_passkey_options_only_for_a_party_asked_for_one(client, rp, signing_token, signer):
    custody.set_signing_pin(signer, PIN)
    client.force_login(signer)
    response = client.post(reverse("web:sign_passkey_options", args=[signing_token]))
    assert response.status_code == 409 and response.json()["error"] == "not_signable"

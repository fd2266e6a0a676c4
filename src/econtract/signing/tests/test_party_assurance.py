"""Per-party assurance and willingness set by the sender: a party below her level is stopped with 409
and nothing is signed; at her level she signs, and every willingness method she was asked for is checked
(the SMS code read from the embedded SMS outbox)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from econtract.accounts.services import add_member
from econtract.evidence.models import Event
from econtract.identity.tests.factories import verify_identity
from econtract.pki import custody
from econtract.signing.models import Envelope, Party
from econtract.signing.tests.factories import create_and_send, spec

pytestmark = pytest.mark.django_db(transaction=True)

PIN = "246810"
PHONE = "+8613800138000"
FIELD = {"party": 0, "page": 1, "x": 50, "y": 60, "width": 180, "height": 60}


@pytest.fixture(autouse=True)
def fast_kdf(settings):
    settings.ECONTRACT_PIN_KDF_MEMORY_KIB = 64
    settings.ECONTRACT_PIN_KDF_PASSES = 1


@pytest.fixture
def cast(make_user, enterprise, api_client):
    sender = make_user("sender@acme.test", "赵六 Zhao Liu")
    add_member(enterprise, sender)
    signer = verify_identity(make_user("signer@example.test", "张三"), level="L2")
    custody.set_signing_pin(signer, PIN)
    return {"sender_api": api_client(sender, enterprise), "signer_api": api_client(signer), "signer": signer}


def send_to_signer(cast, sample_pdf, **party) -> dict:
    parties = [{"name": "张三", "email": "signer@example.test", **party}]
    return create_and_send(cast["sender_api"], sample_pdf, parties, [FIELD])


def sms_codes(settings) -> list[tuple[str, str]]:
    """(to, code) of every text message in the embedded outbox, oldest first."""
    found = []
    for path in sorted((Path(settings.OUTBOX_DIR) / "sms").glob("*.json")):
        message = json.loads(path.read_text())
        found.append((message["to"], re.search(r"(\d{6})", message["text"]).group(1)))
    return found


def party_url(envelope: dict, action: str) -> str:
    return f"/api/v1/envelopes/{envelope['id']}/parties/{envelope['parties'][0]['id']}/{action}"


def test_the_spec_defaults_and_the_envelope_shows_them(cast, sample_pdf, settings):
    envelope = send_to_signer(cast, sample_pdf)
    (party,) = envelope["parties"]
    assert party["min_assurance"] == "L2" and party["required_assurance"] == "L2"
    assert party["willingness"] == ["email_otp"]

    envelope = send_to_signer(
        cast, sample_pdf, min_assurance="L1", willingness="sms_otp", phone="138 0013 8000"
    )
    (party,) = envelope["parties"]
    # the sender asked L1; the platform's minimum (L2) is higher and applies
    assert party["min_assurance"] == "L1" and party["required_assurance"] == "L2"
    assert party["willingness"] == ["sms_otp"] and party["phone"] == PHONE


@pytest.mark.parametrize(
    ("party", "detail"),
    [
        ({"min_assurance": "L4"}, "min_assurance"),
        ({"willingness": ["email_otp", "carrier_pigeon"]}, "willingness"),
        ({"willingness": ["sms_otp"]}, "phone"),
        ({"phone": "12345", "willingness": "sms_otp"}, "phone"),
    ],
)
def test_a_spec_with_a_bad_level_method_or_phone_is_refused(cast, sample_pdf, party, detail):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = cast["sender_api"].post(
        "/api/v1/envelopes",
        {
            "document": SimpleUploadedFile("c.pdf", sample_pdf, "application/pdf"),
            "spec": spec([{"name": "张三", "email": "signer@example.test", **party}], [FIELD]),
        },
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_envelope"
    assert detail in response.json()["detail"]
    assert not Envelope.objects.exists()


def test_a_party_below_her_level_is_stopped_and_nothing_is_signed(cast, sample_pdf, outbox):
    envelope = send_to_signer(cast, sample_pdf, min_assurance="L3")
    response = cast["signer_api"].post(party_url(envelope, "otp"))
    assert response.status_code == 409, response.content
    assert response.json()["error"] == "assurance_required"
    assert (response.json()["required"], response.json()["current"]) == ("L3", "L2")
    assert outbox.find("signer@example.test", r"^\s+(\d{6})\s*$") is None  # no code was sent

    response = cast["signer_api"].post(
        party_url(envelope, "sign"), {"otp": "123456", "pin": PIN}, content_type="application/json"
    )
    assert response.status_code == 409 and response.json()["error"] == "assurance_required"
    stored = Envelope.objects.get(pk=envelope["id"])
    assert stored.current_version == 0 and stored.parties.get().status == Party.Status.READY
    refusals = [e.payload for e in Event.objects.for_subject(stored) if e.kind == "assurance_refused"]
    assert refusals[-1]["required"] == "L3" and refusals[-1]["current"] == "L2"


def test_the_platform_minimum_wins_over_a_lower_sender_level(cast, sample_pdf, settings):
    envelope = send_to_signer(cast, sample_pdf, min_assurance="L1")
    settings.ECONTRACT_MIN_SIGNING_ASSURANCE = "L3"
    response = cast["signer_api"].post(
        party_url(envelope, "sign"), {"otp": "123456", "pin": PIN}, content_type="application/json"
    )
    assert response.status_code == 409 and response.json()["required"] == "L3"


def test_at_her_level_she_signs_and_the_event_records_level_method_and_willingness(cast, sample_pdf, outbox):
    envelope = send_to_signer(cast, sample_pdf, min_assurance="L2")
    assert cast["signer_api"].post(party_url(envelope, "otp")).status_code == 200
    response = cast["signer_api"].post(
        party_url(envelope, "sign"),
        {"otp": outbox.last_code("signer@example.test"), "pin": PIN},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed"
    signed = [e.payload for e in Event.objects.for_subject(Envelope.objects.get()) if e.kind == "signed"]
    assert signed[0]["assurance_level"] == "L2"
    assert signed[0]["verification_method"] == "id_2el"
    assert signed[0]["willingness"] == ["email_otp", "pin"]
    assert signed[0]["key_custody"] == "pin"


def test_sms_willingness_code_from_the_outbox_is_required_beside_the_email_code(
    cast, sample_pdf, outbox, settings
):
    envelope = send_to_signer(cast, sample_pdf, willingness=["sms_otp", "email_otp"], phone=PHONE)
    response = cast["signer_api"].post(party_url(envelope, "otp"))
    assert response.status_code == 200, response.content
    email_code = outbox.last_code("signer@example.test")
    ((to, sms_code),) = sms_codes(settings)
    assert to == PHONE

    # the email code alone is not enough, and a wrong SMS code is counted and signs nothing
    for wrong in ("", "000000" if sms_code != "000000" else "111111"):
        response = cast["signer_api"].post(
            party_url(envelope, "sign"),
            {"otp": email_code, "sms_otp": wrong, "pin": PIN},
            content_type="application/json",
        )
        assert response.status_code == 400, response.content
        assert response.json()["error"] in ("otp_invalid", "otp_required")
    assert Envelope.objects.get().current_version == 0

    response = cast["signer_api"].post(
        party_url(envelope, "sign"),
        {"otp": email_code, "sms_otp": sms_code, "pin": PIN},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    events = list(Event.objects.for_subject(Envelope.objects.get()))
    assert any(e.kind == "otp_sent" and e.payload.get("channel") == "sms" for e in events)
    (signed,) = [e.payload for e in events if e.kind == "signed"]
    assert signed["willingness"] == ["email_otp", "sms_otp", "pin"]


def test_totp_willingness_checks_the_account_s_authenticator_app(cast, sample_pdf, outbox):
    import time

    import pyotp

    from econtract.identity import factors

    signer = cast["signer"]
    enrolment = factors.begin_totp_enrolment(signer)
    app = pyotp.TOTP(enrolment.secret, digits=factors.TOTP_DIGITS, interval=factors.TOTP_PERIOD)
    now = time.time()
    factors.confirm_totp_enrolment(signer, app.at(now - factors.TOTP_PERIOD))  # the previous step
    envelope = send_to_signer(cast, sample_pdf, willingness=["totp"])
    response = cast["signer_api"].post(party_url(envelope, "otp"))
    assert response.status_code == 200 and response.json()["sent_to"] == ""  # nothing to send
    assert outbox.find("signer@example.test", r"Your code to sign[^\n]*\n\n\s+(\d{6})") is None

    wrong = "000000" if app.at(now) != "000000" else "111111"
    response = cast["signer_api"].post(
        party_url(envelope, "sign"), {"totp": wrong, "pin": PIN}, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    response = cast["signer_api"].post(
        party_url(envelope, "sign"), {"totp": app.at(now), "pin": PIN}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    (signed,) = [e.payload for e in Event.objects.for_subject(Envelope.objects.get()) if e.kind == "signed"]
    assert signed["willingness"] == ["totp", "pin"]

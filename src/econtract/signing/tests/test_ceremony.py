"""The signing ceremony through the API, in process: the happy path and every refusal."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader

from econtract.evidence.models import Event
from econtract.evidence.services import chain_is_intact
from econtract.pki.services import revoke_certificate
from econtract.signing.models import Envelope
from econtract.signing.tests.factories import PIN, create_and_send, people, sign_as

pytestmark = pytest.mark.django_db(transaction=True)

FIELD = {"page": 2, "x": 50, "y": 60, "width": 180, "height": 60}


@pytest.fixture
def cast(make_user, enterprise, api_client):
    sender, first, second = people(make_user, enterprise)
    return {
        "sender": sender,
        "first": first,
        "second": second,
        "sender_api": api_client(sender, enterprise),
        "first_api": api_client(first),
        "second_api": api_client(second),
    }


def two_party_envelope(cast, sample_pdf, *, same_order=False, **extra):
    parties = [
        {"name": "张三", "email": "first@example.test", "order": 1},
        {"name": "李四", "email": "second@example.test", "order": 1 if same_order else 2},
    ]
    fields = [
        {"party": 0, **FIELD},
        {"party": 0, "page": 1, "x": 50, "y": 60, "width": 180, "height": 60},
        {"party": 1, **FIELD, "x": 300},
    ]
    return create_and_send(cast["sender_api"], sample_pdf, parties, fields, **extra)


def test_two_parties_sign_in_order_and_the_envelope_completes(cast, sample_pdf, outbox):
    envelope = two_party_envelope(cast, sample_pdf)
    assert [p["status"] for p in envelope["parties"]] == ["ready", "waiting"]
    assert outbox.last_link("first@example.test")

    response = sign_as(cast["first_api"], outbox, envelope, 0, "first@example.test", PIN["first"])
    assert response.status_code == 200, response.content
    assert [p["status"] for p in response.json()["parties"]] == ["signed", "ready"]
    assert outbox.last_link("second@example.test")

    response = sign_as(cast["second_api"], outbox, envelope, 1, "second@example.test", PIN["second"])
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed"

    pdf = cast["sender_api"].get(f"/api/v1/envelopes/{envelope['id']}/document").getvalue()
    reader = PdfFileReader(io.BytesIO(pdf))
    kinds = [s.sig_object.get("/Type") for s in reader.embedded_signatures]
    assert kinds == ["/Sig", "/Sig", "/DocTimeStamp"]
    # the first signer's appearance is shown at both her fields (one field, two widgets)
    first_field = reader.embedded_signatures[0].sig_field
    assert len(first_field["/Kids"]) == 2

    completed_mail = outbox.messages("second@example.test")[-1]
    assert any(part.get_content_type() == "application/pdf" for part in completed_mail.walk())

    events = cast["sender_api"].get(f"/api/v1/envelopes/{envelope['id']}/events").json()["items"]
    kinds = [e["kind"] for e in events]
    for expected in ["created", "sent", "otp_sent", "otp_passed", "signed", "completed", "downloaded"]:
        assert expected in kinds
    assert kinds.index("completed") > kinds.index("signed")
    assert chain_is_intact(Envelope.objects.get(pk=envelope["id"]))


def test_out_of_order_signing_is_refused(cast, sample_pdf, outbox):
    envelope = two_party_envelope(cast, sample_pdf)
    party_id = envelope["parties"][1]["id"]
    response = cast["second_api"].post(f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/otp")
    assert response.status_code == 409
    assert response.json()["error"] == "not_your_turn"


def test_wrong_pin_is_counted_and_changes_nothing(cast, sample_pdf, outbox):
    envelope = two_party_envelope(cast, sample_pdf)
    response = sign_as(cast["first_api"], outbox, envelope, 0, "first@example.test", "999999")
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "wrong_pin" and body["remaining_attempts"] == 4
    stored = Envelope.objects.get(pk=envelope["id"])
    assert stored.current_version == 0 and stored.parties.filter(status="signed").count() == 0
    assert Event.objects.for_subject(stored).filter(kind="pin_failed").count() == 1


def test_wrong_otp_is_refused_and_counted(cast, sample_pdf, outbox):
    envelope = two_party_envelope(cast, sample_pdf)
    party_id = envelope["parties"][0]["id"]
    client = cast["first_api"]
    client.post(f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/otp")
    code = outbox.last_code("first@example.test")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    url = f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/sign"
    response = client.post(url, {"otp": wrong, "pin": PIN["first"]}, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "otp_invalid"
    assert response.json()["remaining_attempts"] == 4
    for _ in range(4):
        client.post(url, {"otp": wrong, "pin": PIN["first"]}, content_type="application/json")
    # after five wrong tries even the right code is dead
    response = client.post(url, {"otp": code, "pin": PIN["first"]}, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "otp_expired"
    assert Envelope.objects.get(pk=envelope["id"]).current_version == 0


def test_expired_otp_is_refused(cast, sample_pdf, outbox):
    from econtract.identity.models import OtpChallenge

    envelope = two_party_envelope(cast, sample_pdf)
    party_id = envelope["parties"][0]["id"]
    cast["first_api"].post(f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/otp")
    code = outbox.last_code("first@example.test")
    OtpChallenge.objects.filter(subject=party_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = cast["first_api"].post(
        f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/sign",
        {"otp": code, "pin": PIN["first"]},
        content_type="application/json",
    )
    assert response.status_code == 400 and response.json()["error"] == "otp_expired"


def test_signing_twice_is_refused(cast, sample_pdf, outbox):
    envelope = two_party_envelope(cast, sample_pdf)
    assert (
        sign_as(cast["first_api"], outbox, envelope, 0, "first@example.test", PIN["first"]).status_code == 200
    )
    party_id = envelope["parties"][0]["id"]
    response = cast["first_api"].post(f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/otp")
    assert response.status_code == 409 and response.json()["error"] == "already_signed"


def test_sender_cannot_sign_in_a_partys_name_even_with_her_code(cast, sample_pdf, outbox):
    from econtract.pki import custody

    custody.set_signing_pin(cast["sender"], PIN["sender"])
    envelope = two_party_envelope(cast, sample_pdf)
    party_id = envelope["parties"][0]["id"]
    cast["first_api"].post(f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/otp")
    code = outbox.last_code("first@example.test")
    for intruder in (cast["sender_api"], cast["second_api"]):
        response = intruder.post(
            f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/sign",
            {"otp": code, "pin": PIN["sender"]},
            content_type="application/json",
        )
        assert response.status_code == 403 and response.json()["error"] == "not_this_party"
        response = intruder.post(
            f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/decline",
            {"reason": "x"},
            content_type="application/json",
        )
        assert response.status_code == 403
    assert Envelope.objects.get(pk=envelope["id"]).current_version == 0


def test_voided_envelope_cannot_be_signed(cast, sample_pdf, outbox):
    envelope = two_party_envelope(cast, sample_pdf)
    response = cast["sender_api"].post(
        f"/api/v1/envelopes/{envelope['id']}/void", {"reason": "wrong price"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["status"] == "voided"
    response = sign_as_no_assert(cast, envelope)
    assert response.status_code == 409 and response.json()["error"] == "envelope_closed"
    assert "Voided" in outbox.messages("first@example.test")[-1]["Subject"]


def sign_as_no_assert(cast, envelope):
    party_id = envelope["parties"][0]["id"]
    return cast["first_api"].post(f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/otp")


def test_expired_envelope_cannot_be_signed_and_expire_command_closes_others(cast, sample_pdf, outbox):
    from django.core.management import call_command

    envelope = two_party_envelope(
        cast, sample_pdf, deadline=(timezone.now() + timedelta(hours=1)).isoformat()
    )
    other = two_party_envelope(cast, sample_pdf, deadline=(timezone.now() + timedelta(hours=1)).isoformat())
    Envelope.objects.filter(pk__in=[envelope["id"], other["id"]]).update(
        deadline=timezone.now() - timedelta(minutes=1)
    )
    response = sign_as_no_assert(cast, envelope)
    assert response.status_code == 409 and response.json()["error"] == "envelope_expired"
    assert Envelope.objects.get(pk=envelope["id"]).status == "expired"
    call_command("expire")
    assert Envelope.objects.get(pk=other["id"]).status == "expired"


def test_decline_is_final_and_notifies(cast, sample_pdf, outbox):
    envelope = two_party_envelope(cast, sample_pdf)
    party_id = envelope["parties"][0]["id"]
    response = cast["first_api"].post(
        f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/decline",
        {"reason": "价格不对"},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["status"] == "declined"
    assert "Declined" in outbox.messages("sender@acme.test")[-1]["Subject"]
    assert sign_as_no_assert(cast, envelope).status_code == 409


def test_other_organisations_ids_are_not_found(cast, sample_pdf, make_user, api_client):
    envelope = two_party_envelope(cast, sample_pdf)
    stranger = api_client(make_user("stranger@evil.test"))
    for url in (
        f"/api/v1/envelopes/{envelope['id']}",
        f"/api/v1/envelopes/{envelope['id']}/events",
        f"/api/v1/envelopes/{envelope['id']}/document",
    ):
        response = stranger.get(url)
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    response = stranger.post(
        f"/api/v1/envelopes/{envelope['id']}/void", {"reason": ""}, content_type="application/json"
    )
    assert response.status_code == 404
    assert Envelope.objects.get(pk=envelope["id"]).status == "sent"


def test_forged_api_key_is_unauthenticated(db):
    from django.test import Client

    response = Client(HTTP_AUTHORIZATION="Bearer ek_forged").get("/api/v1/envelopes")
    assert response.status_code == 401 and response.json()["error"] == "unauthenticated"


def test_revoked_certificate_cannot_sign(cast, sample_pdf, outbox):
    envelope = two_party_envelope(cast, sample_pdf)
    revoke_certificate(cast["first"].signer_key.certificate)
    response = sign_as(cast["first_api"], outbox, envelope, 0, "first@example.test", PIN["first"])
    assert response.status_code == 409 and response.json()["error"] == "certificate_revoked"
    assert Envelope.objects.get(pk=envelope["id"]).current_version == 0


def _to_unicode_text(obj, seen=None) -> str:
    """All ToUnicode CMaps reachable from a PDF object (the fonts an appearance draws with)."""
    from pyhanko.pdf_utils import generic

    seen = seen if seen is not None else set()
    if isinstance(obj, generic.IndirectObject):
        if obj.reference in seen:
            return ""
        seen.add(obj.reference)
        obj = obj.get_object()
    text = ""
    if isinstance(obj, generic.DictionaryObject):
        for key, value in obj.items():
            if key == "/ToUnicode":
                text += value.get_object().data.decode("latin-1")
            elif key not in ("/Parent", "/P"):
                text += _to_unicode_text(value, seen)
    elif isinstance(obj, generic.ArrayObject):
        for value in obj:
            text += _to_unicode_text(value, seen)
    return text


def test_appearance_draws_the_chinese_name_and_a_party_without_fields_signs_invisibly(
    cast, sample_pdf, outbox
):
    parties = [
        {"name": "张三", "email": "first@example.test", "order": 1},
        {"name": "李四", "email": "second@example.test", "order": 2},
    ]
    envelope = create_and_send(cast["sender_api"], sample_pdf, parties, [{"party": 0, **FIELD}])
    assert (
        sign_as(cast["first_api"], outbox, envelope, 0, "first@example.test", PIN["first"]).status_code == 200
    )
    assert (
        sign_as(cast["second_api"], outbox, envelope, 1, "second@example.test", PIN["second"]).status_code
        == 200
    )
    pdf = Envelope.objects.get(pk=envelope["id"]).current_document().read_bytes()
    visible, invisible = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[:2]

    widget = visible.sig_field["/Kids"][0].get_object()
    cmap = _to_unicode_text(widget["/AP"])
    # the signer's real name, 张三 (U+5F20 U+4E09), is among the glyphs the appearance can show
    assert "5F20" in cmap.upper() and "4E09" in cmap.upper()

    rect = [float(v) for v in invisible.sig_field.get("/Rect", [0, 0, 0, 0])]
    assert rect[2] - rect[0] == 0 and rect[3] - rect[1] == 0


def test_an_unverified_user_gets_no_signing_certificate(make_user, api_client):
    from econtract.pki.models import SignerKey

    unverified = make_user("unverified@example.test", verified=False)
    response = api_client(unverified).put(
        "/api/v1/me/signing-pin", {"pin": "582914"}, content_type="application/json"
    )
    assert response.status_code == 403 and response.json()["error"] == "identity_not_verified"
    assert not SignerKey.objects.filter(user=unverified).exists()


def test_signing_pin_via_api_creates_then_changes_the_key(make_user, api_client):
    user = make_user("pin@example.test")
    client = api_client(user)
    first = client.put("/api/v1/me/signing-pin", {"pin": "582914"}, content_type="application/json")
    assert first.status_code == 200
    weak = client.put(
        "/api/v1/me/signing-pin", {"pin": "123456", "current_pin": "582914"}, content_type="application/json"
    )
    assert weak.status_code == 400 and weak.json()["error"] == "weak_pin"
    changed = client.put(
        "/api/v1/me/signing-pin", {"pin": "703916", "current_pin": "582914"}, content_type="application/json"
    )
    assert changed.status_code == 200
    assert changed.json()["certificate_serial"] == first.json()["certificate_serial"]


def test_sender_reminds_a_party_whose_turn_it_is(cast, sample_pdf, outbox):
    from econtract.signing.models import Party

    envelope = two_party_envelope(cast, sample_pdf)
    first_id, second_id = (p["id"] for p in envelope["parties"])
    url = f"/api/v1/envelopes/{envelope['id']}/parties/{{}}/remind"
    too_soon = cast["sender_api"].post(url.format(first_id))
    assert too_soon.status_code == 429 and too_soon.json()["error"] == "reminder_too_soon"
    Party.objects.filter(pk=first_id).update(notified_at=timezone.now() - timedelta(minutes=11))
    old_link = outbox.last_link("first@example.test")
    response = cast["sender_api"].post(url.format(first_id))
    assert response.status_code == 200 and response.json()["status"] == "ready"
    assert outbox.last_link("first@example.test") != old_link
    # the party waiting for her turn is not reminded, and a party cannot remind anyone
    assert cast["sender_api"].post(url.format(second_id)).json()["error"] == "not_your_turn"
    assert cast["first_api"].post(url.format(first_id)).status_code == 403
    kinds = [e.kind for e in Event.objects.for_subject(Envelope.objects.get(pk=envelope["id"]))]
    assert kinds.count("reminded") == 1

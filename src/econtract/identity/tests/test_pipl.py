"""PIPL: ID numbers masked except to their holder after re-authentication, and a full data export.

Given a verified person, her full number is refused until she re-enters her password (or an
authenticator code), then shown for a few minutes to this API key only, each reveal recorded; her
export holds her account, her own full numbers, certificates, envelopes and evidence events.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pyotp
import pytest
from django.utils import timezone

from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext
from econtract.identity import factors, reauth
from econtract.identity.models import IdentityVerification
from econtract.identity.tests.factories import ANY_ID_NUMBER, verify_identity
from econtract.pki import custody
from econtract.signing import services as signing

PASSWORD = "correct horse battery"
REAUTH = "/api/v1/me/reauthenticate"


@pytest.fixture(autouse=True)
def fast_kdf(settings: Any) -> None:
    settings.ECONTRACT_PIN_KDF_MEMORY_KIB = 64
    settings.ECONTRACT_PIN_KDF_PASSES = 1


@pytest.fixture
def person(make_user: Any) -> Any:
    return verify_identity(
        make_user("zhang@example.test", "张三 Zhang San", identity=None), id_number=ANY_ID_NUMBER
    )


def verification_of(user: Any) -> IdentityVerification:
    return IdentityVerification.objects.get(user=user, status="verified")


def post(client: Any, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def test_the_number_is_masked_until_the_password_is_given_again(api_client: Any, person: Any) -> None:
    client = api_client(person)
    row = verification_of(person)
    url = f"/api/v1/me/identity-verifications/{row.pk}/id-number"
    listed = client.get("/api/v1/me/identity-verifications").content.decode()
    assert ANY_ID_NUMBER not in listed and "110***********002X" in listed

    refused = client.get(url)
    assert (refused.status_code, refused.json()["error"]) == (403, "reauthentication_required")
    wrong = post(client, REAUTH, {"password": "not my password"})
    assert (wrong.status_code, wrong.json()["error"]) == (403, "reauthentication_required")
    assert client.get(url).status_code == 403
    assert post(client, REAUTH, {}).status_code == 403

    opened = post(client, REAUTH, {"password": PASSWORD})
    assert opened.status_code == 200, opened.content
    until = datetime.datetime.fromisoformat(opened.json()["valid_until"])
    assert timezone.now() < until <= timezone.now() + datetime.timedelta(seconds=301)
    shown = client.get(url)
    assert shown.status_code == 200
    assert shown.json() == {"id": str(row.pk), "id_type": "cn_resident", "id_number": ANY_ID_NUMBER}
    assert shown["Cache-Control"] == "no-store, max-age=0"
    revealed = Event.objects.for_subject(row).filter(kind="id_number_revealed")
    assert revealed.count() == 1 and revealed.get().actor == person
    assert Event.objects.for_subject(person).filter(kind="reauthenticated").count() == 1
    assert Event.objects.for_subject(person).filter(kind="second_factor_failed").count() == 1

    # the window belongs to this API key: another key of hers, and other people, get nothing
    assert api_client(person).get(url).status_code == 403
    assert api_client(person).get("/api/v1/me/export").status_code == 403


def test_the_window_closes(api_client: Any, person: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client = api_client(person)
    url = f"/api/v1/me/identity-verifications/{verification_of(person).pk}/id-number"
    assert post(client, REAUTH, {"password": PASSWORD}).status_code == 200
    assert client.get(url).status_code == 200
    later = timezone.now() + datetime.timedelta(seconds=reauth.window_seconds() + 1)
    monkeypatch.setattr(reauth.timezone, "now", lambda: later)
    assert client.get(url).status_code == 403


def test_another_persons_number_is_never_shown(api_client: Any, person: Any, make_user: Any) -> None:
    other = make_user("li@example.test", "李明 Li Ming")
    client = api_client(other)
    assert post(client, REAUTH, {"password": PASSWORD}).status_code == 200
    response = client.get(f"/api/v1/me/identity-verifications/{verification_of(person).pk}/id-number")
    assert response.status_code == 404


def test_an_authenticator_code_also_reauthenticates(api_client: Any, person: Any) -> None:
    enrolment = factors.begin_totp_enrolment(person)
    totp = pyotp.TOTP(enrolment.secret)
    factors.confirm_totp_enrolment(person, totp.now())
    client = api_client(person)
    assert post(client, REAUTH, {"code": "000000"}).status_code in {400, 403}
    next_step = totp.at(timezone.now() + datetime.timedelta(seconds=30))  # each step is accepted once
    response = post(client, REAUTH, {"code": next_step})
    assert response.status_code == 200, response.content
    assert client.get("/api/v1/me/export").status_code == 200


def test_export_holds_her_data_and_is_recorded(
    api_client: Any, person: Any, enterprise: Any, sample_pdf: bytes
) -> None:
    custody.set_signing_pin(person, "246810")
    sender = enterprise.memberships.get().user
    context = RequestContext.system("test")
    envelope = signing.create_envelope(
        organization=enterprise, created_by=sender, title="采购合同 Purchase", pdf=sample_pdf, context=context
    )
    signing.replace_recipients(
        envelope,
        parties=[
            signing.PartySpec(name=person.full_name, email=person.email, order=1),
            signing.PartySpec(name="其他 Someone Else", email="else@example.test", order=2),
        ],
        fields=[],
        user=sender,
        context=context,
    )
    client = api_client(person)
    assert client.get("/api/v1/me/export").status_code == 403
    assert post(client, REAUTH, {"password": PASSWORD}).status_code == 200
    response = client.get("/api/v1/me/export")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store, max-age=0"
    assert response["Content-Disposition"].startswith("attachment")
    data = response.json()
    assert data["format"] == "econtract.personal-data-export/1"
    assert data["account"]["email"] == "zhang@example.test"
    (verified,) = data["identity_verifications"]
    assert (verified["id_number"], verified["status"], verified["name"]) == (
        ANY_ID_NUMBER,
        "verified",
        "张三 Zhang San",
    )
    (certificate,) = data["certificates"]
    assert certificate["serial_number"] == str(person.signer_key.certificate.serial_number)
    (as_party,) = data["envelopes"]
    assert (as_party["title"], as_party["role"]) == ("采购合同 Purchase", "party")
    assert [p["email"] for p in as_party["parties"]] == ["zhang@example.test"]  # not the other party's
    kinds = {event["kind"] for event in data["evidence_events"]}
    assert {"identity_verified", "reauthenticated", "personal_data_exported"} <= kinds
    assert "password" not in json.dumps(data["account"]) and "secret_hash" not in response.content.decode()
    assert Event.objects.for_subject(person).filter(kind="personal_data_exported").count() == 1

    # the sender's export lists the envelope she created, with its parties
    sender_client = api_client(sender)
    assert post(sender_client, REAUTH, {"password": PASSWORD}).status_code == 200
    (created,) = sender_client.get("/api/v1/me/export").json()["envelopes"]
    assert created["role"] == "sender" and len(created["parties"]) == 2

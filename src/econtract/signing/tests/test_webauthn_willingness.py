"""Willingness by passkey through the API: ``…/otp`` hands out WebAuthn request options bound to the
party, ``…/sign`` takes the assertion. A software authenticator (ES256, real authenticatorData and
clientDataJSON) answers; the server's real verification (py_webauthn) checks it before the PIN."""

from __future__ import annotations

import pytest

from econtract.evidence.models import Event
from econtract.identity.factor_models import WebAuthnCredential
from econtract.identity.tests.soft_authenticator import enrol
from econtract.signing.models import Envelope
from econtract.signing.tests.test_party_assurance import (  # noqa: F401  (fixtures)
    PIN,
    cast,
    fast_kdf,
    party_url,
    send_to_signer,
)

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "https://sign.example.cn"
RP_ID = "sign.example.cn"


@pytest.fixture
def rp(settings):
    settings.BASE_URL = ORIGIN
    settings.ECONTRACT_WEBAUTHN_RP_ID = ""


def sign(cast, envelope, **body):  # noqa: F811
    return cast["signer_api"].post(
        party_url(envelope, "sign"), {"pin": PIN, **body}, content_type="application/json"
    )


def refusals(kind="willingness_failed"):
    return [e.payload for e in Event.objects.for_subject(Envelope.objects.get()) if e.kind == kind]


def test_email_code_and_passkey_both_checked_then_the_pin(rp, cast, sample_pdf, outbox):  # noqa: F811
    authenticator = enrol(cast["signer"], rp_id=RP_ID, origin=ORIGIN)
    envelope = send_to_signer(cast, sample_pdf, willingness=["webauthn", "email_otp"])
    party_id = envelope["parties"][0]["id"]
    response = cast["signer_api"].post(party_url(envelope, "otp"))
    assert response.status_code == 200, response.content
    options = response.json()["webauthn"]
    assert options["rpId"] == RP_ID and options["userVerification"] == "required"
    assert authenticator.allowed_by(options)
    code = outbox.last_code("signer@example.test")

    # the code alone is not enough: nothing is signed, and the refusal is evidence
    response = sign(cast, envelope, otp=code)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "webauthn_required"
    assert refusals() == [{"party": party_id, "why": "webauthn_required", "method": "webauthn"}]
    assert Envelope.objects.get().current_version == 0

    response = sign(cast, envelope, otp=code, webauthn=authenticator.assert_(options))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed"
    (signed,) = refusals("signed")
    assert signed["willingness"] == ["email_otp", "webauthn", "pin"]
    assert [p["method"] for p in refusals("willingness_passed")] == ["webauthn"]
    stored = WebAuthnCredential.objects.get(user=cast["signer"])
    assert stored.sign_count == authenticator.sign_count == 1 and stored.last_used_at is not None
    used = Event.objects.get(kind="second_factor_used", subject_id=str(cast["signer"].pk))
    assert used.payload["purpose"] == "sign" and used.payload["factor"] == "webauthn"


def test_another_user_s_passkey_a_forged_signature_and_a_replay_are_refused(
    rp,
    cast,  # noqa: F811
    sample_pdf,
    make_user,
):
    mine = enrol(cast["signer"], rp_id=RP_ID, origin=ORIGIN)
    theirs = enrol(make_user("other@example.test", "李四"), rp_id=RP_ID, origin=ORIGIN)
    envelope = send_to_signer(cast, sample_pdf, willingness=["webauthn"])

    def options():
        response = cast["signer_api"].post(party_url(envelope, "otp"))
        assert response.status_code == 200, response.content
        assert response.json()["sent_to"] == ""  # no code to send: a passkey only
        return response.json()["webauthn"]

    first = options()
    assert not theirs.allowed_by(first)  # only the signer's own passkeys are offered
    response = sign(cast, envelope, webauthn=theirs.assert_(first))  # a valid assertion, wrong account
    assert response.status_code == 400 and response.json()["error"] == "webauthn_failed"

    forged = mine.assert_(options())
    forged["response"]["signature"] = theirs.assert_(first)["response"]["signature"]
    response = sign(cast, envelope, webauthn=forged)
    assert response.status_code == 400 and response.json()["error"] == "webauthn_failed"

    # an assertion made for logging in does not sign (purpose and subject are bound)
    from econtract.identity import factors

    login = factors.begin_webauthn_assertion(cast["signer"], purpose="login", subject=str(cast["signer"].pk))
    response = sign(cast, envelope, webauthn=mine.assert_(login))
    assert response.status_code == 400 and response.json()["error"] == "webauthn_failed"

    good = mine.assert_(options())
    wrong_pin = cast["signer_api"].post(
        party_url(envelope, "sign"), {"pin": "135799", "webauthn": good}, content_type="application/json"
    )
    assert wrong_pin.status_code == 403  # the passkey passed; the PIN is checked after it
    response = sign(cast, envelope, webauthn=good)  # the same answer again: its challenge is spent
    assert response.status_code == 400 and response.json()["error"] == "webauthn_failed"
    assert Envelope.objects.get().current_version == 0

    failed = refusals()
    assert [f["why"] for f in failed] == ["webauthn_failed"] * 4
    assert {f["method"] for f in failed} == {"webauthn"}
    assert len(refusals("pin_failed")) == 1
    reasons = [
        e.payload["reason"]
        for e in Event.objects.filter(kind="second_factor_failed", subject_id=str(cast["signer"].pk))
    ]
    # the account's own record names the passkey's faults; a spent or foreign challenge shows above
    assert len(reasons) == 2
    assert "not registered for this account" in reasons[0] and "signature" in reasons[1]

    response = sign(cast, envelope, webauthn=mine.assert_(options()))
    assert response.status_code == 200, response.content
    (signed,) = refusals("signed")
    assert signed["willingness"] == ["webauthn", "pin"]


def test_a_party_asked_for_a_passkey_without_one_is_told_so(rp, cast, sample_pdf):  # noqa: F811
    envelope = send_to_signer(cast, sample_pdf, willingness=["webauthn"])
    response = cast["signer_api"].post(party_url(envelope, "otp"))
    assert response.status_code == 409 and response.json()["error"] == "factor_missing"


def test_a_passkey_without_user_verification_is_refused(rp, cast, sample_pdf):  # noqa: F811
    authenticator = enrol(cast["signer"], rp_id=RP_ID, origin=ORIGIN)
    envelope = send_to_signer(cast, sample_pdf, willingness=["webauthn"])
    options = cast["signer_api"].post(party_url(envelope, "otp")).json()["webauthn"]
    authenticator.user_verified = False  # presence only: user verification is required
    response = sign(cast, envelope, webauthn=authenticator.assert_(options))
    assert response.status_code == 400 and response.json()["error"] == "webauthn_failed"
    assert "user verification" in str(
        Event.objects.get(kind="second_factor_failed").payload["reason"]
    ).lower().replace("_", " ")
    assert Envelope.objects.get().current_version == 0

"""POST /api/v1/me/factors/recovery-codes: renewing the recovery codes by API, after a fresh proof
(the password or a current code of the app), as the security page does."""

from __future__ import annotations

import time

import pyotp
import pytest

from econtract.evidence.models import Event
from econtract.identity import factors
from econtract.identity.errors import OtpInvalid

pytestmark = pytest.mark.django_db

URL = "/api/v1/me/factors/recovery-codes"
PASSWORD = "correct horse battery"


def code_at(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


@pytest.fixture
def user(make_user):
    return make_user("renew@example.test", password=PASSWORD)


@pytest.fixture
def api(user, api_client):
    return api_client(user)


@pytest.fixture
def secret(user):
    """An authenticator app, confirmed with the previous step's code: the current one is still fresh."""
    enrolment = factors.begin_totp_enrolment(user)
    factors.confirm_totp_enrolment(user, code_at(enrolment.secret, -1))
    return enrolment.secret


def _post(api, body):  # type: ignore[no-untyped-def]
    return api.post(URL, body, content_type="application/json")


def test_the_password_renews_all_codes_and_answers_them_once(api, user, secret):
    old = factors.generate_recovery_codes(user)
    events = Event.objects.filter(subject_id=str(user.pk), kind="recovery_codes_generated")
    before = events.count()
    response = _post(api, {"password": PASSWORD})
    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["recovery_codes"]) == 10 == body["recovery_codes_left"]
    assert len(set(body["recovery_codes"]) & set(old)) == 0
    assert api.get("/api/v1/me/factors").json()["recovery_codes_left"] == 10
    with pytest.raises(OtpInvalid):  # the old codes are gone
        factors.use_recovery_code(user, old[0])
    factors.use_recovery_code(user, body["recovery_codes"][0])  # the new ones work
    assert events.count() == before + 1


def test_a_current_app_code_renews_them(api, user, secret):
    response = _post(api, {"code": code_at(secret)})
    assert response.status_code == 201, response.content
    assert len(response.json()["recovery_codes"]) == 10
    # the same code is not accepted twice (RFC 6238 §5.2)
    replay = _post(api, {"code": code_at(secret)})
    assert replay.status_code == 400 and replay.json()["error"] == "otp_invalid"


def test_no_proof_or_a_wrong_one_is_refused_and_nothing_changes(api, user, secret):
    codes = factors.generate_recovery_codes(user)
    missing = _post(api, {})
    assert missing.status_code == 403 and missing.json()["error"] == "reauthentication_required"
    wrong_password = _post(api, {"password": "not the password"})
    assert wrong_password.status_code == 403 and wrong_password.json()["error"] == "reauthentication_required"
    wrong_code = _post(api, {"code": "000000" if code_at(secret) != "000000" else "111111"})
    assert wrong_code.status_code == 400 and wrong_code.json()["error"] == "otp_invalid"
    assert "recovery_codes" not in wrong_code.json()
    factors.use_recovery_code(user, codes[0])  # the old codes still hold


def test_wrong_proofs_lock_out(api, user, secret):
    for _ in range(5):
        _post(api, {"password": "not the password"})
    locked = _post(api, {"password": PASSWORD})
    assert locked.status_code == 429, locked.content
    assert "Retry-After" in locked


def test_an_account_without_a_second_factor_has_no_codes_to_renew(api):
    response = _post(api, {"password": PASSWORD})
    assert response.status_code == 409 and response.json()["error"] == "factor_missing"


def test_an_oversized_proof_is_a_422(api, secret):
    assert _post(api, {"code": "1" * 65}).status_code == 422
    assert _post(api, {"password": "x" * 2000}).status_code == 422


def test_unauthenticated_is_401(client):
    assert client.post(URL, {"password": PASSWORD}, content_type="application/json").status_code == 401


def test_the_operation_is_in_the_openapi_document(client):
    operation = client.get("/api/openapi.json").json()["paths"][URL]["post"]
    assert {"201", "400", "401", "403", "409", "422", "429"} <= set(operation["responses"])
    properties = operation["requestBody"]["content"]["application/json"]["schema"]
    assert properties  # a documented body

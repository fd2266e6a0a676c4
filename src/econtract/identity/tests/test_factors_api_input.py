"""Hostile input to the second-factor API: found by schemathesis (tests/e2e/test_api_schema_fuzz.py),
which got a 500 from POST /api/v1/me/factors/totp/confirm with `"id": "¶Ë\\x02"`: the string reached a
UUID primary-key lookup, whose ValidationError no handler maps."""

from __future__ import annotations

import time

import pyotp
import pytest

from econtract.identity import factors
from econtract.identity.errors import FactorMissing

pytestmark = pytest.mark.django_db

CONFIRM = "/api/v1/me/factors/totp/confirm"


@pytest.fixture
def user(make_user):
    return make_user("fuzz@example.test")


@pytest.fixture
def api(user, api_client):
    return api_client(user)


@pytest.mark.parametrize("device_id", ["¶Ë\x02\x89¾", "not-a-uuid", "1", "0" * 10_000])
def test_an_id_that_is_no_uuid_is_a_422_naming_it(api, user, device_id):
    factors.begin_totp_enrolment(user)
    response = api.post(CONFIRM, {"code": "123456", "id": device_id}, content_type="application/json")
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["loc"] == ["body", "payload", "id"]


def test_the_confirm_operation_documents_the_id_as_a_uuid(client):
    document = client.get("/api/openapi.json").json()
    body = document["paths"][CONFIRM]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert {"type": "string", "format": "uuid"} in schema["properties"]["id"]["anyOf"]
    assert schema["properties"]["code"]["maxLength"] == 64


def test_an_oversized_code_is_refused_before_the_lockout_counts_it(api, user):
    factors.begin_totp_enrolment(user)
    response = api.post(CONFIRM, {"code": "1" * 100_000}, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "payload", "code"]


def test_the_service_treats_an_id_that_is_no_uuid_as_no_pending_app(user):
    """The web form and any other caller reach the same service: no query with a malformed id."""
    enrolment = factors.begin_totp_enrolment(user)
    code = pyotp.TOTP(enrolment.secret).at(time.time())
    with pytest.raises(FactorMissing):
        factors.confirm_totp_enrolment(user, code, device_id="¶Ë\x02")
    assert not factors.has_factor(user, "totp")


def test_the_pending_app_is_still_confirmed_by_its_uuid(api, user):
    enrolment = factors.begin_totp_enrolment(user)
    code = pyotp.TOTP(enrolment.secret).at(time.time())
    response = api.post(
        CONFIRM, {"code": code, "id": str(enrolment.device.pk)}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["factor"]["id"] == str(enrolment.device.pk)

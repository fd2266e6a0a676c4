"""MFA at login: the second step after the password or a login link, and owners led to enrol first."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from django.test import Client
from django.urls import reverse

from econtract.accounts.services import create_api_key, create_enterprise
from econtract.identity import factors
from econtract.identity.factor_models import TotpDevice

PASSWORD = "correct horse battery"
LINK = r"(https?://\S+/login/link/\S+)"


def code_at(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def with_app(user) -> str:
    enrolment = factors.begin_totp_enrolment(user)
    factors.confirm_totp_enrolment(user, code_at(enrolment.secret, -1))
    return enrolment.secret


def password_login(client: Client, user, next_url: str = ""):
    data = {"email": user.email, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("web:login"), data)


@pytest.fixture
def client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
def test_a_user_with_an_app_passes_it_after_the_password(client, make_user):
    user = make_user(password=PASSWORD)
    secret = with_app(user)
    response = password_login(client, user, next_url=reverse("web:profile"))
    assert response.status_code == 302 and response["Location"] == reverse("web:login_factor")
    assert not logged_in(client)  # the password alone logs nobody in
    assert client.get(reverse("web:dashboard")).status_code == 302

    page = client.get(reverse("web:login_factor"))
    assert page.status_code == 200 and b"authenticator app" in page.content
    wrong = client.post(
        reverse("web:login_factor"), {"code": "000000" if code_at(secret) != "000000" else "111111"}
    )
    assert wrong.status_code == 400 and b"4 attempts left" in wrong.content and not logged_in(client)

    response = client.post(reverse("web:login_factor"), {"code": code_at(secret)})
    assert response.status_code == 302 and response["Location"] == reverse("web:profile")
    assert logged_in(client) and client.session["mfa"] == "passed"
    assert client.get(reverse("web:dashboard")).status_code == 200


@pytest.mark.django_db
def test_a_recovery_code_stands_in_for_the_app_once(make_user):
    user = make_user(password=PASSWORD)
    enrolment = factors.begin_totp_enrolment(user)
    _device, codes = factors.confirm_totp_enrolment(user, code_at(enrolment.secret))
    assert codes
    first = Client(HTTP_ACCEPT_LANGUAGE="en")
    password_login(first, user)
    assert first.post(reverse("web:login_factor"), {"code": codes[0]}).status_code == 302
    assert logged_in(first)
    again = Client(HTTP_ACCEPT_LANGUAGE="en")
    password_login(again, user)
    response = again.post(reverse("web:login_factor"), {"code": codes[0]})
    assert response.status_code == 400 and not logged_in(again)


@pytest.mark.django_db
def test_the_second_step_needs_a_password_first(client, db):
    response = client.get(reverse("web:login_factor"))
    assert response.status_code == 302 and response["Location"] == reverse("web:login")
    response = client.post(reverse("web:login_passkey_options"))
    assert response.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_login_link_does_not_skip_the_second_factor(client, make_user, outbox):
    user = make_user(password=PASSWORD)
    secret = with_app(user)
    client.post(reverse("web:login_link"), {"email": user.email})
    url = outbox.last(user.email, LINK)
    response = client.post("/" + url.split("/", 3)[3])
    assert response.status_code == 302 and response["Location"] == reverse("web:login_factor")
    assert not logged_in(client)
    assert client.post(reverse("web:login_factor"), {"code": code_at(secret)}).status_code == 302
    assert logged_in(client)


@pytest.mark.django_db(transaction=True)
def test_a_password_reset_does_not_skip_the_second_factor(client, make_user, outbox):
    user = make_user(password=PASSWORD)
    secret = with_app(user)
    client.post(reverse("web:password_reset"), {"email": user.email})
    path = "/" + outbox.last(user.email, r"(https?://\S+/password/reset/\S+/\S+)").split("/", 3)[3]
    new = "a brand new long passphrase"
    response = client.post(path, {"password": new, "password2": new})
    assert response.status_code == 302 and not logged_in(client)
    response = client.post(reverse("web:login"), {"email": user.email, "password": new})
    assert response["Location"] == reverse("web:login_factor") and not logged_in(client)
    assert client.post(reverse("web:login_factor"), {"code": code_at(secret)}).status_code == 302
    assert logged_in(client)


@pytest.mark.django_db
def test_an_owner_without_a_factor_is_led_to_enrol_before_anything_else(client, make_user, api_client):
    owner = make_user("owner@acme.test", password=PASSWORD)
    create_enterprise("Acme 科技有限公司", owner)
    response = password_login(client, owner)
    assert response.status_code == 302 and response["Location"] == reverse("web:security")
    assert logged_in(client) and client.session["mfa"] == "enrol"
    for name in ("web:dashboard", "web:profile", "web:envelope_new"):
        refused = client.get(reverse(name))
        assert refused.status_code == 302 and refused["Location"] == reverse("web:security"), name
    api = client.get("/api/v1/me")
    assert api.status_code == 403 and api.json()["error"] == "mfa_enrolment_required"
    _key, secret_key = create_api_key(owner)
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret_key}").status_code == 200

    page = client.get(reverse("web:security"))
    assert page.status_code == 200 and b'id="enrol-required"' in page.content
    page = client.post(reverse("web:security_totp_begin"), {"name": "Phone"})
    assert page.status_code == 200
    secret = re.search(rb'id="totp-secret">([A-Z2-7]+)<', page.content).group(1).decode()
    device = TotpDevice.objects.get(user=owner)
    done = client.post(
        reverse("web:security_totp_confirm"), {"device": str(device.pk), "code": code_at(secret)}
    )
    assert done.status_code == 302 and done["Location"] == reverse("web:security")
    shown = client.get(reverse("web:security"))
    assert shown.content.count(b"<li><code>") == 10  # the recovery codes, once
    assert client.get(reverse("web:security")).content.count(b"<li><code>") == 0
    assert client.get(reverse("web:dashboard")).status_code == 200
    assert client.get("/api/v1/me").status_code == 200


@pytest.mark.django_db
def test_a_member_without_a_factor_logs_in_with_the_password_alone(client, make_user):
    user = make_user(password=PASSWORD)
    org = create_enterprise("Acme 科技有限公司", make_user())
    org.memberships.create(user=user, role="member")
    response = password_login(client, user)
    assert response.status_code == 302 and response["Location"] == reverse("web:dashboard")
    assert client.session["mfa"] == "not_required"


@pytest.mark.django_db
def test_removing_the_app_on_the_security_page_needs_the_password(client, make_user):
    user = make_user(password=PASSWORD)
    with_app(user)
    client.force_login(user)
    device = TotpDevice.objects.get(user=user)
    url = reverse("web:security_factor_remove", args=[device.pk])
    client.post(url, {"password": "wrong"})
    assert factors.has_factor(user, "totp")
    assert client.post(url, {"password": PASSWORD}).status_code == 302
    assert not factors.has_factor(user, "totp")


@pytest.mark.django_db
def test_the_profile_links_to_the_security_page(client, make_user):
    client.force_login(make_user())
    assert reverse("web:security").encode() in client.get(reverse("web:profile")).content


@pytest.mark.django_db
def test_passkeys_say_plainly_they_are_off_at_an_ip_address(client, make_user, settings):
    settings.BASE_URL = "http://127.0.0.1:8000"
    client.force_login(make_user())
    page = client.get(reverse("web:security"))
    assert b'id="passkeys-unavailable"' in page.content
    refused = client.post(reverse("web:security_passkey_options"))
    assert refused.status_code == 409 and refused.json()["error"] == "webauthn_unavailable"


@pytest.mark.django_db
def test_the_admin_login_form_does_not_skip_the_second_factor(client, make_user):
    staff = make_user("staff@example.test", password=PASSWORD)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    secret = with_app(staff)
    response = client.post(reverse("admin:login"), {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 302  # Django's form took the password ...
    held = client.get("/admin/")
    assert held.status_code == 302 and held["Location"] == reverse("web:login_factor")  # ... not more
    assert not logged_in(client)
    response = client.post(reverse("web:login_factor"), {"code": code_at(secret)})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_staff_without_a_factor_is_led_to_enrol_after_the_admin_login(client, make_user):
    staff = make_user("staff@example.test", password=PASSWORD)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    client.post(reverse("admin:login"), {"username": staff.email, "password": PASSWORD})
    held = client.get("/admin/")
    assert held.status_code == 302 and held["Location"] == reverse("web:security")
    assert client.session["mfa"] == "enrol"


# --- the API -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_enrols_lists_and_removes_an_app(make_user, api_client):
    user = make_user(password=PASSWORD)
    api = api_client(user)
    assert api.get("/api/v1/me/factors").json() == {
        "items": [],
        "next_cursor": None,
        "recovery_codes_left": 0,
        "required": False,
    }
    begun = api.post("/api/v1/me/factors/totp", {"name": "Phone"}, content_type="application/json")
    assert begun.status_code == 201
    body = begun.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/") and body["qr_svg_data_uri"].startswith("data:")
    wrong = api.post("/api/v1/me/factors/totp/confirm", {"code": "12"}, content_type="application/json")
    assert wrong.status_code == 400 and wrong.json()["error"] == "otp_invalid"
    assert wrong.json()["remaining_attempts"] == 4
    confirmed = api.post(
        "/api/v1/me/factors/totp/confirm",
        {"code": code_at(body["secret"]), "id": body["id"]},
        content_type="application/json",
    )
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["factor"]["kind"] == "totp" and len(confirmed.json()["recovery_codes"]) == 10
    listed = api.get("/api/v1/me/factors").json()
    assert [f["id"] for f in listed["items"]] == [body["id"]] and listed["recovery_codes_left"] == 10
    again = api.post("/api/v1/me/factors/totp", {}, content_type="application/json")
    assert again.status_code == 409 and again.json()["error"] == "factor_already_enrolled"

    refused = api.delete(f"/api/v1/me/factors/{body['id']}", {}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["error"] == "reauthentication_required"
    missing = api.delete(
        "/api/v1/me/factors/00000000-0000-0000-0000-000000000000",
        {"password": PASSWORD},
        content_type="application/json",
    )
    assert missing.status_code == 404
    removed = api.delete(
        f"/api/v1/me/factors/{body['id']}", {"password": PASSWORD}, content_type="application/json"
    )
    assert removed.status_code == 204
    assert api.get("/api/v1/me/factors").json()["items"] == []


@pytest.mark.django_db
def test_api_webauthn_registration_is_refused_at_an_ip_rp_id(make_user, api_client, settings):
    settings.BASE_URL = "http://127.0.0.1:8000"
    response = api_client(make_user()).post("/api/v1/me/factors/webauthn/begin")
    assert response.status_code == 409 and response.json()["error"] == "webauthn_unavailable"


def test_the_factor_endpoints_are_in_the_openapi_document(client, db):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"/api/v1/me/factors", "/api/v1/me/factors/totp", "/api/v1/me/factors/totp/confirm"} <= set(paths)
    assert "/api/v1/me/factors/webauthn/begin" in paths and "/api/v1/me/factors/webauthn/finish" in paths
    assert {"204", "403", "404"} <= set(paths["/api/v1/me/factors/{factor_id}"]["delete"]["responses"])

"""Passkeys in a real browser: Chrome's virtual authenticator (CDP WebAuthn domain) against the live server.

The live server answers on ``localhost``: WebAuthn refuses an IP address as relying-party id.
An owner of an enterprise logs in with her password, is led to the security page, registers a
passkey there, logs out, and logs in again with password + passkey.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from econtract.accounts.services import create_enterprise, create_personal_account
from econtract.evidence.models import Event
from econtract.identity.factor_models import WebAuthnChallenge, WebAuthnCredential
from tests.browser.test_signing_flow import PASSWORD, chromium, log_in  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LOG_OUT = "header form[action$='/logout/'] button"


@pytest.fixture
def localhost_site(live_server, settings, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    assert live_server.url.startswith("http://localhost:"), live_server.url
    settings.BASE_URL = live_server.url  # RP id "localhost", origin http://localhost:PORT
    settings.ECONTRACT_WEBAUTHN_RP_ID = ""
    return live_server.url


def virtual_authenticator(context, page) -> tuple[object, str]:
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def test_an_owner_registers_a_passkey_and_logs_in_with_it(localhost_site, chromium):  # noqa: F811
    site = localhost_site
    owner = create_personal_account("owner@acme.test", PASSWORD, "王五 Wang Wu", email_verified=True)
    create_enterprise("Acme 科技有限公司", owner)

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    csp_violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            csp_violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    cdp, authenticator_id = virtual_authenticator(context, page)

    # The password alone leads an owner to the security page, and nowhere else.
    page.goto(site + reverse("web:login"))
    log_in(page, owner.email)
    page.wait_for_url(site + reverse("web:security"))
    assert page.locator("#enrol-required").is_visible()
    page.goto(site + reverse("web:dashboard"))
    page.wait_for_url(site + reverse("web:security"))

    # Register a passkey: the authenticator makes a resident credential for RP id "localhost".
    page.fill("#passkey-name", "Laptop")
    page.click("#passkey-register")
    page.wait_for_selector("#recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10
    assert page.locator("tr.factor-webauthn").count() == 1, errors
    stored = WebAuthnCredential.objects.get(user=owner)
    assert stored.rp_id == "localhost" and stored.name == "Laptop"
    [held] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert held["rpId"] == "localhost" and held["isResidentCredential"]
    page.goto(site + reverse("web:dashboard"))
    page.wait_for_url(site + reverse("web:dashboard"))  # enrolled: the rest of the site opens

    # Log out; log in again: password, then the passkey.
    page.click(LOG_OUT)
    page.wait_for_url(re.compile(r"/login/"))
    log_in(page, owner.email)
    page.wait_for_url(site + reverse("web:login_factor"))
    page.click("#passkey-login")
    page.wait_for_url(site + reverse("web:dashboard"))
    assert page.locator("header").inner_text().count("Log out") == 1

    stored.refresh_from_db()
    [after] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    assert stored.last_used_at is not None
    assert stored.sign_count == after["signCount"] > held["signCount"]  # the counter is kept
    used = Event.objects.filter(kind="second_factor_used", subject_id=str(owner.pk))
    assert [e.payload["factor"] for e in used] == ["webauthn"]
    assert Event.objects.filter(kind="second_factor_enrolled", subject_id=str(owner.pk)).count() == 1
    assert not WebAuthnChallenge.objects.filter(used_at__isnull=True).exists()  # every challenge spent
    # A counter that does not grow (a cloned authenticator) is refused.
    page.click(LOG_OUT)
    page.wait_for_url(re.compile(r"/login/"))
    WebAuthnCredential.objects.filter(pk=stored.pk).update(sign_count=after["signCount"] + 1000)
    log_in(page, owner.email)
    page.wait_for_url(site + reverse("web:login_factor"))
    page.click("#passkey-login")
    page.wait_for_selector("#passkey-error:not([hidden])")
    assert page.url == site + reverse("web:login_factor")
    failed = Event.objects.get(kind="second_factor_failed", subject_id=str(owner.pk))
    assert "sign count" in failed.payload["reason"]
    assert errors == [] and csp_violations == []
    context.close()

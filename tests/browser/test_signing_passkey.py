"""Willingness by passkey in a real browser: Chrome's virtual authenticator (CDP WebAuthn domain) on
``localhost`` (WebAuthn refuses an IP address as relying-party id).

A signer with an account registers a passkey on her security page, opens her signing link for a party
whose willingness is ["email_otp", "webauthn"], confirms with the passkey in the ceremony panel, enters
the emailed code and her PIN, and signs; the signed event lists webauthn. Before that, a page made to
offer another account's passkey gets a valid assertion from it, and the server refuses the signature.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from django.urls import reverse

from econtract.accounts.services import create_enterprise, create_personal_account
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext
from econtract.identity.factor_models import WebAuthnCredential
from econtract.identity.passkeys import b64url
from econtract.identity.tests.factories import verify_identity
from econtract.identity.tests.soft_authenticator import enrol
from econtract.pki import custody
from econtract.signing import services
from econtract.signing.models import Envelope, Party
from tests.browser.test_passkeys import virtual_authenticator
from tests.browser.test_signing_flow import PASSWORD, PIN, chromium, log_in, site  # noqa: F401  (fixtures)
from tests.mailbox import CODE, SIGNING_LINK, Outbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def localhost(site, settings):  # noqa: F811
    assert site.startswith("http://localhost:"), site
    settings.ECONTRACT_WEBAUTHN_RP_ID = ""  # RP id "localhost", origin http://localhost:PORT
    return site


def send_envelope(sample_pdf, signer) -> Envelope:
    sender = create_personal_account("sender@acme.test", PASSWORD, "王五 Wang Wu", email_verified=True)
    organization = create_enterprise("Acme 科技有限公司", sender)
    context = RequestContext.system("test")
    draft = services.create_envelope(
        organization=organization,
        created_by=sender,
        title="采购合同 Passkey",
        pdf=sample_pdf,
        context=context,
    )
    services.replace_recipients(
        draft,
        parties=[
            services.PartySpec(
                name=signer.full_name, email=signer.email, willingness=("email_otp", "webauthn")
            )
        ],
        fields=[services.FieldSpec(party=0, page=1, x=60, y=80, width=180, height=60)],
        user=sender,
        context=context,
    )
    return services.send_envelope(draft, sender, context)


def test_a_signer_confirms_with_her_passkey_and_another_account_s_is_refused(
    localhost,
    chromium,  # noqa: F811
    settings,
    sample_pdf,
):
    base = localhost
    signer = create_personal_account("signer@example.test", PASSWORD, "李四 Li Si", email_verified=True)
    verify_identity(signer, name="李四")
    custody.set_signing_pin(signer, PIN)
    other = create_personal_account("other@example.test", PASSWORD, "赵六 Zhao Liu", email_verified=True)
    theirs = enrol(other, rp_id="localhost", origin=base)  # registered for the other account
    envelope = send_envelope(sample_pdf, signer)
    inbox = Outbox(settings.OUTBOX_DIR)
    link = inbox.wait_for(signer.email, SIGNING_LINK)

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

    # She logs in and registers a passkey on her security page.
    page.goto(base + reverse("web:login"))
    log_in(page, signer.email)
    page.wait_for_url(base + reverse("web:dashboard"))
    page.goto(base + reverse("web:security"))
    page.fill("#passkey-name", "Laptop")
    page.click("#passkey-register")
    page.wait_for_selector("#recovery-codes")
    mine = WebAuthnCredential.objects.get(user=signer)

    # The ceremony panel asks for the code, the passkey and the PIN.
    page.goto(link)
    assert page.locator("#sign-passkey").is_visible() and page.locator("#sign-passkey-done").is_hidden()
    page.click("#send-code")
    page.wait_for_selector("#ceremony .alert.info")
    code = inbox.wait_for(signer.email, CODE)

    # Signing without the passkey is refused with a clear message.
    page.fill("#ceremony #id_code", code)
    page.fill("#ceremony #id_pin", PIN)
    page.click("#sign-button")
    page.wait_for_selector("#ceremony .alert.error")
    assert "confirm with your passkey" in page.inner_text("#ceremony .alert.error")

    # A page that offers another account's passkey: the authenticator holds it and answers validly,
    # but it is not the signer's, so the server refuses the signature.
    cdp.send(
        "WebAuthn.addCredential",
        {
            "authenticatorId": authenticator_id,
            "credential": {
                "credentialId": base64.b64encode(theirs.credential_id).decode(),
                "isResidentCredential": False,
                "rpId": "localhost",
                "privateKey": base64.b64encode(
                    theirs.key.private_bytes(
                        serialization.Encoding.DER,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                ).decode(),
                "signCount": 0,
            },
        },
    )

    def offer_theirs(route):
        response = route.fetch()
        options = response.json()
        options["allowCredentials"] = [{"type": "public-key", "id": b64url(theirs.credential_id)}]
        route.fulfill(response=response, json=options)

    options_url = "**" + reverse("web:sign_passkey_options", args=[link.rsplit("/sign/", 1)[1]])
    page.route(options_url, offer_theirs)
    page.click("#sign-passkey")
    page.wait_for_selector("#sign-passkey-done:not([hidden])")
    page.fill("#ceremony #id_code", code)
    page.fill("#ceremony #id_pin", PIN)
    page.click("#sign-button")
    page.wait_for_selector("#ceremony .alert.error:has-text('nothing was signed')")
    assert Party.objects.get(envelope=envelope).status == Party.Status.READY
    failed = Event.objects.get(kind="second_factor_failed", subject_id=str(signer.pk))
    assert "not registered for this account" in failed.payload["reason"]
    page.unroute(options_url)

    # Her own passkey: confirmed in the panel, then code and PIN, and she signs.
    page.click("#sign-passkey")
    page.wait_for_selector("#sign-passkey-done:not([hidden])")
    assert page.locator("#sign-passkey").is_hidden()
    page.fill("#ceremony #id_code", code)
    page.fill("#ceremony #id_pin", PIN)
    page.click("#sign-button")
    page.wait_for_url(
        base + reverse("web:envelope_detail", args=[envelope.pk]),
        timeout=45_000,
        wait_until="domcontentloaded",
    )
    assert Envelope.objects.get(pk=envelope.pk).status == Envelope.Status.COMPLETED

    events = list(Event.objects.for_subject(envelope))
    (signed,) = [e.payload for e in events if e.kind == "signed"]
    assert signed["willingness"] == ["email_otp", "webauthn", "pin"]
    assert [(e.payload["method"], e.payload["why"]) for e in events if e.kind == "willingness_failed"] == [
        ("webauthn", "webauthn_required"),
        ("webauthn", "webauthn_failed"),
    ]
    mine.refresh_from_db()
    held = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    (own,) = [c for c in held if c["rpId"] == "localhost" and c["isResidentCredential"]]
    assert mine.sign_count == own["signCount"] and mine.last_used_at is not None
    used = Event.objects.get(kind="second_factor_used", subject_id=str(signer.pk))
    assert used.payload["purpose"] == "sign"
    assert errors == [] and csp_violations == []
    context.close()

"""A counterparty with no account signs in a real browser: emailed link, email code, identity checked by
the sandbox provider over HTTP (2 elements), a fresh willingness code, a one-time event certificate.
The downloaded PDF is then judged by poppler's pdfsig, trusting only our root, while the server (and its
OCSP responder, which pdfsig asks) is still up.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from econtract.accounts.services import create_enterprise, create_personal_account
from econtract.documents.samples import make_contract_pdf
from econtract.pki.hierarchy import root_certificate_pem
from econtract.signing.models import Envelope, Party
from tests.browser import test_signing_flow as flow
from tests.e2e.independent_checks import pdfsig_report, require_tools
from tests.mailbox import SIGNING_LINK, Outbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# the browser and the live server of the first browser test (pytest finds fixtures by module name)
chromium = flow.chromium
site = flow.site
PASSWORD = flow.PASSWORD

NEWCOMER = "zhangsan@newco.test"
ACCESS_CODE = r"Your code to open[^\n]*\n\n\s+(\d{6})"
SIGNING_CODE = r"Your code to sign[^\n]*\n\n\s+(\d{6})"


@pytest.fixture
def sandbox_site(site, settings):
    settings.ECONTRACT_IDP_URL = ""  # the embedded default: the sandbox, over HTTP from this server
    settings.ECONTRACT_IDP_SANDBOX = True
    settings.ECONTRACT_MFA_REQUIRED_ROLES = ""  # the sender's second factor is another test's subject
    return site


def test_a_new_counterparty_signs_without_an_account_and_pdfsig_trusts_her_verified_name(
    sandbox_site, chromium, settings, tmp_path
):
    base = sandbox_site
    require_tools()
    sender = create_personal_account("sender@acme.test", PASSWORD, "王五 Wang Wu", email_verified=True)
    create_enterprise("Acme 科技有限公司", sender)
    inbox = Outbox(settings.OUTBOX_DIR)
    pdf = make_contract_pdf("无账户签署 No-account signing", ["甲方 Party A", "乙方 张三"], pages=1)

    # The sender uploads, names the newcomer, draws her box, and sends.
    desk = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = desk.new_page()
    page.set_default_timeout(15_000)
    page.goto(base + reverse("web:login"))
    flow.log_in(page, sender.email)
    page.wait_for_url(base + reverse("web:dashboard"))
    page.goto(base + reverse("web:envelope_new"))
    page.fill("#id_title", "无账户签署 No-account signing")
    page.set_input_files(
        "#id_document", files=[{"name": "contract.pdf", "mimeType": "application/pdf", "buffer": pdf}]
    )
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r"/envelopes/[0-9a-f-]+/edit/$"))
    envelope = Envelope.objects.get()
    page.fill(".party-row .party-name", "张三")
    page.fill(".party-row .party-email", NEWCOMER)
    page.select_option(".party-row .party-level", "L2")  # what the sender requires of her identity
    page.wait_for_function(
        "() => { const img = document.querySelector('.editor-pages .page-canvas img');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    canvas = page.locator(".editor-pages .page-canvas").first
    canvas.evaluate("el => el.scrollIntoView({block: 'end'})")
    area = canvas.bounding_box()
    page.mouse.move(area["x"] + 0.10 * area["width"], area["y"] + 0.75 * area["height"])
    page.mouse.down()
    page.mouse.move(area["x"] + 0.45 * area["width"], area["y"] + 0.85 * area["height"], steps=8)
    page.mouse.up()
    page.click("#editor-save")
    page.wait_for_selector("#send-button")
    (party,) = Party.objects.filter(envelope=envelope)
    assert (party.min_assurance, party.willingness) == ("L2", ["email_otp"])
    page.click("#send-button")
    page.wait_for_url(base + reverse("web:envelope_send", args=[envelope.pk]))
    page.click("#confirm-send")
    page.wait_for_url(
        base + reverse("web:envelope_detail", args=[envelope.pk]), wait_until="domcontentloaded"
    )
    assert "L2" in page.inner_text(".party-requirements")
    link = inbox.wait_for(NEWCOMER, SIGNING_LINK)
    desk.close()

    # The newcomer opens the link on her phone: no account, no password.
    phone = chromium.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    mobile = phone.new_page()
    errors: list[str] = []
    mobile.on("pageerror", lambda error: errors.append(str(error)))
    mobile.set_default_timeout(20_000)
    mobile.goto(link)
    mobile.wait_for_selector("#ceremony[data-stage=email]")
    with mobile.expect_navigation():
        mobile.click("#access-send-code")
    code = inbox.wait_for(NEWCOMER, ACCESS_CODE)
    mobile.fill("#ceremony #id_code", code)
    with mobile.expect_navigation():
        mobile.click("#access-confirm")

    # The document shows; she verifies her identity inline with the sandbox (2 elements).
    mobile.wait_for_selector("#ceremony[data-stage=identity]")
    assert mobile.locator("#sandbox-notice").is_visible()
    mobile.wait_for_function("() => document.querySelector('.document img').naturalWidth > 0")
    mobile.fill("#ceremony #id_name", "张三")
    mobile.fill("#ceremony #id_id_number", "11010519491231002X")
    with mobile.expect_navigation():
        mobile.click("#identity-submit")
    mobile.wait_for_selector("#ceremony[data-stage=sign]")
    assert "张三" in mobile.inner_text("#verified-as")

    # A fresh willingness code, then the signature with a one-time certificate.
    with mobile.expect_navigation():
        mobile.click("#event-send-code")
    mobile.wait_for_selector("#ceremony[data-stage=sign]")
    signing_code = inbox.wait_for(NEWCOMER, SIGNING_CODE)
    mobile.fill("#ceremony #id_code", signing_code)
    with mobile.expect_navigation(timeout=45_000):
        mobile.click("#event-sign")
    mobile.wait_for_selector("#ceremony[data-stage=signed]", timeout=45_000)
    assert Party.objects.get().status == Party.Status.SIGNED
    assert mobile.locator("#create-account").is_visible()
    mobile.screenshot(path="/tmp/econtract-accountless-signed-390.png", full_page=True)
    with mobile.expect_download() as download_info:
        mobile.click("#download-signed")
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(Path(download_info.value.path()).read_bytes())
    assert errors == []
    phone.close()

    root = tmp_path / "root.pem"
    root.write_bytes(root_certificate_pem())
    report = pdfsig_report(signed, root, tmp_path)
    signers = [s for s in report if "unknown" not in s.get("Signature Type", "")]
    assert len(signers) == 1, report
    (signature,) = signers
    assert signature["Signer Certificate Common Name"] == "张三", report
    assert signature["Signature Validation"] == "Signature is Valid.", report
    assert signature["Certificate Validation"] == "Certificate is Trusted.", report

"""The whole flow in a real browser: a sender draws a signature box, a signer signs on a phone-sized screen.

Drives Debian's chromium through Playwright against pytest-django's live server; mail is read from
the outbox directory, exactly as a person would read it from their inbox.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pyotp
import pytest
from django.urls import reverse

from econtract.accounts.services import create_enterprise, create_personal_account
from econtract.documents.samples import make_contract_pdf
from econtract.identity import factors
from econtract.identity.tests.factories import verify_identity
from econtract.signing.models import Envelope, SignatureField
from tests.mailbox import CODE, SIGNING_LINK, Outbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
PIN = "246810"
SCREENSHOT = Path("/tmp/econtract-signer-390.png")


@pytest.fixture
def chromium():
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(live_server, settings, tmp_path, monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are plain
    # sequential queries, so Django's guard against async-unsafe calls does not apply to them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.BASE_URL = live_server.url  # the signing link in the email points here
    settings.EMAIL_BACKEND = "econtract.notifications.outbox.OutboxEmailBackend"
    settings.OUTBOX_DIR = tmp_path / "outbox"
    settings.ECONTRACT_PIN_KDF_MEMORY_KIB = 64
    settings.ECONTRACT_PIN_KDF_PASSES = 1
    return live_server.url


def log_in(page, email_address: str) -> None:
    page.fill("#id_email", email_address)
    page.fill("#id_password", PASSWORD)
    page.click("form.card button[type=submit]")


def test_sender_draws_a_box_and_the_signer_signs_on_a_phone(site, chromium, settings):
    sender = create_personal_account("sender@acme.test", PASSWORD, "王五 Wang Wu", email_verified=True)
    create_enterprise("Acme 科技有限公司", sender)
    enrolment = factors.begin_totp_enrolment(sender)
    factors.confirm_totp_enrolment(sender, pyotp.TOTP(enrolment.secret).at(time.time() - 30))
    sender_totp = enrolment.secret
    signer = create_personal_account("signer@example.test", PASSWORD, "李四 Li Si", email_verified=True)
    verify_identity(signer, name="李四")  # a certificate names only a verified person
    inbox = Outbox(settings.OUTBOX_DIR)
    pdf = make_contract_pdf("浏览器测试合同 Browser Test", ["甲方 Party A", "乙方 Party B"], pages=2)

    # The sender uploads, adds the signer, draws one box on page 1 by dragging, saves and sends.
    desk = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = desk.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # our strict Content-Security-Policy must not block anything the pages use
    csp_violations: list[str] = []

    def watch_console(message):
        if "Content Security Policy" in message.text:
            csp_violations.append(message.text)

    page.on("console", watch_console)
    page.set_default_timeout(15_000)
    page.goto(site + reverse("web:login"))
    log_in(page, sender.email)
    # an owner of an enterprise must pass a second factor (tests/browser/test_passkeys.py for passkeys)
    page.wait_for_url(site + reverse("web:login_factor"))
    page.fill("#id_code", pyotp.TOTP(sender_totp).now())
    page.click("#code-login-form button[type=submit]")
    page.wait_for_url(site + reverse("web:dashboard"))
    page.goto(site + reverse("web:envelope_new"))
    page.fill("#id_title", "浏览器测试合同 Browser Test")
    page.set_input_files(
        "#id_document", files=[{"name": "contract.pdf", "mimeType": "application/pdf", "buffer": pdf}]
    )
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r"/envelopes/[0-9a-f-]+/edit/$"))
    envelope = Envelope.objects.get()

    page.fill(".party-row .party-name", signer.full_name)
    page.fill(".party-row .party-email", signer.email)
    page.wait_for_function(
        "() => { const img = document.querySelector('.editor-pages .page-canvas img');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    canvas = page.locator(".editor-pages .page-canvas").first
    canvas.evaluate("el => el.scrollIntoView({block: 'end'})")  # the lower part of page 1 must be on screen
    area = canvas.bounding_box()
    start = (area["x"] + 0.10 * area["width"], area["y"] + 0.75 * area["height"])
    end = (area["x"] + 0.45 * area["width"], area["y"] + 0.85 * area["height"])
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=8)
    page.mouse.up()
    assert page.locator(".editor-pages .box").count() == 1, errors
    page.screenshot(path="/tmp/econtract-editor.png", full_page=True)
    page.click("#editor-save")
    page.wait_for_selector("#send-button")

    (field,) = SignatureField.objects.filter(envelope=envelope)
    llx, lly, urx, ury = envelope.page_sizes[0]
    width, height = urx - llx, ury - lly
    assert field.page == 1
    assert field.x == pytest.approx(0.10 * width, abs=3)
    assert field.width == pytest.approx(0.35 * width, abs=3)
    assert field.y == pytest.approx(0.15 * height, abs=3)  # the screen's y runs down, the PDF's up
    assert field.height == pytest.approx(0.10 * height, abs=3)

    # Send asks for confirmation first, naming who is emailed in which order.
    page.click("#send-button")
    page.wait_for_url(site + reverse("web:envelope_send", args=[envelope.pk]))
    assert signer.email in page.inner_text("#send-confirm")
    assert inbox.messages(signer.email) == []
    page.screenshot(path="/tmp/econtract-send-confirm.png")
    page.click("#confirm-send")
    # domcontentloaded: the envelope page's document preview renders its images after that
    page.wait_for_url(
        site + reverse("web:envelope_detail", args=[envelope.pk]), wait_until="domcontentloaded"
    )
    link = inbox.wait_for(signer.email, SIGNING_LINK)
    assert link.startswith(site)

    # The signer opens the link on a phone, logs in, sets a PIN, asks for a code, and signs.
    phone = chromium.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    mobile = phone.new_page()
    mobile.on("console", watch_console)
    mobile.set_default_timeout(20_000)
    mobile.goto(link)
    mobile.click(".sign-head ~ .card a.button.primary")
    assert mobile.input_value("#id_email") == signer.email
    mobile.fill("#id_password", PASSWORD)
    mobile.click("form.card button[type=submit]")
    mobile.wait_for_url(link)

    mobile.fill("#ceremony #id_pin", PIN)
    mobile.fill("#ceremony #id_pin2", PIN)
    mobile.click("#set-pin")
    mobile.click("#send-code")
    # not ".alert.info": setting the PIN left one already; once sent, the button offers a new code
    mobile.wait_for_selector("#send-code.secondary")
    code = inbox.wait_for(signer.email, CODE)
    mobile.fill("#ceremony #id_code", code)
    mobile.fill("#ceremony #id_pin", PIN)
    mobile.wait_for_function("() => document.querySelector('.document img').naturalWidth > 0")
    mobile.screenshot(path=str(SCREENSHOT), full_page=True)
    mobile.click("#sign-button")
    mobile.wait_for_url(
        site + reverse("web:envelope_detail", args=[envelope.pk]),
        timeout=45_000,
        wait_until="domcontentloaded",
    )
    assert mobile.inner_text("#envelope-status").strip() in ("completed", "已完成")

    mobile.screenshot(path="/tmp/econtract-detail-390.png", full_page=True)
    # The envelope page previews the signed revision, with the signature drawn on page 1.
    preview = mobile.locator(".document-preview figure.page img").first
    preview.scroll_into_view_if_needed()
    mobile.wait_for_function("() => document.querySelector('.document-preview img').naturalWidth > 0")
    assert f"/pages/v{Envelope.objects.get().current_version}/1.png" in preview.get_attribute("src")
    mobile.locator(".document-preview figure.page").first.screenshot(
        path="/tmp/econtract-signed-page-390.png"
    )
    with mobile.expect_download() as download_info:
        mobile.click("#download")
    signed = Path(download_info.value.path()).read_bytes()
    from pyhanko.pdf_utils.reader import PdfFileReader

    signatures = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    assert [s.sig_object.get("/Type") for s in signatures].count("/Sig") == 1
    assert csp_violations == []
    phone.close()
    desk.close()

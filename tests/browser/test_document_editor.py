"""A contract written in the browser editor and signed: Chinese typed through the IME input path and
English through the keyboard, two saves, the diff, a conflicting save, sending for signing, and a
signer who fills her text field and signs.

Drives Debian's chromium through Playwright against pytest-django's live server; the IME is Chrome's
own (CDP Input.imeSetComposition / Input.insertText: compositionstart, compositionupdate, then the
committed text, as a pinyin IME produces), not a synthetic DOM event.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pyotp
import pytest
from django.urls import reverse

from econtract.accounts.services import create_enterprise, create_personal_account
from econtract.documents.models import Document, DocumentVersion
from econtract.identity import factors
from econtract.identity.tests.factories import verify_identity
from econtract.signing.models import Envelope, SignatureField
from tests.browser.test_signing_flow import PASSWORD, PIN, chromium, log_in, site  # noqa: F401
from tests.mailbox import CODE, SIGNING_LINK, Outbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADDRESS = "上海市浦东新区世纪大道100号 Room 8"


def type_with_ime(page, cdp, pinyin: str, committed: str) -> None:
    """What a pinyin IME does: a composition shown while typing, then the chosen characters committed."""
    for end in range(1, len(pinyin) + 1):
        cdp.send(
            "Input.imeSetComposition", {"text": pinyin[:end], "selectionStart": end, "selectionEnd": end}
        )
    cdp.send("Input.insertText", {"text": committed})


def wait_saved(page, version: int) -> None:
    page.wait_for_function(
        "v => document.getElementById('document-editor').dataset.version === String(v)"
        " && document.getElementById('save-status').dataset.state === 'saved'",
        arg=version,
    )


def test_write_in_the_editor_then_send_and_sign(site, chromium, settings):  # noqa: F811
    sender = create_personal_account("author@acme.test", PASSWORD, "王五 Wang Wu", email_verified=True)
    create_enterprise("Acme 科技有限公司", sender)
    enrolment = factors.begin_totp_enrolment(sender)
    factors.confirm_totp_enrolment(sender, pyotp.TOTP(enrolment.secret).at(time.time() - 30))
    signer = create_personal_account("buyer@example.test", PASSWORD, "李四 Li Si", email_verified=True)
    verify_identity(signer, name="李四")
    inbox = Outbox(settings.OUTBOX_DIR)

    desk = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = desk.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    csp_violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            csp_violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.set_default_timeout(15_000)
    page.goto(site + reverse("web:login"))
    log_in(page, sender.email)
    page.wait_for_url(site + reverse("web:login_factor"))
    page.fill("#id_code", pyotp.TOTP(enrolment.secret).now())
    page.click("#code-login-form button[type=submit]")
    page.wait_for_url(site + reverse("web:dashboard"))

    # A new blank contract opens in the editor, at version 1.
    page.click("#nav-documents")
    page.click("#new-document")
    page.fill("#id_title", "买卖合同 Sales contract")
    page.click("#blank-form button[type=submit]")
    page.wait_for_url(re.compile(r"/documents/[0-9a-f-]+/$"))
    document = Document.objects.get()
    assert document.current_version == 1
    page.wait_for_selector("#document-editor .ProseMirror[contenteditable]")
    assert page.locator(".prose-menubar").count() == 1, errors

    # Chinese through the IME path, English through the keyboard, in the paragraph under the title.
    editor = page.locator("#document-editor .ProseMirror[contenteditable]")
    editor.locator("p").last.click()
    cdp = desk.new_cdp_session(page)
    type_with_ime(page, cdp, "maimaihetong", "买卖合同")
    page.keyboard.type(" between the parties.")
    page.click("#save-now")
    wait_saved(page, 2)
    assert "买卖合同 between the parties." in DocumentVersion.objects.get(document=document, number=2).html

    # A second edit: bold English, a signer field for each role, saved by the autosave.
    editor.locator("p").last.click()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.press("Control+b")
    page.keyboard.type("Price")
    page.keyboard.press("Control+b")
    type_with_ime(page, cdp, "jiage", "：价格面议")
    page.keyboard.press("Enter")
    page.select_option("#field-kind", "text")
    page.fill("#field-name", "buyer_address")
    page.click("#insert-field-button")
    editor.locator("p").last.click()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.select_option("#field-kind", "signature")
    page.fill("#field-name", "buyer")
    page.click("#insert-field-button")
    wait_saved(page, 3)  # no button: the pause after typing saved it
    page.screenshot(path="/tmp/econtract-document-editor.png")
    third = DocumentVersion.objects.get(document=document, number=3).html
    assert "<strong>Price</strong>" in third
    assert "{{ text: buyer_address }}" in third and "{{ signature: buyer }}" in third

    # Someone else saves version 4 through the API meanwhile: her next save is a conflict showing both.
    from econtract.documents import authoring
    from econtract.evidence.services import RequestContext

    authoring.save_version(
        document,
        sender,
        html=third.replace("价格面议", "价格为人民币壹万元整"),
        base_version=3,
        context=RequestContext(),
    )
    page.keyboard.type(" ok")
    page.click("#save-now")
    page.wait_for_selector("#conflict:not([hidden])")
    assert "价格为人民币壹万元整" in page.inner_text("#conflict-theirs")
    assert "ok" in page.inner_text("#conflict-mine")
    assert Document.objects.get().current_version == 4  # nothing was overwritten
    page.click("#conflict-take-theirs")
    page.wait_for_selector("#conflict", state="hidden")
    assert "价格为人民币壹万元整" in editor.inner_text()

    # The diff between versions 2 and 3 marks the insertions.
    page.click("#diff-link")
    page.select_option("#diff-form select[name=from]", "2")
    page.select_option("#diff-form select[name=to]", "3")
    page.click("#diff-form button[type=submit]")
    page.wait_for_selector("#diff ins")
    inserted = " ".join(page.locator("#diff ins").all_inner_texts())
    assert "Price" in inserted and "价" in inserted
    page.screenshot(path="/tmp/econtract-document-diff.png", full_page=True)

    # Final, then sent for signing: the envelope has the buyer's fields where the placeholders were.
    page.goto(site + reverse("web:document_edit", args=[document.pk]))
    page.click("#status-final")
    page.click("#send-for-signing")
    page.fill("#id_buyer__name", signer.full_name)
    page.fill("#id_buyer__email", signer.email)
    page.click("#make-envelope")
    page.wait_for_url(re.compile(r"/envelopes/[0-9a-f-]+/edit/$"))
    envelope = Envelope.objects.get()
    kinds = sorted(SignatureField.objects.filter(envelope=envelope).values_list("kind", "name"))
    assert kinds == [("signature", ""), ("text", "buyer_address")]
    page.wait_for_selector("#send-button")
    page.click("#send-button")
    page.click("#confirm-send")
    page.wait_for_url(
        site + reverse("web:envelope_detail", args=[envelope.pk]), wait_until="domcontentloaded"
    )
    link = inbox.wait_for(signer.email, SIGNING_LINK)

    # The signer fills her address and signs.
    phone = chromium.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    mobile = phone.new_page()
    mobile.on("pageerror", lambda error: errors.append(str(error)))
    mobile.set_default_timeout(20_000)
    mobile.goto(link)
    mobile.click(".sign-head ~ .card a.button.primary")
    mobile.fill("#id_password", PASSWORD)
    mobile.click("form.card button[type=submit]")
    mobile.wait_for_url(link)
    mobile.fill("#ceremony #id_pin", PIN)
    mobile.fill("#ceremony #id_pin2", PIN)
    mobile.click("#set-pin")
    mobile.click("#send-code")
    mobile.wait_for_selector("#send-code.secondary")
    mobile.fill("#ceremony #id_code", inbox.wait_for(signer.email, CODE))
    mobile.fill("#id_field_buyer_address", ADDRESS)
    mobile.fill("#ceremony #id_pin", PIN)
    mobile.click("#sign-button")
    mobile.wait_for_url(
        site + reverse("web:envelope_detail", args=[envelope.pk]),
        timeout=45_000,
        wait_until="domcontentloaded",
    )
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    signed = envelope.revisions.order_by("-version").first().read_bytes()
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=signed, capture_output=True, check=True
    ).stdout.decode()
    assert "上海市浦东新区世纪大道100号" in text.replace(" ", "") and "买卖合同" in text
    assert errors == [] and csp_violations == []
    phone.close()
    desk.close()
    Path("/tmp/econtract-document-signed.pdf").write_bytes(signed)


PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8ffff3f0005fe02fe"
    "a7d6a4e30000000049454e44ae426082"
)


def test_the_toolbar_writes_what_the_sanitizer_keeps(site, chromium, enterprise):  # noqa: F811
    """Alignment, indentation, a page break, a table and an image from a file, through the toolbar: the
    stored version keeps every one of them (the allowlist is what the editor produces)."""
    from econtract.documents import authoring
    from econtract.evidence.services import RequestContext

    author = enterprise.memberships.get().user
    document = authoring.create_document(
        author, enterprise, title="Format", kind="other", html="<p>Clause one.</p>", context=RequestContext()
    )
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.set_default_timeout(15_000)
    session = _session_cookie(author, site)
    context.add_cookies([session])
    page.goto(site + reverse("web:document_edit", args=[document.pk]))
    editor = page.locator("#document-editor .ProseMirror[contenteditable]")
    editor.locator("p").first.click()
    page.click(".prose-menubar [data-name='textAlign:center']")
    page.click(".prose-menubar [data-name='indent:more']")
    page.keyboard.press("End")
    page.click(".prose-menubar [data-name='pageBreak']")
    assert page.inner_text(".ProseMirror .page-break") == "分页符"  # the editor's words in her language
    page.click(".prose-menubar [data-name='table']")
    page.click("dialog[open] button[type=submit]")
    page.wait_for_selector(".ProseMirror table")
    editor.locator("p").last.click()  # after the table: an inserted node replaces a selected one
    with page.expect_file_chooser() as chooser:
        page.click(".prose-menubar [data-name='image']")
    chooser.value.set_files(files=[{"name": "dot.png", "mimeType": "image/png", "buffer": PNG_1PX}])
    page.wait_for_selector(".ProseMirror img")
    page.click("#save-now")
    wait_saved(page, 2)
    html = document.versions.get(number=2).html
    assert '<p class="text-align-center indent-1">Clause one.</p>' in html, html
    assert '<div class="page-break"></div>' in html
    assert '<img src="data:image/png;base64,' in html and 'alt="dot.png"' in html
    assert html.count("<td") >= 9 or html.count("<th") + html.count("<td") >= 9
    assert errors == []
    context.close()


def _session_cookie(user, base_url: str) -> dict:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": base_url,
    }

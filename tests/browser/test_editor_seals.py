"""The sender's editor in a real browser: an amount, an organisation party, a seal box, a cross-page seal."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from econtract.accounts.services import create_personal_account
from econtract.documents.samples import make_contract_pdf
from econtract.signing.models import Envelope, Party, SignatureField
from tests.browser.test_signing_flow import PASSWORD, chromium, log_in, site  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sender_adds_an_organisation_with_a_seal_box_and_a_cross_page_seal(site, chromium):  # noqa: F811
    sender = create_personal_account("sender@example.test", PASSWORD, "王五 Wang Wu", email_verified=True)
    pdf = make_contract_pdf("盖章合同 Seal Test", ["甲方 Party A", "乙方 Party B"], pages=2)
    desk = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = desk.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: problems.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.set_default_timeout(15_000)
    page.goto(site + reverse("web:login"))
    log_in(page, sender.email)
    page.wait_for_url(site + reverse("web:dashboard"))

    # Given a new envelope worth 9800 (the currency left at its default, CNY)
    page.goto(site + reverse("web:envelope_new"))
    page.fill("#id_title", "盖章合同 Seal Test")
    page.set_input_files(
        "#id_document", files=[{"name": "contract.pdf", "mimeType": "application/pdf", "buffer": pdf}]
    )
    page.fill("#id_amount", "9800")
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r"/envelopes/[0-9a-f-]+/edit/$"))
    assert "9800.00 CNY" in page.inner_text("#envelope-amount")

    # When she adds a person and an organisation with a cross-page seal, and draws the seal box
    first = page.locator(".party-row").nth(0)
    first.locator(".party-name").fill("张三")
    first.locator(".party-email").fill("zhang@example.test")
    assert first.locator(".party-org").is_hidden()
    page.click("#add-party")
    company = page.locator(".party-row").nth(1)
    company.locator(".party-kind").select_option("organization")
    assert company.locator(".party-org").is_visible()
    assert company.locator(".party-email").get_attribute("placeholder") == (
        "Email of the member who applies the seal"
    )
    company.locator(".party-name").fill("福州示例科技有限公司")
    company.locator(".party-email").fill("keeper@example.test")
    company.locator(".party-uscc").fill("91350100m000100y43")
    company.locator(".party-cross").check()
    assert company.locator(".party-cross-height").input_value() == "120"
    company.locator(".party-cross-y").fill("300")
    # the strip is previewed at the right edge of both pages
    assert page.locator(".editor-pages .cross-strip:visible").count() == 2
    page.wait_for_function(
        "() => { const img = document.querySelector('.editor-pages .page-canvas img');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    canvas = page.locator(".editor-pages .page-canvas").first
    canvas.evaluate("el => el.scrollIntoView({block: 'end'})")
    area = canvas.bounding_box()
    page.mouse.move(area["x"] + 0.55 * area["width"], area["y"] + 0.70 * area["height"])
    page.mouse.down()
    page.mouse.move(area["x"] + 0.75 * area["width"], area["y"] + 0.85 * area["height"], steps=6)
    page.mouse.up()
    page.locator(".editor-parties").screenshot(path="/tmp/econtract-editor-seal-parties.png")
    box = page.locator(".editor-pages .box")
    assert box.count() == 1, problems
    assert box.locator(".box-label").inner_text() == "福州示例科技有限公司 · seal"
    with page.expect_navigation():
        page.click("#editor-save")
    assert page.locator(".messages .message.success").count() == 1, page.inner_text(".messages")

    # Then the organisation is a party with its normalised USCC, a seal box and a strip per page
    envelope = Envelope.objects.get()
    assert (envelope.amount, envelope.currency) == (Decimal("9800.00"), "CNY")
    party = envelope.parties.get(kind=Party.Kind.ORGANIZATION)
    assert party.organization_uscc == "91350100M000100Y43"
    kinds = sorted((f.kind, f.page) for f in envelope.fields.filter(party=party))
    assert kinds == [
        (SignatureField.Kind.CROSS_PAGE_SEAL, 1),
        (SignatureField.Kind.CROSS_PAGE_SEAL, 2),
        (SignatureField.Kind.SEAL, 1),
    ]
    assert {(f.y, f.height) for f in envelope.fields.filter(kind=SignatureField.Kind.CROSS_PAGE_SEAL)} == {
        (300, 120)
    }
    assert not problems, problems

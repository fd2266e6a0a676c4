"""The sender's editor in a real browser: a drawn box becomes a text field the signer fills."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from econtract.accounts.services import create_personal_account
from econtract.documents.samples import make_contract_pdf
from econtract.signing.models import Envelope, SignatureField
from tests.browser.test_signing_flow import PASSWORD, chromium, log_in, site  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def draw(page, left: float, top: float, right: float, bottom: float) -> None:
    """Drag on page 1's image from one corner to the other, given as fractions of the image."""
    area = page.locator(".editor-pages .page-canvas").first.bounding_box()
    page.mouse.move(area["x"] + left * area["width"], area["y"] + top * area["height"])
    page.mouse.down()
    page.mouse.move(area["x"] + right * area["width"], area["y"] + bottom * area["height"], steps=6)
    page.mouse.up()


def test_sender_turns_a_drawn_box_into_a_named_text_field(site, chromium):  # noqa: F811
    sender = create_personal_account("sender@example.test", PASSWORD, "王五 Wang Wu", email_verified=True)
    pdf = make_contract_pdf("字段合同 Field Test", ["甲方 Party A", "乙方 Party B"], pages=2)
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
    page.goto(site + reverse("web:envelope_new"))
    page.fill("#id_title", "字段合同 Field Test")
    page.set_input_files(
        "#id_document", files=[{"name": "contract.pdf", "mimeType": "application/pdf", "buffer": pdf}]
    )
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r"/envelopes/[0-9a-f-]+/edit/$"))
    row = page.locator(".party-row").first
    row.locator(".party-name").fill("张三")
    row.locator(".party-email").fill("zhang@example.test")
    page.wait_for_function(
        "() => { const img = document.querySelector('.editor-pages .page-canvas img');"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    page.locator(".editor-pages .page-canvas").first.evaluate("el => el.scrollIntoView({block: 'end'})")
    panel = page.locator("#box-panel")
    assert panel.locator(".field-kind").is_hidden()  # nothing selected yet

    # When she draws two boxes, the second a signature as before, and turns the first into a text field
    draw(page, 0.10, 0.60, 0.50, 0.66)
    draw(page, 0.10, 0.75, 0.45, 0.85)
    boxes = page.locator(".editor-pages .box")
    assert boxes.count() == 2, problems
    assert boxes.nth(1).locator(".box-label").inner_text() == "张三 · signature"
    assert panel.locator(".field-kind").input_value() == "signature"  # a new box is her signature
    assert panel.locator(".field-name").is_hidden()
    # a person's box offers no seal
    offered = panel.locator(".field-kind option:not([disabled])").evaluate_all("els => els.map(e => e.value)")
    assert offered == ["signature", "initials", "date_signed", "text", "number", "checkbox"]
    boxes.nth(0).click(position={"x": 30, "y": 20})
    panel.locator(".field-kind").select_option("text")
    assert panel.locator(".field-required").is_checked()
    panel.locator(".field-name").fill("buyer_address")
    panel.locator(".field-label").fill("收货地址 Delivery address")
    panel.locator(".field-required").uncheck()
    assert boxes.nth(0).locator(".box-label").inner_text() == "张三 · text · buyer_address"
    assert boxes.nth(0).get_attribute("data-kind") == "text"
    page.locator(".editor-fields").screenshot(path="/tmp/econtract-editor-field-kinds.png")
    with page.expect_navigation():
        page.click("#editor-save")
    assert page.locator(".messages .message.success").count() == 1, page.inner_text(".messages")

    # Then the text field is stored under its name, where it was drawn, beside the signature box
    envelope = Envelope.objects.get()
    text, signature = envelope.fields.order_by("position")
    assert (text.kind, text.name, text.label, text.required) == (
        SignatureField.Kind.TEXT,
        "buyer_address",
        "收货地址 Delivery address",
        False,
    )
    llx, lly, urx, ury = envelope.page_sizes[0]
    assert text.page == 1
    assert text.x == pytest.approx(0.10 * (urx - llx), abs=3)
    assert text.y == pytest.approx(0.34 * (ury - lly), abs=3)
    assert signature.kind == SignatureField.Kind.SIGNATURE
    # and the page, opened again, shows it as saved
    boxes = page.locator(".editor-pages .box")
    assert boxes.count() == 2
    assert boxes.nth(0).locator(".box-label").inner_text() == "张三 · text · buyer_address"
    boxes.nth(0).click(position={"x": 30, "y": 20})
    assert panel.locator(".field-name").input_value() == "buyer_address"
    assert not panel.locator(".field-required").is_checked()
    assert not problems, problems

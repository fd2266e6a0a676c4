"""The signature pad in a real browser: a person draws her signature with the mouse, undoes a stroke and
saves it; what is stored is her strokes alone, trimmed, on transparency. She then signs a contract with
it: the signed PDF shows her strokes, in the pad's ink, inside her box, and nothing outside it changed.

Debian's chromium through Playwright against pytest-django's live server, on a high-DPI screen
(devicePixelRatio 2), under the site's strict Content-Security-Policy.
"""

from __future__ import annotations

import io
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pypdfium2
import pytest
from django.urls import reverse
from PIL import Image, ImageChops
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import DocumentSecurityStore, validate_pdf_signature

from econtract.accounts.services import create_personal_account, primary_organization
from econtract.documents.samples import make_contract_pdf
from econtract.evidence.services import RequestContext
from econtract.identity.tests.factories import verify_identity
from econtract.pki.services import root_certificate
from econtract.seals.models import PersonalSignature
from econtract.signing import services as signing
from econtract.signing.models import Envelope, Party
from tests.browser.test_signing_flow import PASSWORD, chromium, log_in, site  # noqa: F401  (fixtures)
from tests.mailbox import CODE, SIGNING_LINK, Outbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = Path("/tmp/econtract-signature-pad.png")
SAVED_SCREENSHOT = Path("/tmp/econtract-signature-saved.png")
SIGNED_SCREENSHOT = Path("/tmp/econtract-signature-pad-signed-page.png")
FAILED_SCREENSHOT = Path("/tmp/econtract-signature-pad-sign-failed.png")
RATIO = 2
PIN = "246810"
INK = (0x16, 0x22, 0x5C)  # signature-pad.js draws with #16225c
# a wide box (text beside the mark, appearance.mark_layout), points from the page's lower-left corner
BOX = {"page": 1, "x": 60.0, "y": 110.0, "width": 260.0, "height": 80.0}
SCALE = 2  # rendered pixels per point


def stroke(page, points: list[tuple[float, float]]) -> None:
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=2)
    page.mouse.up()


def render(pdf: bytes) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """Page 1 as PDFium draws it (widget appearances too), and BOX in its pixels (left, top, right, bottom)."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        document.init_forms()  # PDFium draws widget appearances only then
        page = document[0]
        _, page_height = page.get_size()
        # text without subpixel smoothing: glyph edges stay grey, never coloured fringes
        image = page.render(scale=SCALE, may_draw_forms=True, no_smoothtext=True).to_pil().convert("RGB")
    finally:
        document.close()
    box = (
        math.floor(BOX["x"] * SCALE),
        math.floor((page_height - BOX["y"] - BOX["height"]) * SCALE),
        math.ceil((BOX["x"] + BOX["width"]) * SCALE),
        math.ceil((page_height - BOX["y"]) * SCALE),
    )
    return image, box


def is_ink(pixel: tuple[int, int, int]) -> bool:
    """The pad's navy ink at (nearly) full strength: not the black text, nor its grey edges."""
    return all(abs(value - ink) <= 24 for value, ink in zip(pixel, INK, strict=True))


def is_dark(pixel: tuple[int, int, int]) -> bool:
    return max(pixel) < 110


def count(image: Image.Image, region: tuple[int, int, int, int], test) -> int:
    return sum(1 for pixel in image.crop(region).get_flattened_data() if test(pixel))


def test_she_draws_undoes_a_stroke_saves_her_signature_and_signs_with_it(site, chromium, settings, make_user):  # noqa: F811
    person = create_personal_account("lisi@example.test", PASSWORD, "李四 Li Si", email_verified=True)
    verify_identity(person, name="李四")

    context = chromium.new_context(
        viewport={"width": 1000, "height": 900}, device_scale_factor=RATIO, locale="en-US"
    )
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

    # She logs in and opens her signatures from the navigation
    page.goto(site + reverse("web:login"))
    log_in(page, person.email)
    page.wait_for_url(site + reverse("web:dashboard"))
    page.click("#nav-signatures")
    page.wait_for_url(site + reverse("web:signatures"))
    assert page.locator("#signature-none").is_visible()

    # The canvas has devicePixelRatio pixels per CSS pixel
    pad = page.locator("#signature-pad")
    pad.scroll_into_view_if_needed()
    area = pad.bounding_box()
    size = pad.evaluate("c => [c.width, c.height]")
    assert size == [round(area["width"] * RATIO), round(area["height"] * RATIO)]
    assert page.locator("#signature-undo").is_disabled()

    # Saving an empty pad is stopped in the page
    page.click("#signature-draw-save")
    assert page.locator("#signature-pad-empty").is_visible()

    # She draws two strokes (a wave and a slash) in the left two thirds of the pad...
    x0, y0, w, h = area["x"], area["y"], area["width"], area["height"]
    wave = [(x0 + w * (0.08 + 0.5 * t / 40), y0 + h * (0.5 + 0.25 * math.sin(t / 5))) for t in range(41)]
    slash = [(x0 + w * 0.2, y0 + h * 0.25), (x0 + w * 0.35, y0 + h * 0.55), (x0 + w * 0.5, y0 + h * 0.8)]
    stroke(page, wave)
    stroke(page, slash)
    # ...then a stray stroke at the far right, which she undoes
    stroke(page, [(x0 + w * 0.85, y0 + h * 0.2), (x0 + w * 0.95, y0 + h * 0.3), (x0 + w * 0.9, y0 + h * 0.8)])
    assert page.locator("#signature-undo").is_enabled()
    page.click("#signature-undo")
    # the right part of the canvas is empty again, the left part still holds ink
    right_ink, left_ink = pad.evaluate(
        """c => {
            const ctx = c.getContext('2d');
            const alpha = (x, w) => { const d = ctx.getImageData(x, 0, w, c.height).data; let n = 0;
                for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; };
            return [alpha(Math.round(c.width * 0.8), Math.round(c.width * 0.2)), alpha(0, Math.round(c.width * 0.6))];
        }"""
    )
    assert right_ink == 0 and left_ink > 500
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.click("#signature-draw-save")
    page.wait_for_url(site + reverse("web:signatures"))
    assert page.locator(".signature-item").count() == 1
    assert page.locator(".signature-item .signature-default").is_visible()
    assert page.locator(".signature-item img").evaluate("img => img.complete && img.naturalWidth > 0")
    page.screenshot(path=str(SAVED_SCREENSHOT))

    # What is stored: her two strokes alone, on transparency, trimmed to them
    signature = PersonalSignature.objects.get(user=person)
    assert signature.kind == "drawn" and signature.is_default
    image = Image.open(io.BytesIO(bytes(signature.image_png)), formats=["PNG"])
    image.load()
    assert image.mode == "RGBA"
    alpha = image.getchannel("A")
    assert alpha.getpixel((0, 0)) == 0
    assert alpha.histogram()[255] > 500  # ink
    # the strokes span 8 %..58 % of the pad's width and 25 %..80 % of its height (x2 device pixels);
    # the undone stroke at 85 %..95 % would have made it far wider
    strokes_width = 0.5 * w * RATIO
    assert strokes_width * 0.95 < image.width < strokes_width * 1.2
    assert image.height < 0.75 * h * RATIO
    left, top, right, bottom = alpha.getbbox()
    assert min(left, top, image.width - right, image.height - bottom) < 40  # trimmed: a small margin only

    # A sender sends her a contract with one signature box for her
    sender = make_user("sender@acme.test", "王五 Wang Wu")
    inbox = Outbox(settings.OUTBOX_DIR)
    envelope = signing.create_envelope(
        organization=primary_organization(sender),
        created_by=sender,
        title="手写签名合同 Signed with her hand",
        pdf=make_contract_pdf("手写签名合同 Drawn Signature", ["甲方 Party A", "乙方 Party B"], pages=2),
        parties=[signing.PartySpec(name=person.full_name, email=person.email)],
        fields=[signing.FieldSpec(party=0, **BOX)],  # type: ignore[arg-type]
        context=RequestContext.system("test"),
    )
    signing.send_envelope(envelope, sender, RequestContext.system("test"))
    link = inbox.wait_for(person.email, SIGNING_LINK)
    original = envelope.current_document().read_bytes()

    # She opens her link in the same browser session, sets her signing PIN...
    page.goto(link)
    page.fill("#ceremony #id_pin", PIN)
    page.fill("#ceremony #id_pin2", PIN)
    page.click("#set-pin")
    # ...and the ceremony offers her saved signature, already chosen
    page.wait_for_selector("#signature-choice")
    choice = page.locator("#signature-choice input[name=signature_id]")
    assert choice.count() == 1
    assert choice.get_attribute("value") == str(signature.pk)
    assert choice.is_checked()
    # she asks for a code, enters it with her PIN, and signs
    page.click("#send-code")
    # (not just ".alert.info": setting the PIN left one too) once sent, the button offers a new code
    page.wait_for_selector("#send-code.secondary")
    page.fill("#ceremony #id_code", inbox.wait_for(person.email, CODE))
    page.fill("#ceremony #id_pin", PIN)
    page.click("#sign-button")
    try:
        page.wait_for_url(
            site + reverse("web:envelope_detail", args=[envelope.pk]),
            timeout=60_000,
            wait_until="domcontentloaded",
        )
    except PlaywrightTimeoutError:
        page.screenshot(path=str(FAILED_SCREENSHOT), full_page=True)
        pytest.fail(f"signing did not finish; the ceremony shows: {page.inner_text('#ceremony')!r}")
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    assert envelope.parties.get().status == Party.Status.SIGNED

    # The signed PDF holds one signature, which pyHanko finds intact and valid
    signed = envelope.current_document().read_bytes()
    [embedded] = [
        s
        for s in PdfFileReader(io.BytesIO(signed)).embedded_signatures
        if s.sig_object.get("/Type") == "/Sig"
    ]
    trust = DocumentSecurityStore.read_dss(embedded.reader).as_validation_context(
        {"trust_roots": [root_certificate()], "allow_fetching": False, "revocation_mode": "require"}
    )
    # pyHanko validates in asyncio.run(), which cannot run in this thread: Playwright's loop runs here
    with ThreadPoolExecutor(max_workers=1) as worker:
        status = worker.submit(validate_pdf_signature, embedded, trust).result()
    assert status.intact and status.valid and status.bottom_line

    # Page 1 rendered before and after signing
    before, box = render(original)
    after, same_box = render(signed)
    assert same_box == box
    after.save(SIGNED_SCREENSHOT)
    left, top, right, bottom = box
    assert count(before, box, is_ink) == 0
    # her strokes, in the pad's ink, are in the left part of the box (the text is beside them)
    split = left + (right - left) * 55 // 100
    mark_part, text_part = (left, top, split, bottom), (split, top, right, bottom)
    assert count(after, mark_part, is_ink) > 250
    # the ink is her drawing, scaled: its extent has the aspect of the stored image's strong ink
    # (the text's anti-aliased edges hold some pixels of that dark navy too, so ink is looked for in the
    # mark's part only, and the text's part is judged by new dark pixels)
    drawn = alpha.point(lambda a: 255 if a > 200 else 0).getbbox()
    drawn_aspect = (drawn[2] - drawn[0]) / (drawn[3] - drawn[1])
    in_mark = after.crop(mark_part)
    ink = Image.new("1", in_mark.size)
    ink.putdata([is_ink(pixel) for pixel in in_mark.get_flattened_data()])
    ink_left, ink_top, ink_right, ink_bottom = ink.getbbox()
    assert ink_right - ink_left > 0.3 * (right - left)
    # (loosely: at a quarter of the size, a stroke's thin anti-aliased ends fall below full strength)
    assert (ink_right - ink_left) / (ink_bottom - ink_top) == pytest.approx(drawn_aspect, rel=0.25)
    # the small text (her name, the time, the certificate's serial) in the box's right part
    new_text = sum(
        1
        for x in range(text_part[0], text_part[2])
        for y in range(text_part[1], text_part[3])
        if is_dark(after.getpixel((x, y))) and not is_dark(before.getpixel((x, y)))
    )
    assert new_text > 150
    # and outside the box (grown by a pixel for anti-aliasing) the page is as it was
    difference = ImageChops.difference(before, after).convert("L").point(lambda v: 255 if v > 24 else 0)
    difference.paste(0, (left - 1, top - 1, right + 1, bottom + 1))
    assert difference.getbbox() is None

    assert errors == []
    assert csp_violations == []
    context.close()


def test_on_a_phone_she_signs_with_her_finger_without_scrolling_the_page(site, chromium):  # noqa: F811
    person = create_personal_account("wangfang@example.test", PASSWORD, "王芳 Wang Fang", email_verified=True)
    verify_identity(person, name="王芳")
    context = chromium.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site + reverse("web:login"))
    log_in(page, person.email)
    page.wait_for_url(site + reverse("web:dashboard"))
    page.goto(site + reverse("web:signatures"))

    pad = page.locator("#signature-pad")
    pad.scroll_into_view_if_needed()
    area = pad.bounding_box()
    scrolled_before = page.evaluate("window.scrollY")

    # A finger drags across the pad (touch events, which Chromium turns into touch pointer events)
    cdp = context.new_cdp_session(page)
    x0, y0, w, h = area["x"], area["y"], area["width"], area["height"]
    points = [(x0 + w * (0.1 + 0.8 * t / 30), y0 + h * (0.3 + 0.4 * (t % 10) / 10)) for t in range(31)]

    def touch(kind: str, point: tuple[float, float] | None) -> None:
        touches = [] if point is None else [{"x": point[0], "y": point[1], "id": 1}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touches})

    touch("touchStart", points[0])
    for point in points[1:]:
        touch("touchMove", point)
    touch("touchEnd", None)

    # touch-action: none: the drag drew instead of scrolling
    assert page.evaluate("window.scrollY") == scrolled_before
    assert page.locator("#signature-undo").is_enabled()
    page.click("#signature-draw-save")
    page.wait_for_url(site + reverse("web:signatures"))

    signature = PersonalSignature.objects.get(user=person)
    image = Image.open(io.BytesIO(bytes(signature.image_png)), formats=["PNG"])
    image.load()
    # 80 % of the pad's width at 3 device pixels per CSS pixel, trimmed and within the stored bound
    assert image.width <= 1200
    assert image.width > 0.8 * w * 3 * 0.9 or image.width == 1200
    assert image.getchannel("A").histogram()[255] > 300
    assert errors == []
    context.close()

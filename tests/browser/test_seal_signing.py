"""A company seal made, granted and applied in a real browser.

The enterprise's owner makes a contract seal in the web UI (its preview drawn as she types) and
grants it to a colleague; the colleague opens an envelope naming the enterprise as an organisation
party, chooses the seal, passes her one-time code and PIN, and signs. The signed PDF then shows red
in the seal box, and pyHanko names the organisation as the signer.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pyotp
import pypdfium2
import pytest
from django.urls import reverse
from pyhanko.pdf_utils.reader import PdfFileReader

from econtract.accounts.models import Membership
from econtract.accounts.services import add_member
from econtract.accounts.tests.factories import verified_enterprise
from econtract.documents.samples import make_contract_pdf
from econtract.evidence.services import RequestContext
from econtract.identity import factors
from econtract.pki import custody
from econtract.seals.models import Seal, SealGrant, SealUsage
from econtract.signing import services as signing
from econtract.signing.models import Envelope, Party
from tests.browser.test_signing_flow import CHROMIUM_ARGS, PASSWORD, chromium, log_in, site  # noqa: F401
from tests.mailbox import CODE, SIGNING_LINK, Outbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PIN = "582914"
SEAL_BOX = {"page": 1, "x": 380.0, "y": 90.0, "width": 150.0, "height": 150.0}
SCALE = 2


def red_share(pdf: bytes, box: dict[str, float]) -> float:
    """The share of seal-red pixels inside ``box`` (points from the lower-left) of the rendered page."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        document.init_forms()  # PDFium draws widget appearances only then
        page = document[int(box["page"]) - 1]
        _, page_height = page.get_size()
        image = page.render(scale=SCALE, may_draw_forms=True).to_pil().convert("RGB")
    finally:
        document.close()
    left, top = int(box["x"] * SCALE), int((page_height - box["y"] - box["height"]) * SCALE)
    right, bottom = int((box["x"] + box["width"]) * SCALE), int((page_height - box["y"]) * SCALE)
    pixels = image.crop((left, top, right, bottom)).tobytes()
    red = sum(
        1
        for r, g, b in zip(pixels[0::3], pixels[1::3], pixels[2::3], strict=True)
        if r > 170 and g < 100 and b < 100
    )
    return red / ((right - left) * (bottom - top))


def test_a_manager_makes_and_grants_a_seal_and_a_member_seals_a_contract(site, chromium, settings, make_user):  # noqa: F811
    org = verified_enterprise(make_user)  # 福州示例科技有限公司, owned by 张三 (its legal representative)
    owner = org.memberships.get(role=Membership.Role.OWNER).user
    enrolment = factors.begin_totp_enrolment(owner)
    factors.confirm_totp_enrolment(owner, pyotp.TOTP(enrolment.secret).at(time.time() - 30))
    member = make_user("keeper.user@fuzhou.test", "钱七 Qian Qi")
    add_member(org, member, role=Membership.Role.MEMBER)
    custody.set_signing_pin(member, PIN)
    inbox = Outbox(settings.OUTBOX_DIR)

    # The owner logs in (password, then her authenticator) and makes a contract seal.
    desk = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = desk.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    csp_violations: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and csp_violations.append(m.text))
    page.set_default_timeout(15_000)
    page.goto(site + reverse("web:login"))
    log_in(page, owner.email)
    page.wait_for_url(site + reverse("web:login_factor"))
    page.fill("#id_code", pyotp.TOTP(enrolment.secret).now())
    page.click("#code-login-form button[type=submit]")
    page.wait_for_url(site + reverse("web:dashboard"))
    page.goto(site + reverse("web:organization_detail", args=[org.pk]))
    page.click("#org-seals-link")
    page.click("#seal-new-link")
    page.fill("#id_name", "合同专用章")
    page.select_option("#id_seal_type", "contract")
    page.select_option("#id_shape", "round")
    page.fill("#id_code", "3501000012345")
    # the live preview is drawn by the server without saving anything
    page.wait_for_function(
        "() => { const img = document.querySelector('#seal-preview-image'); return img && img.naturalWidth > 0; }"
    )
    assert not Seal.objects.exists()
    page.screenshot(path="/tmp/econtract-seal-new.png", full_page=True)
    page.click("#seal-create")
    page.wait_for_selector("#seal-certificate")
    seal = Seal.objects.get(organization=org)
    assert page.inner_text("#seal-serial").strip() == seal.certificate.serial_number
    page.wait_for_function("() => document.querySelector('#seal-image').naturalWidth > 0")

    # She grants its use to her colleague.
    page.select_option("#id_grantee", f"user:{member.pk}")
    page.click("#grant-submit")
    page.wait_for_selector(".grant-row")
    grant = SealGrant.objects.get(seal=seal)
    assert grant.user == member and grant.granted_by == owner
    page.screenshot(path="/tmp/econtract-seal-detail.png", full_page=True)

    # An envelope names the enterprise as an organisation party, the colleague applying its seal.
    envelope = signing.create_envelope(
        organization=org,
        created_by=owner,
        title="盖章合同 Sealed in the browser",
        pdf=make_contract_pdf("盖章合同 Seal Test", ["甲方 Party A", "乙方 Party B"], pages=2),
        parties=[
            signing.PartySpec(
                name=org.name, email=member.email, kind="organization", organization_uscc=org.uscc
            )
        ],
        fields=[signing.FieldSpec(party=0, kind="seal", **SEAL_BOX)],  # type: ignore[arg-type]
        amount="8800.00",
        currency="CNY",
        context=RequestContext.system("test"),
    )
    signing.send_envelope(envelope, owner, RequestContext.system("test"))
    link = inbox.wait_for(member.email, SIGNING_LINK)

    # The colleague opens the link, logs in, chooses the seal, asks for a code and signs.
    phone = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    mobile = phone.new_page()
    mobile.on("console", lambda m: "Content Security Policy" in m.text and csp_violations.append(m.text))
    mobile.set_default_timeout(20_000)
    mobile.goto(link)
    mobile.click(".sign-head ~ .card a.button.primary")
    mobile.fill("#id_password", PASSWORD)
    mobile.click("form.card button[type=submit]")
    mobile.wait_for_url(link)
    mobile.check(f"#seal-choice input[value='{seal.pk}']")
    mobile.click("#send-code")
    mobile.wait_for_selector("#ceremony .alert.info")
    mobile.fill("#ceremony #id_code", inbox.wait_for(member.email, CODE))
    mobile.fill("#ceremony #id_pin", PIN)
    mobile.screenshot(path="/tmp/econtract-seal-sign-390.png", full_page=True)
    mobile.click("#sign-button")
    mobile.wait_for_url(
        site + reverse("web:envelope_detail", args=[envelope.pk]),
        timeout=45_000,
        wait_until="domcontentloaded",
    )

    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    assert envelope.parties.get().status == Party.Status.SIGNED
    usage = SealUsage.objects.get(seal=seal)
    assert usage.used_by == member and usage.grant == grant
    signed = envelope.current_document().read_bytes()
    assert red_share(signed, SEAL_BOX) > 0.03  # the seal's red ink is in its box
    assert red_share(signed, {**SEAL_BOX, "x": 60.0}) < 0.001  # and not elsewhere on the page
    [seal_signature] = [
        s
        for s in PdfFileReader(io.BytesIO(signed)).embedded_signatures
        if s.sig_object.get("/Type") == "/Sig"
    ]
    subject = seal_signature.signer_cert.subject.native
    assert subject["organization_name"] == org.name
    assert seal_signature.signer_cert.serial_number == int(seal.certificate.serial_number)
    assert errors == [] and csp_violations == []
    Path("/tmp/econtract-sealed.pdf").write_bytes(signed)
    phone.close()
    desk.close()

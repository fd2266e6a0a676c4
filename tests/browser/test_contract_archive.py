"""The contract archive in a real browser: a PDF signed on the platform is archived from elsewhere
with a Chinese title and a tag, found again by typing a Chinese word in the list's search box (the
rows are swapped in as she types, the page is not reloaded), opened, and its package downloaded.

Drives Debian's chromium through Playwright against pytest-django's live server.
"""

from __future__ import annotations

import re
import time
import zipfile

import pyotp
import pytest
from django.urls import reverse

from econtract.accounts.services import create_enterprise, create_personal_account
from econtract.contracts.models import Contract
from econtract.documents.samples import make_contract_pdf
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext
from econtract.identity import factors
from econtract.identity.tests.factories import verify_identity
from tests.browser.test_signing_flow import PASSWORD, PIN, chromium, log_in, site  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLE = "年度采购框架协议"
TAG = "框架协议"


def platform_signed_pdf(organization, sender) -> bytes:
    """A PDF signed through the platform's own ceremony (its CA, its timestamps): one party signs an
    envelope of ``organization``. The envelope's own record in the archive has another title."""
    from econtract.identity import services as otp_service
    from econtract.identity.models import OtpChallenge
    from econtract.pki import custody
    from econtract.signing import services

    context = RequestContext.system("test")
    signer = create_personal_account("signer@example.test", PASSWORD, "李四 Li Si", email_verified=True)
    verify_identity(signer)
    draft = services.create_envelope(
        organization=organization,
        created_by=sender,
        title="Supply terms 供货条款",
        pdf=make_contract_pdf("供货条款 Supply terms", ["甲方 Party A", "乙方 Party B"], pages=1),
        context=context,
    )
    services.replace_recipients(
        draft,
        parties=[services.PartySpec(name=signer.full_name, email=signer.email, order=1)],
        fields=[services.FieldSpec(party=0, page=1, x=60, y=80, width=180, height=60)],
        user=sender,
        context=context,
    )
    sent = services.send_envelope(draft, sender, context)
    custody.set_signing_pin(signer, PIN)
    party = sent.parties.get()
    issued = otp_service.issue_otp(
        purpose=OtpChallenge.Purpose.SIGN,
        subject=str(party.id),
        destination=party.email,
        subject_line="code",
        intro="code",
    )
    envelope = services.sign(sent.id, party.id, signer, otp=issued.code, pin=PIN, context=context)
    assert envelope.status == "completed"
    return bytes(envelope.current_document().read_bytes())


@pytest.fixture
def archivist(site):  # noqa: F811
    """An enterprise owner with a TOTP factor, and a PDF signed on the platform, made before the browser
    starts (under Playwright's event loop in this thread pyHanko's timestamper leaves a coroutine behind)."""
    owner = create_personal_account("archivist@acme.test", PASSWORD, "王五 Wang Wu", email_verified=True)
    enterprise = create_enterprise("Acme 科技有限公司", owner)
    enrolment = factors.begin_totp_enrolment(owner)
    factors.confirm_totp_enrolment(owner, pyotp.TOTP(enrolment.secret).at(time.time() - 30))
    return owner, enterprise, enrolment.secret, platform_signed_pdf(enterprise, owner)


def test_archive_a_signed_pdf_find_it_as_you_type_and_download_its_package(
    site,  # noqa: F811
    archivist,
    chromium,  # noqa: F811
    tmp_path,
):
    owner, enterprise, totp_secret, signed = archivist
    assert Contract.objects.count() == 1  # the envelope's own record

    desk = chromium.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-US", accept_downloads=True
    )
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
    page.set_default_timeout(20_000)
    page.goto(site + reverse("web:login"))
    log_in(page, owner.email)
    page.wait_for_url(site + reverse("web:login_factor"))
    page.fill("#id_code", pyotp.TOTP(totp_secret).now())
    page.click("#code-login-form button[type=submit]")
    page.wait_for_url(site + reverse("web:dashboard"))

    # Archive it from the list's button: a Chinese title and a tag; its signatures are checked.
    page.click("#nav-contracts")
    page.wait_for_url(site + reverse("web:contracts"))
    page.click("#archive-contract")
    page.wait_for_url(site + reverse("web:contract_archive"))
    page.select_option("#id_organization", str(enterprise.pk))
    page.set_input_files(
        "#id_document", files=[{"name": "framework.pdf", "mimeType": "application/pdf", "buffer": signed}]
    )
    page.fill("#id_title", TITLE)
    page.fill("#id_counterparties", "华东供应链有限公司")
    page.fill("#id_tags", TAG)
    page.click("#archive-submit")
    page.wait_for_url(re.compile(r"/contracts/[0-9a-f-]{36}/$"))
    archived = Contract.objects.get(title=TITLE)
    assert archived.verdict == "valid", archived.verification
    assert list(archived.tags.values_list("name", flat=True)) == [TAG]
    assert "Its signatures are valid" in page.inner_text(".messages")
    assert TAG in page.inner_text("#contract-tags-list")

    # The list shows both records; typing 采购 swaps in the one that matches, without reloading the page.
    page.click("#nav-contracts")
    page.wait_for_url(site + reverse("web:contracts"))
    rows = page.locator("#contract-rows tr.contract-row")
    assert rows.count() == 2
    page.evaluate("window.notReloaded = true")
    page.locator("#id_q").press_sequentially("采购", delay=80)
    page.wait_for_function("() => document.querySelectorAll('#contract-rows tr.contract-row').length === 1")
    row = page.locator(f"#contract-{archived.pk}")
    assert TITLE in row.inner_text()
    assert row.locator(".snippet mark").count() >= 1  # the match, highlighted
    assert page.evaluate("window.notReloaded === true")
    assert "q=" in page.url  # the search is in the address, so reload and back keep it
    page.screenshot(path="/tmp/econtract-contracts-search.png", full_page=True)

    # Open it and download its package: the manifest and the signed PDF as archived.
    row.locator("a.contract-title").click()
    page.wait_for_url(site + reverse("web:contract_detail", args=[archived.pk]))
    assert TITLE in page.inner_text("#contract-title")
    page.screenshot(path="/tmp/econtract-contract-detail.png", full_page=True)
    with page.expect_download() as info:
        page.click("#download-package")
    download = info.value
    target = tmp_path / "package.zip"
    download.save_as(target)
    with zipfile.ZipFile(target) as package:
        names = set(package.namelist())
        assert {"manifest.json", "contract/signed.pdf"} <= names
        assert package.read("contract/signed.pdf") == signed
    assert Event.objects.for_subject(archived).filter(kind="contract_package_downloaded").count() == 1
    assert errors == [] and csp_violations == []
    desk.close()

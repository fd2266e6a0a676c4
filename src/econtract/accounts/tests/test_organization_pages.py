"""The organisation pages, with the enterprise check asked of the sandbox over HTTP (live server)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from econtract.accounts.models import Membership, Organization, OrganizationVerification
from econtract.identity.tests.factories import verify_identity

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {
    "name": "福州示例科技有限公司",
    "uscc": "91350100M000100Y43",
    "rep_name": "张三",
    "rep_id_type": "cn_resident",
    "rep_id_number": "11010519491231002X",
}


@pytest.fixture
def browser(live_server, settings, make_user):  # type: ignore[no-untyped-def]
    settings.ECONTRACT_IDP_URL = ""
    settings.ECONTRACT_IDP_SANDBOX = True
    settings.ECONTRACT_IDP_SANDBOX_KEY = "page-test-key"
    settings.ECONTRACT_BANK_URL = ""
    settings.BASE_URL = live_server.url
    user = verify_identity(
        make_user("zhangsan@example.test", "张三"), name="张三", id_number=FORM["rep_id_number"]
    )
    client = Client()
    client.force_login(user)
    client.user = user  # type: ignore[attr-defined]
    return client


def test_create_verify_by_transfer_and_invite_in_the_browser(browser, settings, make_user, outbox) -> None:  # type: ignore[no-untyped-def]
    page = browser.get(reverse("web:organizations"))
    assert page.status_code == 200 and "org-sandbox" in page.content.decode()
    bad = browser.post(reverse("web:organizations"), {**FORM, "uscc": "91350100M000100Y44"})
    assert bad.status_code == 400
    response = browser.post(reverse("web:organizations"), FORM)
    assert response.status_code == 302
    org = Organization.objects.get(uscc=FORM["uscc"])
    detail = reverse("web:organization_detail", args=[org.pk])
    assert browser.get(detail).status_code == 200

    response = browser.post(
        reverse("web:organization_verify_bank", args=[org.pk]),
        {"account_name": org.name, "account_number": "6222020200001234567", "bank": "工商银行"},
    )
    assert response.status_code == 302, response.content.decode()
    [path] = (Path(settings.OUTBOX_DIR) / "bank").glob("*.json")
    transfer = json.loads(path.read_text())
    verification = OrganizationVerification.objects.get(organization=org)
    assert "org-verify" in browser.get(detail).content.decode()
    wrong = browser.post(
        reverse("web:organization_confirm", args=[org.pk, verification.pk]),
        {"amount": "1.00", "code": "XXXXXX"},
    )
    assert wrong.status_code == 400 and "org-error" in wrong.content.decode()
    response = browser.post(
        reverse("web:organization_confirm", args=[org.pk, verification.pk]),
        {"amount": transfer["amount"], "code": transfer["remark"].split()[-1]},
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.is_verified

    response = browser.post(
        reverse("web:organization_department", args=[org.pk]), {"name": "法务部", "parent": ""}
    )
    assert response.status_code == 302
    response = browser.post(
        reverse("web:organization_invite", args=[org.pk]),
        {"email": "wang@example.test", "role": "legal", "department": str(org.departments.get().pk)},
    )
    assert response.status_code == 302
    token = outbox.last("wang@example.test", r"/organizations/invitations/(\S+)")
    wang = make_user("wang@example.test", "王五")
    invitee = Client()
    invitee.force_login(wang)
    url = reverse("web:invitation_accept", args=[token])
    assert invitee.get(url).status_code == 200
    assert invitee.post(url).status_code == 302
    membership = Membership.objects.get(user=wang, organization=org)
    assert (membership.role, membership.department.name) == ("legal", "法务部")
    # a legal member sees the organisation but cannot manage members
    page = invitee.get(detail).content.decode()
    assert "Send invitation" not in page
    refused = invitee.post(
        reverse("web:organization_invite", args=[org.pk]), {"email": "x@example.test", "role": "member"}
    )
    assert refused.status_code == 400 and "org-error" in refused.content.decode()


def test_licence_review_by_an_operator_in_the_browser(browser, make_user) -> None:  # type: ignore[no-untyped-def]
    browser.post(reverse("web:organizations"), FORM)
    org = Organization.objects.get(uscc=FORM["uscc"])
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 10)).save(out, format="JPEG")
    upload = io.BytesIO(out.getvalue())
    upload.name = "licence.jpg"
    response = browser.post(reverse("web:organization_licence", args=[org.pk]), {"licence": upload})
    assert response.status_code == 302
    verification = OrganizationVerification.objects.get(organization=org)
    assert browser.get(reverse("web:organization_reviews")).status_code == 403  # no operator

    operator = make_user("op@example.test", "Operator")
    operator.is_staff = True
    operator.save()
    staff = Client()
    staff.force_login(operator)
    queue = staff.get(reverse("web:organization_reviews")).content.decode()
    assert org.name in queue
    image = staff.get(reverse("web:organization_licence_image", args=[verification.pk]))
    assert image["Content-Type"] == "image/jpeg" and image["Cache-Control"].startswith("no-store")
    response = staff.post(
        reverse("web:organization_licence_decide", args=[verification.pk]), {"decision": "approve"}
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.is_verified and org.verification_method == "operator_review"


def test_another_organisations_page_is_404(browser, make_user) -> None:  # type: ignore[no-untyped-def]
    browser.post(reverse("web:organizations"), FORM)
    org = Organization.objects.get(uscc=FORM["uscc"])
    outsider = Client()
    outsider.force_login(make_user("out@example.test", "Outsider"))
    assert outsider.get(reverse("web:organization_detail", args=[org.pk])).status_code == 404
    response = outsider.post(
        reverse("web:organization_invite", args=[org.pk]), {"email": "a@example.test", "role": "member"}
    )
    assert response.status_code == 404


def test_an_authorisation_letter_from_the_page(browser) -> None:  # type: ignore[no-untyped-def]
    from econtract.signing.models import Envelope

    browser.post(reverse("web:organizations"), FORM)
    org = Organization.objects.get(uscc=FORM["uscc"])
    assert browser.post(reverse("web:organization_letter", args=[org.pk])).status_code == 302
    verification = OrganizationVerification.objects.get(organization=org)
    assert Envelope.objects.get(pk=verification.envelope_id).parties.get().email == "zhangsan@example.test"
    page = browser.get(reverse("web:organization_detail", args=[org.pk])).content.decode()
    assert "org-letter-pending" in page

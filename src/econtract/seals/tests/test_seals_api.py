"""The seal API: /api/v1/organizations/{id}/seals, /api/v1/seals/{id}/…, /api/v1/approval-requests/{id}/…"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from econtract.accounts.tests.factories import BEIJING
from econtract.seals import services
from econtract.seals.models import ApprovalRequest, Seal
from econtract.seals.tests.seal_factories import CONTEXT, facts, grant, make_seal, office, use

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _post(client, url: str, body: dict | None = None):  # type: ignore[no-untyped-def]
    return client.post(url, data=body or {}, content_type="application/json", **EN)


def _until(days: int = 30) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


# --- making and reading -----------------------------------------------------------------------------


def test_a_seal_keeper_creates_a_seal_and_members_see_it(make_user, api_client):  # type: ignore[no-untyped-def]
    # Given a verified company's seal keeper
    company = office(make_user)
    keeper = api_client(company.keeper)
    # when she creates a round contract seal
    created = _post(
        keeper,
        f"/api/v1/organizations/{company.org.pk}/seals",
        {"name": "合同专用章", "type": "contract", "shape": "round", "code": "3501000000001"},
    )
    # then it answers 201 with the seal's id, status, certificate serial and picture
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) == {"id", "status", "certificate_serial", "image_url"}
    assert body["status"] == "active"
    seal = Seal.objects.get(pk=body["id"])
    assert body["certificate_serial"] == seal.certificate.serial_number
    assert body["image_url"] == f"/api/v1/seals/{seal.pk}/image"
    # and a plain member lists it, reads it and fetches its PNG
    member = api_client(company.member)
    listed = member.get(f"/api/v1/organizations/{company.org.pk}/seals")
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [str(seal.pk)]
    assert listed.json()["next_cursor"] is None
    detail = member.get(f"/api/v1/seals/{seal.pk}").json()
    assert (
        detail["type"] == "contract"
        and detail["type_text"] == "合同专用章"
        and detail["code"] == "3501000000001"
    )
    image = member.get(body["image_url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).mode == "RGBA"


def test_an_unverified_organisation_gets_409_organization_unverified(enterprise, api_client):  # type: ignore[no-untyped-def]
    owner = enterprise.memberships.get(role="owner").user
    answer = _post(
        api_client(owner),
        f"/api/v1/organizations/{enterprise.pk}/seals",
        {"name": "公章", "type": "official", "shape": "round"},
    )
    assert answer.status_code == 409
    assert answer.json()["error"] == "organization_unverified"


def test_a_member_may_not_create_a_seal(make_user, api_client):  # type: ignore[no-untyped-def]
    company = office(make_user)
    answer = _post(
        api_client(company.member),
        f"/api/v1/organizations/{company.org.pk}/seals",
        {"name": "公章", "type": "official", "shape": "round"},
    )
    assert answer.status_code == 403 and answer.json()["error"] == "not_permitted"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "公章", "type": "stamp", "shape": "round"},
        {"name": "公章", "type": "official", "shape": "round", "code": "12"},
        {"name": "", "type": "official", "shape": "round"},
        {"name": "公\u202e章", "type": "official", "shape": "round"},
    ],
)
def test_a_malformed_seal_request_is_refused_before_anything_is_made(make_user, api_client, body):  # type: ignore[no-untyped-def]
    company = office(make_user)
    answer = _post(api_client(company.keeper), f"/api/v1/organizations/{company.org.pk}/seals", body)
    assert answer.status_code in {400, 422}
    assert not Seal.objects.exists()


def test_an_uploaded_scan_becomes_a_seal_of_red_ink(make_user, api_client):  # type: ignore[no-untyped-def]
    # Given a scan of a real seal: red ink on white paper
    company = office(make_user)
    stamp = Image.open(io.BytesIO(bytes(make_seal(company).image_png))).convert("RGBA")
    paper = Image.new("RGB", (stamp.width + 200, stamp.height + 200), "white")
    paper.paste(stamp, (100, 100), stamp)
    scan = io.BytesIO()
    paper.save(scan, "JPEG", quality=92)
    scan.seek(0)
    scan.name = "seal.jpg"
    # when the keeper uploads it
    answer = api_client(company.keeper).post(
        f"/api/v1/organizations/{company.org.pk}/seals/upload",
        data={"scan": scan, "name": "公章(扫描)", "type": "official", "shape": "round"},
        **EN,
    )
    # then the seal keeps the red ink on transparency, and has its own certificate
    assert answer.status_code == 201, answer.content
    seal = Seal.objects.get(pk=answer.json()["id"])
    assert seal.source == Seal.Source.UPLOADED and not seal.drawing
    picture = Image.open(io.BytesIO(bytes(seal.image_png)))
    assert picture.mode == "RGBA" and picture.getpixel((0, 0))[3] == 0


def test_another_organisations_seal_answers_404_everywhere(make_user, api_client):  # type: ignore[no-untyped-def]
    # Given a seal of one company and the owner of another
    company = office(make_user)
    seal = make_seal(company)
    outsider = api_client(office(make_user, BEIJING, prefix="bj-").owner)
    # then every seal endpoint answers 404, as for a seal that does not exist
    for method, url in [
        ("get", f"/api/v1/seals/{seal.pk}"),
        ("get", f"/api/v1/seals/{seal.pk}/image"),
        ("get", f"/api/v1/seals/{seal.pk}/grants"),
        ("get", f"/api/v1/seals/{seal.pk}/usage"),
        ("get", f"/api/v1/seals/{seal.pk}/approval-requests"),
        ("post", f"/api/v1/seals/{seal.pk}/suspend"),
        ("post", f"/api/v1/seals/{seal.pk}/revoke"),
        ("post", f"/api/v1/seals/{seal.pk}/grants"),
        ("get", f"/api/v1/organizations/{company.org.pk}/seals"),
        ("get", f"/api/v1/seals/{uuid.uuid4()}"),
    ]:
        if method == "get":
            answer = outsider.get(url, **EN)
        else:
            answer = _post(outsider, url, {"valid_until": _until(), "user_email": "x@y.test"})
        assert answer.status_code == 404, (url, answer.content)
    assert Seal.objects.get(pk=seal.pk).status == Seal.Status.ACTIVE


# --- lifecycle --------------------------------------------------------------------------------------


def test_suspend_resume_revoke_through_the_api(make_user, api_client):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    keeper = api_client(company.keeper)
    suspended = _post(keeper, f"/api/v1/seals/{seal.pk}/suspend", {"reason": "盘点"})
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert suspended.json()["status_reason"] == "盘点"
    assert _post(keeper, f"/api/v1/seals/{seal.pk}/suspend").status_code == 409
    assert _post(keeper, f"/api/v1/seals/{seal.pk}/resume").json()["status"] == "active"
    revoked = _post(keeper, f"/api/v1/seals/{seal.pk}/revoke", {"key_compromise": True})
    assert revoked.json()["status"] == "revoked" and revoked.json()["certificate_revoked_at"] is not None
    again = _post(keeper, f"/api/v1/seals/{seal.pk}/resume")
    assert again.status_code == 409 and again.json()["error"] == "seal_not_active"
    # and an auditor may not change a seal's status
    assert _post(api_client(company.auditor), f"/api/v1/seals/{seal.pk}/retire").status_code == 403


# --- grants -----------------------------------------------------------------------------------------


def test_grants_are_made_listed_and_revoked(make_user, api_client):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    keeper = api_client(company.keeper)
    made = _post(
        keeper,
        f"/api/v1/seals/{seal.pk}/grants",
        {
            "user_email": company.member.email.upper(),
            "valid_until": _until(),
            "scope": {"max_amount": "50000", "currency": "CNY"},
            "requires_approval": False,
        },
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["grantee"] == "user" and body["user_id"] == str(company.member.pk)
    assert body["scope"] == {"max_amount": "50000.00", "currency": "CNY"}
    listed = api_client(company.member).get(f"/api/v1/seals/{seal.pk}/grants").json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    revoked = keeper.delete(f"/api/v1/seals/{seal.pk}/grants/{body['id']}?reason=done", **EN)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert keeper.delete(f"/api/v1/seals/{seal.pk}/grants/{uuid.uuid4()}", **EN).status_code == 404


def test_a_manager_granting_herself_gets_409_seal_rights_separated(make_user, api_client):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    answer = _post(
        api_client(company.keeper),
        f"/api/v1/seals/{seal.pk}/grants",
        {"user_email": company.keeper.email, "valid_until": _until()},
    )
    assert answer.status_code == 409 and answer.json()["error"] == "seal_rights_separated"


@pytest.mark.parametrize(
    "body",
    [
        {"valid_until": "PAST"},
        {"user_email": "nobody@example.test"},
        {"scope": {"max_amount": "100"}},
        {"department_id": str(uuid.uuid4())},
        {"automatic": True},
    ],
)
def test_a_grant_that_cannot_be_made_is_400_invalid_grant(make_user, api_client, body):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    request = {"user_email": company.member.email, "valid_until": _until(), **body}
    if request["valid_until"] == "PAST":
        request["valid_until"] = (timezone.now() - timedelta(days=1)).isoformat()
    answer = _post(api_client(company.keeper), f"/api/v1/seals/{seal.pk}/grants", request)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"] == "invalid_grant"


# --- approvals --------------------------------------------------------------------------------------


def test_approvals_are_decided_by_another_manager(make_user, api_client):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    grant(seal, company.keeper, user=company.admin, requires_approval=True)
    asked = services.request_approval(seal, company.admin, facts(company), context=CONTEXT)
    # the admin who asked may not approve her own request
    own = _post(api_client(company.admin), f"/api/v1/approval-requests/{asked.pk}/approve")
    assert own.status_code == 409 and own.json()["error"] == "seal_rights_separated"
    # a rejection needs a reason
    keeper = api_client(company.keeper)
    assert _post(keeper, f"/api/v1/approval-requests/{asked.pk}/reject", {"reason": ""}).status_code == 422
    # the keeper approves; the list shows it; a second decision is 409 approval_not_pending
    approved = _post(keeper, f"/api/v1/approval-requests/{asked.pk}/approve", {"reason": "ok"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    listed = keeper.get(f"/api/v1/seals/{seal.pk}/approval-requests?status=approved").json()
    assert [item["id"] for item in listed["items"]] == [str(asked.pk)]
    again = _post(keeper, f"/api/v1/approval-requests/{asked.pk}/reject", {"reason": "no"})
    assert again.status_code == 409 and again.json()["error"] == "approval_not_pending"
    # and an outsider's attempt is a 404
    outsider = api_client(office(make_user, BEIJING, prefix="bj-").owner)
    assert _post(outsider, f"/api/v1/approval-requests/{asked.pk}/approve").status_code == 404
    assert ApprovalRequest.objects.get(pk=asked.pk).status == "approved"


# --- usage log --------------------------------------------------------------------------------------


def _used(company, seal, title: str = "采购合同"):  # type: ignore[no-untyped-def]
    envelope = facts(company)
    envelope = type(envelope)(**{**envelope.__dict__, "title": title})
    return use(services.authorize_use(seal, company.member, envelope), envelope, company.member)


def test_auditors_read_the_usage_log_as_json_with_filters(make_user, api_client):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    grant(seal, company.keeper, user=company.member)
    first = _used(company, seal)
    second = _used(company, seal)
    auditor = api_client(company.auditor)
    page = auditor.get(f"/api/v1/seals/{seal.pk}/usage?limit=1").json()
    assert [item["id"] for item in page["items"]] == [str(second.pk)]
    rest = auditor.get(f"/api/v1/seals/{seal.pk}/usage?limit=1&cursor={page['next_cursor']}").json()
    assert [item["id"] for item in rest["items"]] == [str(first.pk)] and rest["next_cursor"] is None
    item = rest["items"][0]
    assert item["used_by"] == str(company.member.pk) and item["grant_id"] == str(first.grant_id)
    by_envelope = auditor.get(f"/api/v1/seals/{seal.pk}/usage?envelope_id={first.envelope_id}").json()
    assert [item["id"] for item in by_envelope["items"]] == [str(first.pk)]
    later = (timezone.now() + timedelta(minutes=1)).isoformat().replace("+", "%2B")
    assert auditor.get(f"/api/v1/seals/{seal.pk}/usage?since={later}").json()["items"] == []
    # the keeper and the member, who manage and use, may not read it
    for person in (company.keeper, company.member):
        answer = api_client(person).get(f"/api/v1/seals/{seal.pk}/usage", **EN)
        assert answer.status_code == 403 and answer.json()["error"] == "not_permitted"


def test_the_usage_log_exports_as_csv_for_excel_without_formulas(make_user, api_client):  # type: ignore[no-untyped-def]
    # Given a use on an envelope whose title a spreadsheet would run as a formula
    company = office(make_user)
    seal = make_seal(company)
    grant(seal, company.keeper, user=company.member)
    usage = _used(company, seal, title='=HYPERLINK("http://evil.test","点我")')
    # when legal staff export the log as CSV
    answer = api_client(company.legal).get(f"/api/v1/seals/{seal.pk}/usage?format=csv")
    # then it is UTF-8 CSV with a byte-order mark and a header row, and the title cannot run
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    assert "attachment" in answer["Content-Disposition"]
    text = answer.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0][:4] == ["used_at", "seal_id", "seal_name", "used_by_email"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["envelope_title"] == '\'=HYPERLINK("http://evil.test","点我")'
    assert row["seal_name"] == "合同专用章" and row["used_by_email"] == company.member.email
    assert row["envelope_id"] == str(usage.envelope_id) and row["automatic"] == "no"


def test_every_formula_start_is_neutralised_in_the_csv(make_user, api_client):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    grant(seal, company.keeper, user=company.member)
    titles = ["+1+1", "-2+3", "@SUM(A1)", "=1+1", "普通合同 plain"]
    for title in titles:
        _used(company, seal, title=title)
    text = api_client(company.auditor).get(f"/api/v1/seals/{seal.pk}/usage?format=csv").content.decode()
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert sorted(row["envelope_title"] for row in rows) == sorted(
        ["'+1+1", "'-2+3", "'@SUM(A1)", "'=1+1", "普通合同 plain"]
    )


def test_a_status_change_needs_no_body(make_user, api_client):  # type: ignore[no-untyped-def]
    """`POST /seals/{id}/suspend` as the issue writes it, with nothing sent: the reason is optional."""
    company = office(make_user)
    seal = make_seal(company)
    keeper = api_client(company.keeper)
    response = keeper.generic("POST", f"/api/v1/seals/{seal.pk}/suspend")  # no body, as curl -X POST sends
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "suspended"
    # a body that is sent is still read strictly
    broken = keeper.post(f"/api/v1/seals/{seal.pk}/resume", "{not json", content_type="application/json")
    assert broken.status_code == 400 and broken.json()["error"] == "invalid_json"

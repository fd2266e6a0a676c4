"""Enterprise organisations over real HTTP: a live server serves the API and the sandbox identity
provider it asks (the enterprise 4-element check), and the sandbox bank's outbox files are read back."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from econtract.accounts import org_members, organizations
from econtract.accounts.errors import NotPermitted, OrganizationNotVerified
from econtract.accounts.models import Membership, Organization, OrganizationVerification
from econtract.accounts.services import create_api_key
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext
from econtract.identity.errors import InvalidUscc
from econtract.identity.idnumbers import IdType, validate_uscc
from econtract.identity.providers import EnterpriseCheck, HttpJsonProvider, Outcome, get_identity_provider
from econtract.identity.providers.sandbox import SandboxProvider, answer, load_identities
from econtract.identity.tests.factories import verify_identity

KEY = "test-sandbox-key"
FUZHOU = {
    "name": "福州示例科技有限公司",
    "uscc": "91350100M000100Y43",
    "legal_representative": {"name": "张三", "id_type": "cn_resident", "id_number": "11010519491231002X"},
}
ACCOUNT = {"name": FUZHOU["name"], "number": "6222 0202 0000 1234 567", "bank": "中国工商银行福州分行"}
CONTEXT = RequestContext.system("test")

VALID_USCCS = ["91350100M000100Y43", "91110108MA0000001D", "91310000MA1K000019", "91350100m000100y43"]
INVALID_USCCS = [
    "91350100M000100Y44",  # check character
    "91350100M000100Y4",  # 17 characters
    "91350100M000100YO3",  # O is not in the code's character set
    "913501A0M000100Y43",  # region code not digits
    "",
]


pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(live_server, settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.ECONTRACT_IDP_URL = ""
    settings.ECONTRACT_IDP_SANDBOX = True
    settings.ECONTRACT_IDP_SANDBOX_KEY = KEY
    settings.ECONTRACT_BANK_URL = ""
    settings.BASE_URL = live_server.url
    return live_server


def client_for(server: Any, user: Any) -> requests.Session:
    _, secret = create_api_key(user)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {secret}"
    session.base_url = server.url + "/api/v1"  # type: ignore[attr-defined]
    return session


def call(
    session: requests.Session, method: str, path: str, timeout: float = 30, **kwargs: Any
) -> requests.Response:
    # generous: a signature (PIN KDF, first certificate hierarchy, timestamps) is slow on a busy machine
    return session.request(method, session.base_url + path, timeout=timeout, **kwargs)  # type: ignore[attr-defined]


def bank_outbox(settings: Any) -> list[dict[str, Any]]:
    directory = Path(settings.OUTBOX_DIR) / "bank"
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))] if directory.exists() else []


@pytest.fixture
def zhang(make_user):  # type: ignore[no-untyped-def]
    """The legal representative of FUZHOU, verified personally at L2."""
    user = make_user("zhangsan@example.test", "张三")
    return verify_identity(user, name="张三", id_number="11010519491231002X")


def create_org(session: requests.Session, body: dict[str, Any] = FUZHOU) -> dict[str, Any]:
    response = call(session, "POST", "/organizations", json=body)
    assert response.status_code == 201, response.text
    return response.json()


# --- the enterprise check at the provider -----------------------------------------------------


def test_sandbox_enterprises_are_valid_and_the_check_answers_over_http(server) -> None:  # type: ignore[no-untyped-def]
    provider = get_identity_provider()
    assert isinstance(provider, HttpJsonProvider)
    check = EnterpriseCheck(
        name=FUZHOU["name"],
        uscc=FUZHOU["uscc"],
        legal_rep_name="张三",
        legal_rep_id_type=IdType.CN_RESIDENT,
        legal_rep_id_number="11010519491231002X",
    )
    result = provider.check_enterprise(check)
    assert (result.outcome, result.sandbox, result.provider) == (Outcome.MATCH, True, "econtract-sandbox")
    other_rep = EnterpriseCheck(
        name=FUZHOU["name"],
        uscc=FUZHOU["uscc"],
        legal_rep_name="张丽",
        legal_rep_id_type=IdType.CN_RESIDENT,
        legal_rep_id_number="110105199003070025",
    )
    assert provider.check_enterprise(other_rep).outcome is Outcome.MISMATCH
    other_company = EnterpriseCheck(
        name="无名公司",
        uscc="91110108MA0000001D"[:-1] + "D",
        legal_rep_name="张三",
        legal_rep_id_type=IdType.CN_RESIDENT,
        legal_rep_id_number="11010519491231002X",
    )
    assert provider.check_enterprise(other_company).outcome is Outcome.MISMATCH  # 北京示例's code
    assert SandboxProvider().check_enterprise(check).outcome is Outcome.MATCH
    assert (
        HttpJsonProvider(provider.url, "wrong-key", 5).check_enterprise(check).outcome is Outcome.UNAVAILABLE
    )


def test_sandbox_protocol_refuses_a_malformed_uscc_and_knows_no_other_code() -> None:
    identities = load_identities()
    body = {
        "method": "enterprise_4el",
        "name": "X",
        "uscc": "91350100M000100Y44",
        "legal_representative_name": "张三",
        "legal_representative_id_type": "cn_resident",
        "legal_representative_id_number": "11010519491231002X",
    }
    status, content = answer(json.dumps(body).encode(), f"Bearer {KEY}", KEY, identities)
    assert (status, content["error"]) == (400, "invalid_uscc")
    # a well-formed code registered to nobody
    from stdnum.cn import uscc as stdnum_uscc

    nobody = "91440300MA5D00001" + stdnum_uscc.calc_check_digit("91440300MA5D00001")
    status, content = answer(json.dumps({**body, "uscc": nobody}).encode(), f"Bearer {KEY}", KEY, identities)
    assert (status, content["outcome"]) == (200, "not_found")


@pytest.mark.parametrize("code", VALID_USCCS)
def test_valid_usccs(code: str) -> None:
    assert validate_uscc(code) == code.upper()


@pytest.mark.parametrize("code", INVALID_USCCS)
def test_invalid_usccs_answer_400_invalid_uscc(code: str, server, make_user) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidUscc):
        validate_uscc(code)
    session = client_for(server, make_user())
    response = call(session, "POST", "/organizations", json={**FUZHOU, "uscc": code or "X"})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_uscc")
    assert not Organization.objects.filter(kind="enterprise").exists()


# --- creating and verifying by bank transfer -------------------------------------------------


def test_create_then_verify_by_bank_transfer_over_http(server, settings, zhang) -> None:  # type: ignore[no-untyped-def]
    session = client_for(server, zhang)
    created = create_org(session)
    assert created["status"] == "unverified" and created["sandbox"] is True
    assert created["legal_representative"]["id_number_masked"] == "110***********002X"
    org = Organization.objects.get(pk=created["id"])
    assert b"11010519491231002X" not in bytes(org.legal_rep_id_number_sealed)
    with pytest.raises(OrganizationNotVerified) as refused:
        organizations.require_verified_organization(org)
    assert refused.value.code == "organization_not_verified"

    started = call(
        session,
        "POST",
        f"/organizations/{org.pk}/verifications",
        json={"method": "bank_transfer", "bank_account": ACCOUNT},
    )
    assert started.status_code == 201, started.text
    verification = started.json()
    assert (verification["status"], verification["outcome"]) == ("pending", "match")
    assert (
        verification["bank_account_masked"].endswith("4567")
        and "0202" not in verification["bank_account_masked"]
    )
    assert verification["organization_status"] == "pending"
    [transfer] = bank_outbox(settings)
    assert transfer["id"] == verification["id"] and transfer["currency"] == "CNY"
    assert transfer["account_name"] == FUZHOU["name"] and transfer["sandbox"] is True
    assert "0.01" <= transfer["amount"] <= "0.99" and len(transfer["amount"]) == 4
    code = transfer["remark"].split()[-1]
    assert len(code) == 6

    confirm = f"/organizations/{org.pk}/verifications/{verification['id']}/confirm"
    done = call(session, "POST", confirm, json={"amount": transfer["amount"], "code": code.lower()})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["organization_status"]) == ("verified", "verified")
    org.refresh_from_db()
    assert org.is_verified and org.verification_method == "bank_transfer"
    organizations.require_verified_organization(org)  # passes now
    detail = call(session, "GET", f"/organizations/{org.pk}").json()
    assert (detail["status"], detail["role"]) == ("verified", "owner")

    kinds = list(
        Event.objects.filter(subject_id=str(org.pk)).order_by("sequence").values_list("kind", flat=True)
    )
    assert kinds == [
        "organization_created",
        "organization_enterprise_check",
        "organization_transfer_sent",
        "organization_verified",
    ]
    check = Event.objects.get(subject_id=str(org.pk), kind="organization_enterprise_check")
    assert check.payload["result"] == "match" and check.payload["provider"] == "econtract-sandbox"
    assert check.payload["acting_as"] == {
        "member": str(zhang.pk),
        "role": "owner",
        "organization": str(org.pk),
    }
    assert check.ip_address == "127.0.0.1"
    verified = Event.objects.get(subject_id=str(org.pk), kind="organization_verified")
    assert verified.payload["legal_representative"] == str(zhang.pk) and verified.payload["level"] == "L2"
    assert code not in json.dumps([e.payload for e in Event.objects.filter(subject_id=str(org.pk))])


def test_transfer_confirmation_is_locked_out_after_five_wrong_attempts(server, settings, zhang) -> None:  # type: ignore[no-untyped-def]
    session = client_for(server, zhang)
    org_id = create_org(session)["id"]
    started = call(
        session,
        "POST",
        f"/organizations/{org_id}/verifications",
        json={"method": "bank_transfer", "bank_account": ACCOUNT},
    ).json()
    [transfer] = bank_outbox(settings)
    code = transfer["remark"].split()[-1]
    wrong_amount = "0.01" if transfer["amount"] != "0.01" else "0.02"
    confirm = f"/organizations/{org_id}/verifications/{started['id']}/confirm"
    for remaining in (4, 3, 2, 1, 0):
        response = call(session, "POST", confirm, json={"amount": wrong_amount, "code": code})
        assert (response.status_code, response.json()["error"]) == (400, "transfer_mismatch")
        assert response.json()["remaining_attempts"] == remaining
    # the right answer no longer helps: the verification failed
    response = call(session, "POST", confirm, json={"amount": transfer["amount"], "code": code})
    assert (response.status_code, response.json()["error"]) == (409, "organization_verification_not_pending")
    row = OrganizationVerification.objects.get(pk=started["id"])
    assert (row.status, row.attempts) == ("rejected", 5)
    assert Organization.objects.get(pk=org_id).verification_status == "rejected"
    failures = Event.objects.filter(subject_id=org_id, kind="organization_transfer_confirmation_failed")
    assert failures.count() == 5
    assert Event.objects.filter(subject_id=org_id, kind="organization_verification_rejected").count() == 1


def test_enterprise_mismatch_rejects_and_costs_no_transfer(server, settings, make_user) -> None:  # type: ignore[no-untyped-def]
    # 张丽 is verified personally, but she is not 福州示例's legal representative at the register
    li = verify_identity(make_user("li@example.test", "张丽"), name="张丽", id_number="110105199003070025")
    session = client_for(server, li)
    body = {
        **FUZHOU,
        "legal_representative": {"name": "张丽", "id_type": "cn_resident", "id_number": "110105199003070025"},
    }
    org_id = create_org(session, body)["id"]
    started = call(
        session,
        "POST",
        f"/organizations/{org_id}/verifications",
        json={"method": "bank_transfer", "bank_account": ACCOUNT},
    )
    assert started.status_code == 201
    assert (started.json()["status"], started.json()["outcome"]) == ("rejected", "mismatch")
    assert bank_outbox(settings) == []
    check = Event.objects.get(subject_id=org_id, kind="organization_enterprise_check")
    assert check.payload["result"] == "mismatch"


def test_the_legal_representative_must_be_a_verified_member(server, settings, make_user) -> None:  # type: ignore[no-untyped-def]
    # an unverified creator names 张三 as the legal representative: no check, no transfer
    creator = make_user("clerk@example.test", "王五")
    session = client_for(server, creator)
    org_id = create_org(session)["id"]
    response = call(
        session,
        "POST",
        f"/organizations/{org_id}/verifications",
        json={"method": "bank_transfer", "bank_account": ACCOUNT},
    )
    assert (response.status_code, response.json()["error"]) == (409, "legal_representative_not_verified")
    assert bank_outbox(settings) == []
    assert Event.objects.filter(subject_id=org_id, kind="organization_verification_refused").exists()
    # verified as someone else with the same name does not count either
    verify_identity(creator, name="张三", id_number="110105199003070025")
    response = call(
        session,
        "POST",
        f"/organizations/{org_id}/verifications",
        json={"method": "bank_transfer", "bank_account": ACCOUNT},
    )
    assert response.json()["error"] == "legal_representative_not_verified"


def test_the_bank_account_must_be_in_the_organisations_name(server, settings, zhang) -> None:  # type: ignore[no-untyped-def]
    session = client_for(server, zhang)
    org_id = create_org(session)["id"]
    response = call(
        session,
        "POST",
        f"/organizations/{org_id}/verifications",
        json={"method": "bank_transfer", "bank_account": {**ACCOUNT, "name": "张三"}},
    )
    assert (response.status_code, response.json()["error"]) == (400, "bank_account_name_mismatch")
    assert bank_outbox(settings) == []


# --- operator review of the business licence --------------------------------------------------


def licence_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 140), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_operator_review_of_the_business_licence(server, zhang, make_user) -> None:  # type: ignore[no-untyped-def]
    session = client_for(server, zhang)
    org_id = create_org(session)["id"]
    image = licence_png()
    response = call(
        session,
        "POST",
        f"/organizations/{org_id}/verifications/licence",
        files={"licence": ("licence.png", image, "image/png")},
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    row = OrganizationVerification.objects.get(pk=response.json()["id"])
    assert image not in bytes(row.licence_sealed) and organizations.licence_image(row).startswith(b"\x89PNG")
    assert list(organizations.pending_licence_reviews()) == [row]

    with pytest.raises(NotPermitted):  # a member of the organisation is no operator
        organizations.decide_licence_review(row, zhang, approve=True, context=CONTEXT)
    operator = make_user("operator@example.test", "Operator")
    operator.is_staff = True
    operator.save()
    organizations.decide_licence_review(row, operator, approve=True, context=CONTEXT)
    org = Organization.objects.get(pk=org_id)
    assert org.is_verified and org.verification_method == "operator_review"
    event = Event.objects.get(subject_id=org_id, kind="organization_verified")
    assert event.payload["operator"] == str(operator.pk) and event.actor_id is None  # system context here


def test_a_licence_that_is_not_an_image_is_refused(server, zhang) -> None:  # type: ignore[no-untyped-def]
    session = client_for(server, zhang)
    org_id = create_org(session)["id"]
    response = call(
        session,
        "POST",
        f"/organizations/{org_id}/verifications/licence",
        files={"licence": ("licence.png", b"%PDF-1.7 not an image", "image/png")},
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_licence")


def test_an_operator_rejection_needs_a_reason(server, zhang, make_user) -> None:  # type: ignore[no-untyped-def]
    session = client_for(server, zhang)
    org_id = create_org(session)["id"]
    vid = call(
        session,
        "POST",
        f"/organizations/{org_id}/verifications/licence",
        files={"licence": ("l.png", licence_png(), "image/png")},
    ).json()["id"]
    operator = make_user("op2@example.test", "Operator")
    operator.is_staff = True
    operator.save()
    row = OrganizationVerification.objects.get(pk=vid)
    from econtract.accounts.errors import InvalidLicence

    with pytest.raises(InvalidLicence):
        organizations.decide_licence_review(row, operator, approve=False, reason="", context=CONTEXT)
    organizations.decide_licence_review(
        row, operator, approve=False, reason="照片模糊 blurred", context=CONTEXT
    )
    row.refresh_from_db()
    assert (row.status, row.reason) == ("rejected", "照片模糊 blurred")
    assert Organization.objects.get(pk=org_id).verification_status == "rejected"


# --- members, invitations, roles, departments -------------------------------------------------


def test_invite_accept_roles_and_departments(server, zhang, make_user, outbox) -> None:  # type: ignore[no-untyped-def]
    owner = client_for(server, zhang)
    org_id = create_org(owner)["id"]
    sales = call(owner, "POST", f"/organizations/{org_id}/departments", json={"name": "销售部"})
    assert sales.status_code == 201
    east = call(
        owner,
        "POST",
        f"/organizations/{org_id}/departments",
        json={"name": "华东", "parent_id": sales.json()["id"]},
    )
    assert east.json()["parent_id"] == sales.json()["id"]
    duplicate = call(owner, "POST", f"/organizations/{org_id}/departments", json={"name": "销售部"})
    assert duplicate.json()["error"] == "invalid_department"

    invited = call(
        owner,
        "POST",
        f"/organizations/{org_id}/members",
        json={"email": "Wang@Example.test", "role": "member", "department_id": east.json()["id"]},
    )
    assert invited.status_code == 201, invited.text
    [mail] = outbox.messages()
    assert mail["To"] == "wang@example.test"
    token = outbox.last("wang@example.test", r"/organizations/invitations/(\S+)")

    stranger = make_user("stranger@example.test", "Stranger")
    refused = call(client_for(server, stranger), "POST", "/invitations/accept", json={"token": token})
    assert (refused.status_code, refused.json()["error"]) == (403, "invitation_email_mismatch")
    wang = make_user("wang@example.test", "王五")
    member = client_for(server, wang)
    accepted = call(member, "POST", "/invitations/accept", json={"token": token})
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["role"], accepted.json()["department_id"]) == ("member", east.json()["id"])
    again = call(member, "POST", "/invitations/accept", json={"token": token})
    assert (again.status_code, again.json()["error"]) == (404, "invitation_invalid")

    page = call(member, "GET", f"/organizations/{org_id}/members", params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    second = call(
        member, "GET", f"/organizations/{org_id}/members", params={"limit": 1, "cursor": page["next_cursor"]}
    )
    assert [m["email"] for m in page["items"] + second.json()["items"]] == [
        "zhangsan@example.test",
        "wang@example.test",
    ]

    # a member may neither invite nor change roles
    response = call(member, "POST", f"/organizations/{org_id}/members", json={"email": "x@example.test"})
    assert (response.status_code, response.json()["error"]) == (403, "not_permitted")
    response = call(member, "PATCH", f"/organizations/{org_id}/members/{wang.pk}", json={"role": "admin"})
    assert (response.status_code, response.json()["error"]) == (403, "not_permitted")
    response = call(member, "POST", f"/organizations/{org_id}/departments", json={"name": "法务部"})
    assert response.status_code == 403
    response = call(
        member,
        "POST",
        f"/organizations/{org_id}/verifications",
        json={"method": "bank_transfer", "bank_account": ACCOUNT},
    )
    assert response.status_code == 403

    # the owner makes her an admin; an admin cannot touch the owner
    promoted = call(owner, "PATCH", f"/organizations/{org_id}/members/{wang.pk}", json={"role": "admin"})
    assert promoted.json()["role"] == "admin"
    response = call(member, "PATCH", f"/organizations/{org_id}/members/{zhang.pk}", json={"role": "member"})
    assert (response.status_code, response.json()["error"]) == (403, "not_permitted")
    response = call(
        member, "POST", f"/organizations/{org_id}/members", json={"email": "o@example.test", "role": "owner"}
    )
    assert response.status_code == 403
    assert (
        call(
            member,
            "POST",
            f"/organizations/{org_id}/members",
            json={"email": "o@example.test", "role": "legal"},
        ).status_code
        == 201
    )
    # the last owner cannot step down
    response = call(owner, "PATCH", f"/organizations/{org_id}/members/{zhang.pk}", json={"role": "admin"})
    assert (response.status_code, response.json()["error"]) == (409, "last_owner")
    kinds = set(Event.objects.filter(subject_id=org_id).values_list("kind", flat=True))
    assert {
        "organization_member_invited",
        "organization_member_joined",
        "organization_member_changed",
    } <= kinds
    changed = Event.objects.get(subject_id=org_id, kind="organization_member_changed")
    assert changed.payload["acting_as"]["role"] == "owner"


def test_another_organisations_id_answers_404(server, zhang, make_user) -> None:  # type: ignore[no-untyped-def]
    org_id = create_org(client_for(server, zhang))["id"]
    outsider = client_for(server, make_user("out@example.test", "Outsider"))
    for method, path, body in [
        ("GET", f"/organizations/{org_id}", None),
        ("GET", f"/organizations/{org_id}/members", None),
        ("POST", f"/organizations/{org_id}/members", {"email": "a@example.test"}),
        ("GET", f"/organizations/{org_id}/departments", None),
        (
            "POST",
            f"/organizations/{org_id}/verifications",
            {"method": "bank_transfer", "bank_account": ACCOUNT},
        ),
    ]:
        response = call(outsider, method, path, json=body)
        assert (response.status_code, response.json()["error"]) == (404, "not_found"), path
    vid = OrganizationVerification.objects.create(organization_id=org_id, method="bank_transfer").pk
    response = call(
        outsider,
        "POST",
        f"/organizations/{org_id}/verifications/{vid}/confirm",
        json={"amount": "0.10", "code": "ABCDEF"},
    )
    assert response.status_code == 404


def test_an_unverified_organisation_fails_require_verified_organization(enterprise) -> None:  # type: ignore[no-untyped-def]
    assert enterprise.verification_status == "unverified"
    with pytest.raises(OrganizationNotVerified) as refused:
        organizations.require_verified_organization(enterprise)
    assert refused.value.code == "organization_not_verified"
    from econtract.api.errors import STATUS_BY_CODE

    assert STATUS_BY_CODE["organization_not_verified"] == 409
    # a stale in-memory object saying "verified" does not fool it
    enterprise.verification_status = "verified"
    with pytest.raises(OrganizationNotVerified):
        organizations.require_verified_organization(enterprise)


def test_member_services_refuse_a_plain_member(enterprise, make_user) -> None:  # type: ignore[no-untyped-def]
    member = make_user("m@example.test", "Member")
    Membership.objects.create(user=member, organization=enterprise, role="member")
    with pytest.raises(NotPermitted):
        org_members.invite(enterprise, member, email="n@example.test", context=CONTEXT)
    with pytest.raises(NotPermitted):
        org_members.create_department(enterprise, member, name="X", context=CONTEXT)


# --- (a) the authorisation letter signed by the legal representative ----------------------------


def test_verify_by_an_authorisation_letter_the_legal_representative_signs(server, zhang, outbox) -> None:  # type: ignore[no-untyped-def]
    from econtract.pki import custody
    from econtract.signing.models import Envelope

    session = client_for(server, zhang)
    org_id = create_org(session)["id"]
    started = call(
        session, "POST", f"/organizations/{org_id}/verifications", json={"method": "authorization_letter"}
    )
    assert started.status_code == 201, started.text
    assert (started.json()["status"], started.json()["organization_status"]) == ("pending", "pending")
    row = OrganizationVerification.objects.get(pk=started.json()["id"])
    envelope = Envelope.objects.get(pk=row.envelope_id)
    assert envelope.organization_id == Organization.objects.get(pk=org_id).pk and envelope.status == "sent"
    [party] = envelope.parties.all()
    assert (party.name, party.email, party.min_assurance) == ("张三", "zhangsan@example.test", "L2")

    custody.set_signing_pin(zhang, "582914")
    response = call(session, "POST", f"/envelopes/{envelope.pk}/parties/{party.pk}/otp")
    assert response.status_code == 200, response.text
    code = outbox.last_code("zhangsan@example.test")
    signed = call(
        session,
        "POST",
        f"/envelopes/{envelope.pk}/parties/{party.pk}/sign",
        json={"otp": code, "pin": "582914"},
        timeout=120,
    )
    assert signed.status_code == 200, signed.text
    assert Envelope.objects.get(pk=envelope.pk).status == "completed"

    # the verification is decided when it is next read
    detail = call(session, "GET", f"/organizations/{org_id}/verifications/{row.pk}").json()
    assert (detail["status"], detail["organization_status"]) == ("verified", "verified")
    org = Organization.objects.get(pk=org_id)
    assert org.verification_method == "authorization_letter"
    event = Event.objects.get(subject_id=org_id, kind="organization_verified")
    assert event.payload["envelope"] == str(envelope.pk) and event.payload["legal_representative"] == str(
        zhang.pk
    )
    assert (
        Event.objects.get(subject_id=org_id, kind="organization_letter_sent").payload["acting_as"]["role"]
        == "owner"
    )


def test_a_declined_authorisation_letter_rejects_the_verification(server, zhang) -> None:  # type: ignore[no-untyped-def]
    from econtract.signing.models import Envelope

    session = client_for(server, zhang)
    org_id = create_org(session)["id"]
    vid = call(
        session, "POST", f"/organizations/{org_id}/verifications", json={"method": "authorization_letter"}
    ).json()["id"]
    row = OrganizationVerification.objects.get(pk=vid)
    party = Envelope.objects.get(pk=row.envelope_id).parties.get()
    declined = call(
        session, "POST", f"/envelopes/{row.envelope_id}/parties/{party.pk}/decline", json={"reason": "不同意"}
    )
    assert declined.status_code == 200, declined.text
    detail = call(session, "GET", f"/organizations/{org_id}").json()
    assert detail["status"] == "rejected"
    assert OrganizationVerification.objects.get(pk=vid).status == "rejected"


def test_verification_starts_are_limited_per_organisation(server, settings, zhang) -> None:  # type: ignore[no-untyped-def]
    session = client_for(server, zhang)
    org_id = create_org(session)["id"]
    for _ in range(organizations.STARTS_PER_DAY):
        OrganizationVerification.objects.create(
            organization_id=org_id, method="bank_transfer", status="rejected"
        )
    response = call(
        session,
        "POST",
        f"/organizations/{org_id}/verifications",
        json={"method": "bank_transfer", "bank_account": ACCOUNT},
    )
    assert (response.status_code, response.json()["error"]) == (429, "organization_verification_rate_limited")
    assert 0 < int(response.headers["Retry-After"]) <= 86400
    assert bank_outbox(settings) == []


def test_no_verdict_from_the_provider_is_503_and_decides_nothing(server, settings, zhang) -> None:  # type: ignore[no-untyped-def]
    import socket

    session = client_for(server, zhang)
    org_id = create_org(session)["id"]
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        settings.ECONTRACT_IDP_URL = f"http://127.0.0.1:{probe.getsockname()[1]}/"
        settings.ECONTRACT_IDP_TIMEOUT = 2
        response = call(
            session,
            "POST",
            f"/organizations/{org_id}/verifications",
            json={"method": "bank_transfer", "bank_account": ACCOUNT},
        )
    assert (response.status_code, response.json()["error"]) == (503, "provider_unavailable")
    assert not OrganizationVerification.objects.filter(organization_id=org_id).exists()
    assert bank_outbox(settings) == []
    check = Event.objects.get(subject_id=org_id, kind="organization_enterprise_check")
    assert check.payload["result"] == "unavailable"
    assert Organization.objects.get(pk=org_id).verification_status == "unverified"


def test_a_uscc_is_verified_for_one_organisation_only(server, zhang) -> None:  # type: ignore[no-untyped-def]
    from django.db import IntegrityError, transaction

    session = client_for(server, zhang)
    first = create_org(session)["id"]
    second = create_org(session)["id"]  # unverified duplicates may coexist
    Organization.objects.filter(pk=first).update(verification_status="verified")
    response = call(session, "POST", "/organizations", json=FUZHOU)
    assert (response.status_code, response.json()["error"]) == (409, "uscc_taken")
    response = call(
        session, "POST", f"/organizations/{second}/verifications", json={"method": "authorization_letter"}
    )
    assert (response.status_code, response.json()["error"]) == (409, "uscc_taken")
    with pytest.raises(IntegrityError), transaction.atomic():  # and the database says so too
        Organization.objects.filter(pk=second).update(verification_status="verified")


def test_the_caller_lists_her_organisations_only(api_client, make_user):  # type: ignore[no-untyped-def]
    from econtract.accounts.services import create_enterprise

    anna = make_user("anna@example.test", "安娜 Anna")
    other = make_user("other@example.test", "别人 Other")
    mine = create_enterprise("安娜科技有限公司", anna)
    create_enterprise("别人的公司", other)
    client = api_client(anna)
    first = client.get("/api/v1/organizations?limit=1").json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = client.get(f"/api/v1/organizations?limit=1&cursor={first['next_cursor']}").json()
    listed = first["items"] + second["items"]
    assert str(mine.pk) in {org["id"] for org in listed}  # with her personal organisation: two
    assert "别人的公司" not in {org["name"] for org in listed} and second["next_cursor"] is None
    assert client.get("/api/v1/organizations?cursor=forged").status_code == 400

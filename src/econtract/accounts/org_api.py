"""Enterprise organisations over the API: creation, verification, members, invitations, departments.

Thin: every rule is in accounts.organizations and accounts.org_members. An organisation the caller
is not a member of answers 404, as one that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from econtract.accounts import org_members, organizations
from econtract.accounts.errors import InvalidLicence
from econtract.accounts.models import Organization
from econtract.api.openapi import responses
from econtract.api.pagination import InvalidCursor, PageQuery, decode_cursor, encode_cursor
from econtract.evidence.services import RequestContext
from econtract.identity.providers import identity_provider_is_sandbox
from econtract.textinput import SingleLineText

router = Router(tags=["organizations"])

IdTypeName = Literal[
    "cn_resident", "hkmt_residence", "hk_macao_permit", "taiwan_permit", "foreign_permanent", "passport"
]
RoleName = Literal["owner", "admin", "legal", "seal_keeper", "auditor", "member"]
MAX_LICENCE_BYTES = 10 * 1024 * 1024


class LegalRepresentativeIn(Schema):
    name: SingleLineText = Field(min_length=1, max_length=200)
    id_type: IdTypeName = "cn_resident"
    id_number: str = Field(min_length=1, max_length=64)


class OrganizationIn(Schema):
    name: SingleLineText = Field(min_length=1, max_length=200)
    uscc: str = Field(min_length=1, max_length=64)
    legal_representative: LegalRepresentativeIn


class LegalRepresentativeOut(Schema):
    name: str
    id_type: str
    id_number_masked: str


class OrganizationOut(Schema):
    id: str
    name: str
    kind: str
    uscc: str
    status: str
    verified_at: datetime | None
    verification_method: str
    legal_representative: LegalRepresentativeOut
    role: str | None = None
    sandbox: bool = Field(description="identities are checked against the sandbox's test data")


class BankAccountIn(Schema):
    name: SingleLineText = Field(min_length=1, max_length=200)
    number: str = Field(min_length=1, max_length=40)
    bank: SingleLineText = Field(min_length=1, max_length=200)


class OrganizationVerificationIn(Schema):
    method: Literal["bank_transfer", "operator_review", "authorization_letter"]
    bank_account: BankAccountIn | None = None


class OrganizationVerificationOut(Schema):
    id: str
    method: str
    status: str
    outcome: str
    provider: str
    sandbox: bool
    attempts: int
    remaining_attempts: int | None
    bank_account_masked: str
    reason: str
    created_at: datetime
    decided_at: datetime | None
    expires_at: datetime | None
    organization_status: str


class OrganizationConfirmIn(Schema):
    amount: str = Field(min_length=1, max_length=16)
    code: str = Field(min_length=1, max_length=16)


class MemberOut(Schema):
    user_id: str
    email: str
    full_name: str
    role: str
    department_id: str | None
    joined_at: datetime


class MemberPage(Schema):
    items: list[MemberOut]
    next_cursor: str | None = None


class InviteIn(Schema):
    email: SingleLineText = Field(min_length=3, max_length=254)
    role: RoleName = "member"
    department_id: UUID | None = None


class InvitationOut(Schema):
    id: str
    email: str
    role: str
    department_id: str | None
    expires_at: datetime


class MemberChangeIn(Schema):
    role: RoleName | None = None
    department_id: UUID | None = None
    clear_department: bool = False


class DepartmentIn(Schema):
    name: SingleLineText = Field(min_length=1, max_length=200)
    parent_id: UUID | None = None


class DepartmentOut(Schema):
    id: str
    name: str
    parent_id: str | None


class DepartmentList(Schema):
    items: list[DepartmentOut]


class AcceptIn(Schema):
    token: str = Field(min_length=1, max_length=128)


def _context(request: HttpRequest) -> RequestContext:
    return RequestContext.from_request(request)


def _org_out(org: Any, user: Any) -> dict[str, Any]:
    from econtract.accounts.permissions import role_in

    return {
        **organizations.organization_summary(org),
        "role": role_in(org.pk, user),
        "sandbox": identity_provider_is_sandbox(),
    }


def _verification_out(verification: Any) -> dict[str, Any]:
    verification.organization.refresh_from_db(fields=["verification_status"])
    return {
        **organizations.verification_summary(verification),
        "organization_status": verification.organization.verification_status,
    }


def _member_out(membership: Any) -> dict[str, Any]:
    return {
        "user_id": str(membership.user_id),
        "email": membership.user.email,
        "full_name": membership.user.full_name,
        "role": membership.role,
        "department_id": str(membership.department_id) if membership.department_id else None,
        "joined_at": membership.created_at,
    }


def _department_out(department: Any) -> dict[str, Any]:
    return {
        "id": str(department.pk),
        "name": department.name,
        "parent_id": str(department.parent_id) if department.parent_id else None,
    }


@router.post("/organizations", response=responses({201: OrganizationOut}, 400, 401, 409, 422))
def create_organization(request: HttpRequest, payload: OrganizationIn) -> Status:
    """A new enterprise, unverified, owned by the caller. 400 ``invalid_uscc`` / ``invalid_id_number``."""
    rep = payload.legal_representative
    org = organizations.create_organization(
        request.user,  # type: ignore[arg-type]
        name=payload.name,
        uscc=payload.uscc,
        legal_rep_name=rep.name,
        legal_rep_id_type=rep.id_type,
        legal_rep_id_number=rep.id_number,
        context=_context(request),
    )
    return Status(201, _org_out(org, request.user))


class OrganizationPage(Schema):
    items: list[OrganizationOut]
    next_cursor: str | None = None


@router.get("/organizations", response=responses({200: OrganizationPage}, 400, 401, 422))
def list_organizations(request: HttpRequest, page: PageQuery) -> dict[str, Any]:
    """The organisations the caller is a member of (her personal one included)."""
    query = Organization.objects.filter(memberships__user=request.user).order_by("id")
    if page.cursor:
        (last,) = decode_cursor("organizations", page.cursor, 1)
        try:
            query = query.filter(id__gt=UUID(str(last)))
        except ValueError:
            raise InvalidCursor("the cursor is not valid; use the next_cursor of a previous page") from None
    rows = list(query[: page.limit + 1])
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return {
        "items": [_org_out(org, request.user) for org in rows],
        "next_cursor": encode_cursor("organizations", [str(rows[-1].pk)]) if more else None,
    }


@router.get("/organizations/{org_id}", response=responses({200: OrganizationOut}, 401, 404))
def get_organization(request: HttpRequest, org_id: UUID) -> dict[str, Any]:
    org = organizations.organization_for_member(request.user, org_id)
    organizations.refresh_pending(org, _context(request))
    return _org_out(org, request.user)


@router.post(
    "/organizations/{org_id}/verifications",
    response=responses({201: OrganizationVerificationOut}, 400, 401, 403, 404, 409, 422, 503),
)
def start_verification(request: HttpRequest, org_id: UUID, payload: OrganizationVerificationIn) -> Status:
    """Enterprise 4-element check, then a bank transfer to ``bank_account``, or an authorisation letter
    sent to the legal representative to sign (201; ``status`` is ``rejected`` when the check did not
    match). ``operator_review`` uploads to ``…/verifications/licence``."""
    org = organizations.organization_for_member(request.user, org_id)
    if payload.method == "operator_review":
        raise InvalidLicence("upload the business licence as multipart to /verifications/licence")
    verification = organizations.start_verification(
        org,
        request.user,  # type: ignore[arg-type]
        method=payload.method,
        bank_account=payload.bank_account.dict() if payload.bank_account else None,
        context=_context(request),
    )
    return Status(201, _verification_out(verification))


@router.post(
    "/organizations/{org_id}/verifications/licence",
    response=responses({201: OrganizationVerificationOut}, 400, 401, 403, 404, 409, 413, 422, 503),
)
def upload_licence(request: HttpRequest, org_id: UUID, licence: File[UploadedFile]) -> Status:
    """Operator review: the business licence image (JPEG or PNG), sealed at rest, reviewed by an operator."""
    org = organizations.organization_for_member(request.user, org_id)
    if licence.size and licence.size > MAX_LICENCE_BYTES:
        raise InvalidLicence(f"the image is larger than {MAX_LICENCE_BYTES // (1024 * 1024)} MiB")
    verification = organizations.start_verification(
        org,
        request.user,  # type: ignore[arg-type]
        method="operator_review",
        licence=licence.read(MAX_LICENCE_BYTES + 1),
        context=_context(request),
    )
    return Status(201, _verification_out(verification))


@router.get(
    "/organizations/{org_id}/verifications/{verification_id}",
    response=responses({200: OrganizationVerificationOut}, 401, 404),
)
def get_verification(request: HttpRequest, org_id: UUID, verification_id: UUID) -> dict[str, Any]:
    org = organizations.organization_for_member(request.user, org_id)
    organizations.refresh_pending(org, _context(request))
    return _verification_out(organizations.verification_of(org, verification_id))


@router.post(
    "/organizations/{org_id}/verifications/{verification_id}/confirm",
    response=responses({200: OrganizationVerificationOut}, 400, 401, 403, 404, 409, 422),
)
def confirm_verification(
    request: HttpRequest, org_id: UUID, verification_id: UUID, payload: OrganizationConfirmIn
) -> dict[str, Any]:
    """The amount and code of the transfer, read from the account's statement; 5 attempts."""
    org = organizations.organization_for_member(request.user, org_id)
    verification = organizations.verification_of(org, verification_id)
    verification = organizations.confirm_transfer(
        verification,
        request.user,  # type: ignore[arg-type]
        amount=payload.amount,
        code=payload.code,
        context=_context(request),
    )
    return _verification_out(verification)


@router.get("/organizations/{org_id}/members", response=responses({200: MemberPage}, 400, 401, 404, 422))
def list_members(request: HttpRequest, org_id: UUID, page: PageQuery) -> dict[str, Any]:
    org = organizations.organization_for_member(request.user, org_id)
    query = org_members.members_of(org).order_by("id")
    if page.cursor:
        (last,) = decode_cursor("members", page.cursor, 1)
        if not isinstance(last, int) or isinstance(last, bool):
            raise InvalidCursor("the cursor is not valid; use the next_cursor of a previous page")
        query = query.filter(id__gt=last)
    rows = list(query[: page.limit + 1])
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return {
        "items": [_member_out(m) for m in rows],
        "next_cursor": encode_cursor("members", [rows[-1].pk]) if more else None,
    }


@router.post(
    "/organizations/{org_id}/members", response=responses({201: InvitationOut}, 400, 401, 403, 404, 422)
)
def invite_member(request: HttpRequest, org_id: UUID, payload: InviteIn) -> Status:
    """Invite by email (owner or admin); the invitee accepts by the emailed link, logged in as that address."""
    org = organizations.organization_for_member(request.user, org_id)
    invitation, _token = org_members.invite(
        org,
        request.user,  # type: ignore[arg-type]
        email=payload.email,
        role=payload.role,
        department_id=payload.department_id,
        context=_context(request),
    )
    return Status(
        201,
        {
            "id": str(invitation.pk),
            "email": invitation.email,
            "role": invitation.role,
            "department_id": str(invitation.department_id) if invitation.department_id else None,
            "expires_at": invitation.expires_at,
        },
    )


@router.patch(
    "/organizations/{org_id}/members/{user_id}",
    response=responses({200: MemberOut}, 400, 401, 403, 404, 409, 422),
)
def change_member(
    request: HttpRequest, org_id: UUID, user_id: UUID, payload: MemberChangeIn
) -> dict[str, Any]:
    org = organizations.organization_for_member(request.user, org_id)
    membership = org_members.change_member(
        org,
        request.user,  # type: ignore[arg-type]
        user_id,
        role=payload.role,
        department_id=payload.department_id,
        set_department=payload.department_id is not None or payload.clear_department,
        context=_context(request),
    )
    return _member_out(membership)


@router.post("/invitations/accept", response=responses({200: MemberOut}, 401, 403, 404, 422))
def accept_invitation(request: HttpRequest, payload: AcceptIn) -> dict[str, Any]:
    membership = org_members.accept_invitation(
        payload.token,
        request.user,  # type: ignore[arg-type]
        context=_context(request),
    )
    return _member_out(membership)


@router.get("/organizations/{org_id}/departments", response=responses({200: DepartmentList}, 401, 404))
def list_departments(request: HttpRequest, org_id: UUID) -> dict[str, Any]:
    org = organizations.organization_for_member(request.user, org_id)
    return {"items": [_department_out(d) for d in org_members.departments_of(org)]}


@router.post(
    "/organizations/{org_id}/departments", response=responses({201: DepartmentOut}, 400, 401, 403, 404, 422)
)
def create_department(request: HttpRequest, org_id: UUID, payload: DepartmentIn) -> Status:
    org = organizations.organization_for_member(request.user, org_id)
    department = org_members.create_department(
        org,
        request.user,  # type: ignore[arg-type]
        name=payload.name,
        parent_id=payload.parent_id,
        context=_context(request),
    )
    return Status(201, _department_out(department))

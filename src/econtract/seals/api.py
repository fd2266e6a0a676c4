"""Seal endpoints: create, picture, lifecycle, grants, approvals' decisions, usage log. Thin.

Every rule is in seals.services (and seals.grants / approvals / usage). A seal of an organisation
the caller is not a member of answers 404, as one that does not exist; within her organisation the
three separated rights answer 403 ``not_permitted`` (managing, auditing) or 409
``seal_rights_separated`` (granting to herself, deciding her own request).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from uuid import UUID

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from ninja import File, Form, Query, Router, Status
from ninja.files import UploadedFile

from econtract.accounts.enterprise_models import Department
from econtract.accounts.models import Membership, User
from econtract.accounts.organizations import organization_for_member
from econtract.api.openapi import responses
from econtract.api.pagination import InvalidCursor, PageQuery, decode_cursor, encode_cursor
from econtract.evidence.services import RequestContext
from econtract.seals import services
from econtract.seals.api_schemas import (
    ApprovalFilter,
    ApprovalOut,
    ApprovalPage,
    ApprovalRejectIn,
    ApproveIn,
    GrantIn,
    GrantOut,
    GrantPage,
    RevokeGrantQuery,
    SealCreated,
    SealIn,
    SealOut,
    SealPage,
    SealRevokeIn,
    SealUploadIn,
    StatusChangeIn,
    UsageFilter,
    UsagePage,
)
from econtract.seals.approvals import approval_visible_to
from econtract.seals.errors import InvalidGrant, InvalidSeal
from econtract.seals.models import ApprovalRequest, Seal, SealGrant, SealUsage
from econtract.seals.usage import usage_csv

router = Router(tags=["seals"])

IMAGE_PATH = "/api/v1/seals/{id}/image"
MAX_CSV_ROWS = 100_000  # one export; narrow it with since/until for more


# --- helpers --------------------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _context(request: HttpRequest) -> RequestContext:
    return RequestContext.from_request(request)


def _seal(request: HttpRequest, seal_id: UUID) -> Seal:
    try:
        return services.seal_visible_to(_user(request), seal_id)
    except Seal.DoesNotExist:
        raise Http404("no such seal") from None


def _seal_out(seal: Seal) -> dict[str, Any]:
    certificate = seal.certificate
    return {
        "id": seal.id,
        "organization_id": seal.organization_id,
        "name": seal.name,
        "type": seal.seal_type,
        "type_text": seal.type_text,
        "shape": seal.shape,
        "code": seal.code,
        "source": seal.source,
        "status": seal.status,
        "status_reason": seal.status_reason,
        "status_changed_at": seal.status_changed_at,
        "certificate_serial": certificate.serial_number,
        "certificate_not_after": certificate.not_after,
        "certificate_revoked_at": certificate.revoked_at,
        "image_url": IMAGE_PATH.format(id=seal.id),
        "image_sha256": seal.image_sha256,
        "created_at": seal.created_at,
    }


def _grant_out(grant: SealGrant) -> dict[str, Any]:
    return {
        "id": grant.id,
        "seal_id": grant.seal_id,
        "grantee": grant.grantee,
        "user_id": grant.user_id,
        "user_email": grant.user.email if grant.user is not None else None,
        "department_id": grant.department_id,
        "scope": grant.scope,
        "requires_approval": grant.requires_approval,
        "valid_from": grant.valid_from,
        "valid_until": grant.valid_until,
        "note": grant.note,
        "granted_by": grant.granted_by_id,
        "created_at": grant.created_at,
        "revoked_at": grant.revoked_at,
        "revoke_reason": grant.revoke_reason,
    }


def approval_out(approval: ApprovalRequest) -> dict[str, Any]:
    """An approval request as ApprovalOut (also the answer of signing's approval-request POST)."""
    return {
        "id": approval.id,
        "seal_id": approval.seal_id,
        "grant_id": approval.grant_id,
        "envelope_id": approval.envelope_id,
        "party_id": approval.party_id,
        "document_sha256": approval.document_sha256,
        "envelope_title": approval.envelope_title,
        "amount": str(approval.amount) if approval.amount is not None else None,
        "currency": approval.currency,
        "requested_by": approval.requested_by_id,
        "request_note": approval.request_note,
        "status": approval.status,
        "decided_by": approval.decided_by_id,
        "decided_at": approval.decided_at,
        "decision_reason": approval.decision_reason,
        "used_at": approval.used_at,
        "created_at": approval.created_at,
    }


def _usage_out(usage: SealUsage) -> dict[str, Any]:
    return {
        "id": usage.id,
        "used_at": usage.used_at,
        "used_by": usage.used_by_id,
        "used_by_email": usage.used_by.email if usage.used_by is not None else None,
        "automatic": usage.automatic,
        "envelope_id": usage.envelope_id,
        "envelope_title": usage.envelope_title,
        "party_id": usage.party_id,
        "grant_id": usage.grant_id,
        "approval_id": usage.approval_id,
        "document_sha256": usage.document_sha256,
        "certificate_serial": usage.certificate_serial,
        "cross_page": usage.cross_page,
    }


def _page(rows: QuerySet[Any], kind: str, field: str, page: Any) -> tuple[list[Any], str | None]:
    """Keyset pages over ``rows`` ordered newest first by (``field``, id)."""
    rows = rows.order_by(f"-{field}", "-id")
    if page.cursor:
        moment, last_id = decode_cursor(kind, page.cursor, 2)
        try:
            at = datetime.fromisoformat(str(moment))
            last = UUID(str(last_id))
        except ValueError:
            raise InvalidCursor("the cursor is not valid; use the next_cursor of a previous page") from None
        rows = rows.filter(Q(**{f"{field}__lt": at}) | Q(**{field: at, "id__lt": last}))
    found = list(rows[: page.limit + 1])
    more = len(found) > page.limit
    found = found[: page.limit]
    cursor = encode_cursor(kind, [getattr(found[-1], field).isoformat(), str(found[-1].pk)]) if more else None
    return found, cursor


# --- seals ----------------------------------------------------------------------------------------


@router.post(
    "/organizations/{org_id}/seals", response=responses({201: SealCreated}, 400, 401, 403, 404, 409, 422, 503)
)
def create_seal(request: HttpRequest, org_id: UUID, payload: SealIn) -> Status:
    """A generated seal (vector drawing) with its own organisation certificate. 409
    ``organization_unverified`` for an organisation that is not verified; 403 unless the caller is
    its owner, an admin or a seal keeper."""
    org = organization_for_member(request.user, org_id)
    seal = services.create_seal(
        org,
        _user(request),
        name=payload.name,
        seal_type=payload.type,
        shape=payload.shape,
        code=payload.code,
        type_text=payload.type_text,
        context=_context(request),
    )
    return Status(
        201,
        {
            "id": seal.id,
            "status": seal.status,
            "certificate_serial": seal.certificate.serial_number,
            "image_url": IMAGE_PATH.format(id=seal.id),
        },
    )


@router.post(
    "/organizations/{org_id}/seals/upload",
    response=responses({201: SealCreated}, 400, 401, 403, 404, 409, 413, 415, 422, 503),
)
def upload_seal(
    request: HttpRequest, org_id: UUID, scan: File[UploadedFile], details: Form[SealUploadIn]
) -> Status:
    """A seal from a scan of the real one (PNG or JPEG): its red ink is kept, on transparency."""
    org = organization_for_member(request.user, org_id)
    limit = int(getattr(settings, "ECONTRACT_IDENTITY_IMAGE_MAX_BYTES", 10 * 1024 * 1024))
    data = scan.read(limit + 1)
    if len(data) > limit:
        raise InvalidSeal(f"the scan is larger than {limit} bytes")
    seal = services.create_seal(
        org,
        _user(request),
        name=details.name,
        seal_type=details.type,
        shape=details.shape,
        scan=data,
        context=_context(request),
    )
    return Status(
        201,
        {
            "id": seal.id,
            "status": seal.status,
            "certificate_serial": seal.certificate.serial_number,
            "image_url": IMAGE_PATH.format(id=seal.id),
        },
    )


@router.get("/organizations/{org_id}/seals", response=responses({200: SealPage}, 400, 401, 404, 422))
def list_seals(request: HttpRequest, org_id: UUID, page: PageQuery) -> dict[str, Any]:
    """The organisation's seals, newest first, for any of its members."""
    org = organization_for_member(request.user, org_id)
    rows, cursor = _page(services.seals_of(org, _user(request)), "seals", "created_at", page)
    return {"items": [_seal_out(seal) for seal in rows], "next_cursor": cursor}


@router.get("/seals/{seal_id}", response=responses({200: SealOut}, 401, 404, 422))
def get_seal(request: HttpRequest, seal_id: UUID) -> dict[str, Any]:
    return _seal_out(_seal(request, seal_id))


@router.get(
    "/seals/{seal_id}/image",
    response=responses({}, 401, 404, 422),
    openapi_extra={
        "responses": {
            200: {
                "description": "The seal's picture: an RGBA PNG, transparent where there is no ink",
                "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def get_seal_image(request: HttpRequest, seal_id: UUID) -> HttpResponse:
    seal = _seal(request, seal_id)
    response = HttpResponse(bytes(seal.image_png), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _change(
    request: HttpRequest, seal_id: UUID, verb: Any, payload: StatusChangeIn | None, **extra: Any
) -> dict[str, Any]:
    seal = _seal(request, seal_id)
    reason = payload.reason if payload is not None else ""
    changed = verb(seal, _user(request), reason=reason, context=_context(request), **extra)
    return _seal_out(changed)


@router.post("/seals/{seal_id}/suspend", response=responses({200: SealOut}, 400, 401, 403, 404, 409, 422))
def suspend_seal(
    request: HttpRequest, seal_id: UUID, payload: StatusChangeIn | None = None
) -> dict[str, Any]:
    """For a while: every use is refused (409 ``seal_not_active``) until resumed."""
    return _change(request, seal_id, services.suspend, payload)


@router.post("/seals/{seal_id}/resume", response=responses({200: SealOut}, 400, 401, 403, 404, 409, 422))
def resume_seal(request: HttpRequest, seal_id: UUID, payload: StatusChangeIn | None = None) -> dict[str, Any]:
    """A suspended seal only; a revoked or retired one stays so."""
    return _change(request, seal_id, services.resume, payload)


@router.post("/seals/{seal_id}/revoke", response=responses({200: SealOut}, 400, 401, 403, 404, 409, 422))
def revoke_seal(request: HttpRequest, seal_id: UUID, payload: SealRevokeIn | None = None) -> dict[str, Any]:
    """For good: its certificate is revoked at once, and every grant. Signatures made before stay valid."""
    compromised = payload.key_compromise if payload is not None else False
    return _change(request, seal_id, services.revoke, payload, key_compromise=compromised)


@router.post("/seals/{seal_id}/retire", response=responses({200: SealOut}, 400, 401, 403, 404, 409, 422))
def retire_seal(request: HttpRequest, seal_id: UUID, payload: StatusChangeIn | None = None) -> dict[str, Any]:
    """Out of use for good (replaced, no longer needed): its certificate is revoked as superseded."""
    return _change(request, seal_id, services.retire, payload)


@router.post("/seals/{seal_id}/renew", response=responses({200: SealOut}, 400, 401, 403, 404, 409, 422))
def renew_seal(request: HttpRequest, seal_id: UUID, payload: StatusChangeIn | None = None) -> dict[str, Any]:
    """A new certificate for the same key, naming the organisation as verified now (a new
    ``certificate_serial``); the old one is revoked as superseded. Active or suspended seals only
    (409 ``seal_not_active``), of a still verified organisation (409 ``organization_unverified``)."""
    return _change(request, seal_id, services.renew_certificate, payload)


# --- grants ---------------------------------------------------------------------------------------


def _grantee(seal: Seal, payload: GrantIn) -> tuple[User | None, Department | None]:
    named = sum((payload.user_email is not None, payload.department_id is not None, payload.automatic))
    if named != 1:
        raise InvalidGrant("name one of user_email, department_id, or automatic: true")
    if payload.user_email is not None:
        membership = (
            Membership.objects.filter(
                organization_id=seal.organization_id, user__email__iexact=payload.user_email
            )
            .select_related("user")
            .first()
        )
        if membership is None:
            raise InvalidGrant("no member of the organisation has this email address")
        return membership.user, None
    if payload.department_id is not None:
        department = Department.objects.filter(
            organization_id=seal.organization_id, pk=payload.department_id
        ).first()
        if department is None:
            raise InvalidGrant("the organisation has no such department")
        return None, department
    return None, None


@router.post("/seals/{seal_id}/grants", response=responses({201: GrantOut}, 400, 401, 403, 404, 409, 422))
def create_grant(request: HttpRequest, seal_id: UUID, payload: GrantIn) -> Status:
    """Use of the seal for a member (``user_email``), a department's members (``department_id``),
    or unattended API signing (``automatic``). 409 ``seal_rights_separated`` for oneself."""
    seal = _seal(request, seal_id)
    user, department = _grantee(seal, payload)
    grant = services.grant_use(
        seal,
        _user(request),
        user=user,
        department=department,
        automatic=payload.automatic,
        valid_from=payload.valid_from,
        valid_until=payload.valid_until,
        scope=payload.scope.model_dump(exclude_none=True) if payload.scope is not None else {},
        requires_approval=payload.requires_approval,
        note=payload.note,
        context=_context(request),
    )
    return Status(201, _grant_out(grant))


@router.get("/seals/{seal_id}/grants", response=responses({200: GrantPage}, 400, 401, 404, 422))
def list_grants(request: HttpRequest, seal_id: UUID, page: PageQuery) -> dict[str, Any]:
    """Managers and auditors see every grant; any other member the ones naming her or her department."""
    seal = _seal(request, seal_id)
    rows, cursor = _page(services.grants_of(seal, _user(request)), "grants", "created_at", page)
    return {"items": [_grant_out(grant) for grant in rows], "next_cursor": cursor}


@router.delete(
    "/seals/{seal_id}/grants/{grant_id}", response=responses({200: GrantOut}, 400, 401, 403, 404, 422)
)
def revoke_grant(
    request: HttpRequest, seal_id: UUID, grant_id: UUID, query: Query[RevokeGrantQuery]
) -> dict[str, Any]:
    """Revoked at once and for good; approvals waiting under it are withdrawn."""
    seal = _seal(request, seal_id)
    try:
        grant = services.grant_of(seal, grant_id)
    except SealGrant.DoesNotExist:
        raise Http404("no such grant") from None
    revoked = services.revoke_grant(grant, _user(request), reason=query.reason, context=_context(request))
    return _grant_out(revoked)


# --- approvals ------------------------------------------------------------------------------------


@router.get("/seals/{seal_id}/approval-requests", response=responses({200: ApprovalPage}, 400, 401, 404, 422))
def list_approval_requests(
    request: HttpRequest, seal_id: UUID, filters: Query[ApprovalFilter], page: PageQuery
) -> dict[str, Any]:
    """Managers and auditors see every request on the seal; any other member her own."""
    seal = _seal(request, seal_id)
    requests = services.approvals_of(seal, _user(request), status=filters.status)
    rows, cursor = _page(requests, "approvals", "created_at", page)
    return {"items": [approval_out(approval) for approval in rows], "next_cursor": cursor}


def _approval(request: HttpRequest, approval_id: UUID) -> ApprovalRequest:
    try:
        return approval_visible_to(_user(request), approval_id)
    except ApprovalRequest.DoesNotExist:
        raise Http404("no such approval request") from None


def _decide(request: HttpRequest, approval_id: UUID, *, approve: bool, reason: str) -> dict[str, Any]:
    approval = _approval(request, approval_id)
    decided = services.decide_approval(
        approval, _user(request), approve=approve, reason=reason, context=_context(request)
    )
    return approval_out(decided)


@router.post(
    "/approval-requests/{approval_id}/approve",
    response=responses({200: ApprovalOut}, 400, 401, 403, 404, 409, 422),
)
def approve(request: HttpRequest, approval_id: UUID, payload: ApproveIn | None = None) -> dict[str, Any]:
    """A seal manager approves one use, on this envelope and its original document; never her own."""
    return _decide(request, approval_id, approve=True, reason=payload.reason if payload else "")


@router.post(
    "/approval-requests/{approval_id}/reject",
    response=responses({200: ApprovalOut}, 400, 401, 403, 404, 409, 422),
)
def reject(request: HttpRequest, approval_id: UUID, payload: ApprovalRejectIn) -> dict[str, Any]:
    """A seal manager refuses, saying why (the requester reads the reason)."""
    return _decide(request, approval_id, approve=False, reason=payload.reason)


# --- usage log ------------------------------------------------------------------------------------


@router.get(
    "/seals/{seal_id}/usage",
    response=responses({200: UsagePage}, 400, 401, 403, 404, 422),
    openapi_extra={
        "responses": {
            200: {
                "description": "The uses, newest first; with format=csv a CSV file (UTF-8 with BOM)",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/UsagePage"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def seal_usage(request: HttpRequest, seal_id: UUID, filters: Query[UsageFilter], page: PageQuery) -> Any:
    """Who used the seal, when, on which envelope, under which grant and approval: for the
    organisation's legal staff and auditors only (403 otherwise)."""
    seal = _seal(request, seal_id)
    rows = services.usage_for(
        seal,
        _user(request),
        since=filters.since,
        until=filters.until,
        user_id=filters.user_id,
        envelope_id=filters.envelope_id,
    )
    if filters.format == "csv":
        response = HttpResponse(usage_csv(rows[:MAX_CSV_ROWS]), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="seal-{seal.id}-usage.csv"'
        return response
    found, cursor = _page(rows, "usage", "used_at", page)
    return {"items": [_usage_out(usage) for usage in found], "next_cursor": cursor}

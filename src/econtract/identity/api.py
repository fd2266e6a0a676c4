"""The caller's own identity verifications: start one, confirm it by SMS code, list them, revoke one.

Thin: identity.verification holds the verbs; errors are mapped to HTTP once, in api/urls.py. Every
read goes through ``_own`` (the caller's rows only), so another person's verification id is a 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.db.models import Q
from django.http import Http404, HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from econtract.api.openapi import responses
from econtract.api.pagination import InvalidCursor, PageQuery, decode_cursor, encode_cursor
from econtract.evidence.services import RequestContext
from econtract.identity import assurance, verification
from econtract.identity.errors import UnsupportedMethod
from econtract.identity.idnumbers import IdType
from econtract.identity.models import IdentityVerification
from econtract.textinput import MultiLineText, SingleLineText

router = Router(tags=["identity"])

# The methods that need pictures (manual review, face check) are started as multipart, at
# IMAGE_UPLOAD_PATH with the method's name (identity.review_api).
IMAGE_UPLOAD_PATH = "/api/v1/me/identity-verifications/{method}"
IMAGE_METHODS = frozenset({IdentityVerification.Method.MANUAL, IdentityVerification.Method.FACE})


class VerificationIn(Schema):
    method: Literal["id_2el", "id_3el", "bank_4el", "face", "manual"] = Field(
        description="`id_2el` name + number (answered at once); `id_3el` + phone and `bank_4el` + phone "
        "and bank card (answered `pending`: confirm with the SMS code); `face` and `manual` need images, "
        "sent as multipart to `/api/v1/me/identity-verifications/face` or `…/manual`"
    )
    name: SingleLineText = Field(min_length=1, max_length=200, description="as written on the document")
    id_type: IdType
    id_number: SingleLineText = Field(min_length=1, max_length=64)
    phone: SingleLineText | None = Field(None, max_length=40, description="for id_3el and bank_4el")
    bank_card: SingleLineText | None = Field(None, max_length=32, description="for bank_4el")
    purpose: Literal["identity", "pin_reset"] = Field(
        "identity",
        description="`pin_reset`: verify again the identity of your signing key, at its level or higher, "
        "to reset a forgotten PIN (the key and certificate are revoked; the next PIN makes a new key)",
    )


class ConfirmIn(Schema):
    otp: str = Field(max_length=32, description="the 6-digit code sent by SMS")


class RevokeIn(Schema):
    reason: MultiLineText = Field(default="", max_length=2000)


class VerificationOut(Schema):
    id: UUID
    method: str
    status: str = Field(description="pending, verified, rejected or revoked")
    assurance_level: str = Field(description="the level this verification establishes once verified")
    account_assurance_level: str = Field(description="the caller's level now")
    reason: str = Field(description="why it was rejected or revoked")
    outcome: str = Field(description="the provider's answer: match, mismatch, not_found, unavailable")
    sandbox: bool = Field(description="checked against the sandbox's test identities, not a real register")
    name: str
    id_type: str
    id_number_masked: str
    phone_masked: str
    created_at: datetime
    verified_at: datetime | None = None
    revoked_at: datetime | None = None


class VerificationPage(Schema):
    items: list[VerificationOut]
    next_cursor: str | None = None


def _user(request: HttpRequest) -> Any:
    return request.user


def _own(request: HttpRequest, verification_id: UUID) -> IdentityVerification:
    found = verification.verifications_of(_user(request)).filter(pk=verification_id).first()
    if found is None:
        raise Http404
    return found


def verification_out(row: IdentityVerification, account_level: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "method": row.method,
        "status": row.status,
        "assurance_level": row.assurance_level,
        "account_assurance_level": account_level,
        "reason": row.reason,
        "outcome": row.outcome,
        "sandbox": row.sandbox,
        "name": row.name,
        "id_type": row.id_type,
        "id_number_masked": row.id_number_masked,
        "phone_masked": row.phone_masked,
        "created_at": row.created_at,
        "verified_at": row.verified_at,
        "revoked_at": row.revoked_at,
    }


def _answer(request: HttpRequest, row: IdentityVerification) -> dict[str, Any]:
    user = _user(request)
    user.refresh_from_db(fields=["assurance_level"])
    return verification_out(row, assurance.level_of(user))


@router.post(
    "/me/identity-verifications",
    response=responses({201: VerificationOut}, 400, 401, 409, 422, 429, 503),
)
def start(request: HttpRequest, payload: VerificationIn) -> Status[dict[str, Any]]:
    """Verify the caller's identity: `id_2el` answers verified or rejected, the phone methods pending.

    A malformed document number answers 400 `invalid_id_number` without asking the provider.
    """
    if payload.method in IMAGE_METHODS:
        raise UnsupportedMethod(
            f"the {payload.method} method needs images: POST them as multipart/form-data to "
            + IMAGE_UPLOAD_PATH.format(method=payload.method)
        )
    row = verification.start_verification(
        _user(request),
        method=payload.method,
        name=payload.name,
        id_type=payload.id_type,
        id_number=payload.id_number,
        phone=payload.phone or None,
        bank_card=payload.bank_card or None,
        purpose=payload.purpose,
        context=RequestContext.from_request(request),
        client=request,
    )
    return Status(201, _answer(request, row))


@router.post(
    "/me/identity-verifications/{verification_id}/confirm",
    response=responses({200: VerificationOut}, 400, 401, 404, 409, 422, 429, 503),
)
def confirm(request: HttpRequest, verification_id: UUID, payload: ConfirmIn) -> dict[str, Any]:
    """Finish a pending `id_3el` / `bank_4el` verification with the SMS code; 5 wrong codes end it."""
    row = verification.confirm_verification(
        _own(request, verification_id), payload.otp, context=RequestContext.from_request(request)
    )
    return _answer(request, row)


@router.get("/me/identity-verifications", response=responses({200: VerificationPage}, 400, 401, 422))
def list_verifications(request: HttpRequest, page: PageQuery) -> dict[str, Any]:
    """The caller's verifications, every attempt kept, newest first (keyset on created_at, id)."""
    query = verification.verifications_of(_user(request)).order_by("-created_at", "-id")
    if page.cursor:
        created, row_id = _cursor(page.cursor)
        query = query.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=row_id))
    rows = list(query[: page.limit + 1])
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    level = assurance.level_of(_user(request))
    next_cursor = (
        encode_cursor("identity-verifications", [rows[-1].created_at.isoformat(), rows[-1].id.hex])
        if more
        else None
    )
    return {"items": [verification_out(row, level) for row in rows], "next_cursor": next_cursor}


@router.get(
    "/me/identity-verifications/{verification_id}",
    response=responses({200: VerificationOut}, 401, 404),
)
def get_verification(request: HttpRequest, verification_id: UUID) -> dict[str, Any]:
    return _answer(request, _own(request, verification_id))


@router.post(
    "/me/identity-verifications/{verification_id}/revoke",
    response=responses({200: VerificationOut}, 400, 401, 404, 409, 422),
)
def revoke(request: HttpRequest, verification_id: UUID, payload: RevokeIn) -> dict[str, Any]:
    """Withdraw one's own verification. Below the platform's minimum level, the signing certificate
    is revoked with it; the record stays (status `revoked`)."""
    row = verification.revoke_verification(
        _own(request, verification_id),
        reason=payload.reason or "withdrawn by the holder",
        context=RequestContext.from_request(request),
    )
    return _answer(request, row)


def _cursor(cursor: str) -> tuple[datetime, UUID]:
    created, row_id = decode_cursor("identity-verifications", cursor, 2)
    try:
        parsed = datetime.fromisoformat(str(created))
        if parsed.tzinfo is None:
            raise ValueError("no offset")
        return parsed, UUID(str(row_id))
    except ValueError:
        raise InvalidCursor("the cursor is not valid; use the next_cursor of a previous page") from None

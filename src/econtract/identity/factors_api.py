"""/api/v1/me/factors: the account's second factors (TOTP app, passkeys) and recovery codes, thin over
identity.factors."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from econtract.api.openapi import responses
from econtract.evidence.services import RequestContext
from econtract.identity import factors, passkeys
from econtract.identity.errors import FactorMissing
from econtract.textinput import SingleLineText

router = Router(tags=["me"])


class FactorOut(Schema):
    id: str
    kind: str  # "totp" | "webauthn"
    name: str
    created_at: datetime
    last_used_at: datetime | None


class FactorListOut(Schema):
    items: list[FactorOut]
    next_cursor: str | None = None
    recovery_codes_left: int
    required: bool  # owners and admins must keep one


class TotpBeginIn(Schema):
    name: SingleLineText = ""


class TotpBeginOut(Schema):
    id: str
    secret: str  # base32, shown once
    otpauth_uri: str
    qr_svg_data_uri: str


class TotpConfirmIn(Schema):
    code: str = Field(max_length=64, description="the 6-digit code the app shows")
    id: UUID | None = Field(None, description="`id` of the begin call; omitted: the pending app")


class EnrolledOut(Schema):
    factor: FactorOut
    recovery_codes: list[str] | None  # only with the first factor (or after all were used); shown once


class RemoveIn(Schema):
    password: str | None = None
    code: str | None = None


class RecoveryCodesIn(Schema):
    password: str | None = Field(None, max_length=1024, description="the account's password")
    code: str | None = Field(
        None, max_length=64, description="a current code from the authenticator app (or a recovery code)"
    )


class RecoveryCodesOut(Schema):
    recovery_codes: list[str]  # shown this once: only their hashes are kept
    recovery_codes_left: int


class WebAuthnFinishIn(Schema):
    credential: dict[str, Any]
    name: SingleLineText = ""


def _factor(info: factors.FactorInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "kind": info.kind,
        "name": info.name,
        "created_at": info.created_at,
        "last_used_at": info.last_used_at,
    }


def _one(user: Any, factor_id: str) -> dict[str, Any]:
    return next(_factor(f) for f in factors.list_factors(user) if f.id == factor_id)


@router.get("/me/factors", response=responses({200: FactorListOut}, 401))
def list_factors(request: HttpRequest) -> dict[str, Any]:
    """The account's confirmed second factors and how many recovery codes are left."""
    user = request.user
    return {
        "items": [_factor(f) for f in factors.list_factors(user)],
        "next_cursor": None,
        "recovery_codes_left": factors.recovery_codes_left(user),
        "required": factors.factor_required(user),
    }


@router.post("/me/factors/totp", response=responses({201: TotpBeginOut}, 401, 409, 422))
def begin_totp(request: HttpRequest, payload: TotpBeginIn) -> Status:
    """Start setting up an authenticator app: the secret is shown this once; confirm with a first code."""
    enrolment = factors.begin_totp_enrolment(
        request.user, name=payload.name, context=RequestContext.from_request(request)
    )
    return Status(
        201,
        {
            "id": str(enrolment.device.pk),
            "secret": enrolment.secret,
            "otpauth_uri": enrolment.uri,
            "qr_svg_data_uri": enrolment.qr_data_uri(),
        },
    )


@router.post("/me/factors/totp/confirm", response=responses({200: EnrolledOut}, 400, 401, 409, 422, 429))
def confirm_totp(request: HttpRequest, payload: TotpConfirmIn) -> dict[str, Any]:
    """Confirm the app with the code it shows; the first factor comes with 10 recovery codes."""
    device, codes = factors.confirm_totp_enrolment(
        request.user,
        payload.code,
        device_id=str(payload.id) if payload.id else None,
        context=RequestContext.from_request(request),
    )
    return {"factor": _one(request.user, str(device.pk)), "recovery_codes": codes}


@router.post("/me/factors/webauthn/begin", response=responses({200: dict[str, Any]}, 401, 409))
def begin_webauthn(request: HttpRequest) -> dict[str, Any]:
    """PublicKeyCredentialCreationOptions (JSON, base64url) for navigator.credentials.create()."""
    return passkeys.begin_registration(request.user)


@router.post("/me/factors/webauthn/finish", response=responses({201: EnrolledOut}, 400, 401, 409, 422))
def finish_webauthn(request: HttpRequest, payload: WebAuthnFinishIn) -> Status:
    """The browser's PublicKeyCredential (JSON, base64url fields) answering the begin call's challenge."""
    credential, codes = passkeys.finish_registration(
        request.user, payload.credential, name=payload.name, context=RequestContext.from_request(request)
    )
    return Status(201, {"factor": _one(request.user, str(credential.pk)), "recovery_codes": codes})


@router.post(
    "/me/factors/recovery-codes", response=responses({201: RecoveryCodesOut}, 400, 401, 403, 409, 422, 429)
)
def renew_recovery_codes(request: HttpRequest, payload: RecoveryCodesIn) -> Status:
    """Ten new recovery codes replacing all the old ones, answered this once. Needs a second factor
    (409 ``factor_missing``) and a fresh proof in the body: the password (403 when wrong) or a current
    code (400 ``otp_invalid`` when wrong); wrong proofs count towards the lockout (429)."""
    user = request.user
    context = RequestContext.from_request(request)
    if not factors.has_any_factor(user):
        raise FactorMissing("recovery codes come with a second factor")
    factors.check_fresh_proof(user, code=payload.code, password=payload.password, context=context)
    codes = factors.generate_recovery_codes(user, context=context)
    return Status(201, {"recovery_codes": codes, "recovery_codes_left": len(codes)})


@router.delete("/me/factors/{factor_id}", response=responses({204: None}, 400, 401, 403, 404, 409, 422, 429))
def remove_factor(request: HttpRequest, factor_id: str, payload: RemoveIn) -> Status:
    """Remove a factor; needs the password or a current code (TOTP or recovery code) in the body."""
    factors.remove_factor(
        request.user,
        factor_id,
        code=payload.code,
        password=payload.password,
        context=RequestContext.from_request(request),
    )
    return Status(204, None)

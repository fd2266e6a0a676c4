from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from econtract.api.openapi import responses
from econtract.identity import assurance
from econtract.identity.assurance import summary as identity_summary
from econtract.identity.providers import identity_provider_is_sandbox
from econtract.pki import custody

router = Router(tags=["me"])


class IdentityOut(Schema):
    name: str
    id_type: str | None = Field(
        description="cn_resident, passport, …; null when the method names no document"
    )
    id_number_masked: str | None = Field(description="e.g. 110***********002X; never the whole number")
    method: str
    verified_at: datetime | None = None


class MeOut(Schema):
    id: str
    email: str
    full_name: str
    email_verified: bool
    has_signing_key: bool
    assurance_level: str = Field(description="L0 to L3 (docs/identity.md)")
    identity: IdentityOut | None = Field(description="the verified identity, or null")
    identity_provider_sandbox: bool = Field(
        description="identities are checked against the sandbox's test data, not a real register"
    )


class SigningPinIn(Schema):
    pin: str
    current_pin: str | None = None


class SigningPinOut(Schema):
    certificate_serial: str
    status: str


@router.get("/me", response=responses({200: MeOut}, 401))
def me(request: HttpRequest) -> dict:
    user = request.user
    return {
        "id": str(user.pk),
        "email": user.email,
        "full_name": user.full_name,
        "email_verified": user.email_verified,
        "has_signing_key": hasattr(user, "signer_key"),
        "assurance_level": assurance.level_of(user),
        "identity": _identity(user),
        "identity_provider_sandbox": identity_provider_is_sandbox(),
    }


def _identity(user: object) -> dict | None:
    summary = identity_summary(user)
    if summary is None:
        return None
    return {key: summary.get(key) for key in ("name", "id_type", "id_number_masked", "method", "verified_at")}


@router.put(
    "/me/signing-pin", response=responses({200: SigningPinOut}, 400, 401, 403, 409, 422, 423, 429, 503)
)
def set_signing_pin(request: HttpRequest, payload: SigningPinIn) -> dict:
    """Set the signing PIN (first time: creates the signing key and certificate) or change it."""
    key = custody.set_signing_pin(request.user, payload.pin, current_pin=payload.current_pin)
    return {"certificate_serial": str(key.certificate.serial_number), "status": "ok"}

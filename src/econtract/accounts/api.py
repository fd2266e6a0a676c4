from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from econtract.api.openapi import responses
from econtract.pki import custody

router = Router(tags=["me"])


class MeOut(Schema):
    id: str
    email: str
    full_name: str
    email_verified: bool
    has_signing_key: bool


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
    }


@router.put(
    "/me/signing-pin", response=responses({200: SigningPinOut}, 400, 401, 403, 409, 422, 423, 429, 503)
)
def set_signing_pin(request: HttpRequest, payload: SigningPinIn) -> dict:
    """Set the signing PIN (first time: creates the signing key and certificate) or change it."""
    key = custody.set_signing_pin(request.user, payload.pin, current_pin=payload.current_pin)
    return {"certificate_serial": str(key.certificate.serial_number), "status": "ok"}

"""WebAuthn ceremonies (py_webauthn): registering a passkey and asserting with it.

The relying-party id is the host of ECONTRACT_BASE_URL (or ECONTRACT_WEBAUTHN_RP_ID); browsers refuse
an IP address as RP id (WebAuthn §5.1.3 takes a valid domain), so passkeys are refused plainly there
instead of failing in the browser. Challenges are kept server-side, bound to the account, the
ceremony, a purpose and a subject, answered once within 5 minutes. User verification is required,
and the signature counter must grow (a clone of the authenticator shows as a counter that does not).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from econtract.evidence.services import RequestContext
from econtract.identity.errors import FactorMissing, WebAuthnFailed, WebAuthnUnavailable
from econtract.identity.factor_models import WebAuthnChallenge, WebAuthnCredential
from econtract.identity.factors import ensure_recovery_codes, record_factor_event

CHALLENGE_LIFETIME = timedelta(minutes=5)
TIMEOUT_MS = 5 * 60 * 1000
RP_NAME = "econtract"
REGISTRATION_PURPOSE = "enrol"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_rp_id(rp_id: str) -> str:
    """``rp_id`` if it can serve as a WebAuthn relying-party id, else WebAuthnUnavailable."""
    host = (rp_id or "").strip().strip("[]").rstrip(".").lower()
    if not host:
        raise WebAuthnUnavailable("passkeys need a host name in ECONTRACT_BASE_URL")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    raise WebAuthnUnavailable(
        f"passkeys cannot be used at the IP address {host}: WebAuthn needs a domain name as relying-party "
        "id; set ECONTRACT_BASE_URL to a host name (localhost for a local trial)"
    )


def configured_rp_id() -> str:
    return getattr(settings, "ECONTRACT_WEBAUTHN_RP_ID", "") or urlsplit(settings.BASE_URL).hostname or ""


def rp_id() -> str:
    return check_rp_id(configured_rp_id())


def available() -> bool:
    try:
        rp_id()
    except WebAuthnUnavailable:
        return False
    return True


def expected_origin() -> str:
    parts = urlsplit(settings.BASE_URL)
    return f"{parts.scheme}://{parts.netloc}"


def _issue_challenge(user: Any, ceremony: str, purpose: str, subject: str) -> bytes:
    challenge = secrets.token_bytes(32)
    WebAuthnChallenge.objects.create(
        user=user,
        ceremony=ceremony,
        purpose=purpose,
        subject=subject,
        challenge=b64url(challenge),
        expires_at=timezone.now() + CHALLENGE_LIFETIME,
    )
    return challenge


def _client_challenge(credential: dict[str, Any]) -> str:
    try:
        client_data = json.loads(b64url_decode(credential["response"]["clientDataJSON"]))
        challenge = client_data["challenge"]
    except (KeyError, TypeError, ValueError) as exc:
        raise WebAuthnFailed("the browser's answer is not a WebAuthn credential") from exc
    if not isinstance(challenge, str):
        raise WebAuthnFailed("the browser's answer is not a WebAuthn credential")
    return challenge


def _take_challenge(
    user: Any, ceremony: str, purpose: str, subject: str, credential: dict[str, Any]
) -> bytes:
    """Spend the challenge the browser answered: it must be ours, live, unused and for this purpose."""
    challenge = _client_challenge(credential)
    spent = WebAuthnChallenge.objects.filter(
        user=user,
        ceremony=ceremony,
        purpose=purpose,
        subject=subject,
        challenge=challenge,
        used_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).update(used_at=timezone.now())
    if not spent:
        raise WebAuthnFailed("the challenge is unknown, expired or already answered; try again")
    return b64url_decode(challenge)


def _descriptors(user: Any) -> list[PublicKeyCredentialDescriptor]:
    descriptors = []
    for credential in WebAuthnCredential.objects.filter(user=user).order_by("created_at"):
        transports = []
        for name in credential.transports or []:
            try:
                transports.append(AuthenticatorTransport(name))
            except ValueError:
                continue
        descriptors.append(
            PublicKeyCredentialDescriptor(
                id=b64url_decode(credential.credential_id), transports=transports or None
            )
        )
    return descriptors


def begin_registration(user: Any) -> dict[str, Any]:
    """PublicKeyCredentialCreationOptions (JSON) for a new passkey of ``user``."""
    rp = rp_id()
    options = generate_registration_options(
        rp_id=rp,
        rp_name=RP_NAME,
        user_name=user.email,
        user_id=user.pk.bytes,
        user_display_name=user.full_name or user.email,
        challenge=_issue_challenge(
            user, WebAuthnChallenge.Ceremony.REGISTER, REGISTRATION_PURPOSE, str(user.pk)
        ),
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(user),
    )
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def finish_registration(
    user: Any, credential: dict[str, Any], *, name: str = "", context: RequestContext | None = None
) -> tuple[WebAuthnCredential, list[str] | None]:
    """Verify the browser's attestation and keep the passkey; returns it and new recovery codes (if any)."""
    rp = rp_id()
    expected = _take_challenge(
        user, WebAuthnChallenge.Ceremony.REGISTER, REGISTRATION_PURPOSE, str(user.pk), credential
    )
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=expected,
            expected_rp_id=rp,
            expected_origin=expected_origin(),
            require_user_verification=True,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
        record_factor_event(
            "second_factor_failed", user, context, factor="webauthn", purpose="enrol", reason=str(exc)[:200]
        )
        raise WebAuthnFailed(f"the passkey could not be registered: {exc}") from exc
    transports = (credential.get("response") or {}).get("transports") or []
    try:
        with transaction.atomic():
            stored = WebAuthnCredential.objects.create(
                user=user,
                name=name or "Passkey",
                credential_id=b64url(verified.credential_id),
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                rp_id=rp,
                transports=[str(t) for t in transports if isinstance(t, str)][:8],
                aaguid=str(verified.aaguid or ""),
                backed_up=bool(getattr(verified, "credential_backed_up", False)),
            )
    except IntegrityError as exc:
        raise WebAuthnFailed("this passkey is already registered") from exc
    record_factor_event("second_factor_enrolled", user, context, factor="webauthn", factor_id=str(stored.id))
    return stored, ensure_recovery_codes(user, context=context)


def begin_assertion(user: Any, *, purpose: str, subject: str) -> dict[str, Any]:
    """PublicKeyCredentialRequestOptions (JSON) allowing the account's passkeys only."""
    rp = rp_id()
    descriptors = _descriptors(user)
    if not descriptors:
        raise FactorMissing("no passkey is registered for this account")
    options = generate_authentication_options(
        rp_id=rp,
        challenge=_issue_challenge(user, WebAuthnChallenge.Ceremony.AUTHENTICATE, purpose, subject),
        timeout=TIMEOUT_MS,
        allow_credentials=descriptors,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def finish_assertion(
    user: Any,
    credential: dict[str, Any],
    *,
    purpose: str,
    subject: str,
    context: RequestContext | None = None,
) -> WebAuthnCredential:
    """Verify the assertion against the stored key and counter; raises WebAuthnFailed."""
    rp = rp_id()
    if not isinstance(credential, dict):
        raise WebAuthnFailed("the browser's answer is not a WebAuthn credential")
    expected = _take_challenge(user, WebAuthnChallenge.Ceremony.AUTHENTICATE, purpose, subject, credential)
    raw_id = credential.get("rawId") or credential.get("id")
    with transaction.atomic():
        stored = (
            WebAuthnCredential.objects.select_for_update()
            .filter(user=user, credential_id=raw_id if isinstance(raw_id, str) else "")
            .first()
        )
        if stored is None:
            failure: Exception | None = WebAuthnFailed("this passkey is not registered for this account")
        else:
            try:
                verified = verify_authentication_response(
                    credential=credential,
                    expected_challenge=expected,
                    expected_rp_id=rp,
                    expected_origin=expected_origin(),
                    credential_public_key=bytes(stored.public_key),
                    credential_current_sign_count=stored.sign_count,
                    require_user_verification=True,
                )
            except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
                failure = WebAuthnFailed(f"the passkey's answer did not verify: {exc}")
            else:
                failure = None
                stored.sign_count = verified.new_sign_count
                stored.last_used_at = timezone.now()
                stored.backed_up = verified.credential_backed_up
                stored.save(update_fields=["sign_count", "last_used_at", "backed_up"])
    factor_id = str(stored.id) if stored is not None else ""
    if failure is not None:
        record_factor_event(
            "second_factor_failed",
            user,
            context,
            factor="webauthn",
            factor_id=factor_id,
            purpose=purpose,
            reason=str(failure)[:200],
        )
        raise failure
    assert stored is not None
    record_factor_event(
        "second_factor_used", user, context, factor="webauthn", factor_id=factor_id, purpose=purpose
    )
    return stored

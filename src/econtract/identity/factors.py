"""Second factors: an authenticator app (TOTP, RFC 6238), passkeys (WebAuthn) and recovery codes.

The same factors serve MFA at login and the willingness check at signing. Wrong codes (TOTP and
recovery codes together) are counted per account and committed: 5 in a row lock codes for 15
minutes. A TOTP code is accepted once only: its time step must be newer than the last one used.
Every step is recorded as an evidence event on the user (kinds ``second_factor_*``).

Call the checks outside any transaction that may roll back: a failed try must stay counted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from econtract.evidence.services import RequestContext, record_event
from econtract.identity.errors import (
    FactorAlreadyEnrolled,
    FactorMissing,
    FactorNotFound,
    FactorRequired,
    OtpInvalid,
    OtpRateLimited,
    ReauthenticationRequired,
)
from econtract.identity.factor_models import (
    FactorLockout,
    RecoveryCode,
    TotpDevice,
    WebAuthnCredential,
)
from econtract.identity.vault import seal_text, unseal_text
from econtract.ratelimit import seconds_until

KINDS = ("totp", "webauthn")
TOTP_PURPOSE = "identity.totp"  # vault associated data of the sealed secret
TOTP_ISSUER = "econtract"
TOTP_DIGITS = 6
TOTP_PERIOD = 30
# Codes of the previous and the next 30 s step are accepted too (clock drift of the phone).
TOTP_DRIFT_STEPS = 1
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper
DEFAULT_REQUIRED_ROLES = "owner,admin"


# --- who must have a factor --------------------------------------------------------------------


def required_roles() -> set[str]:
    configured = getattr(settings, "ECONTRACT_MFA_REQUIRED_ROLES", DEFAULT_REQUIRED_ROLES)
    if isinstance(configured, str):
        configured = configured.split(",")
    return {role.strip() for role in configured if role.strip()}


def factor_required(user: Any) -> bool:
    """Owners and admins of an enterprise, and platform staff, must have a second factor (DESIGN.md §6).

    Everyone owns her personal organisation, so the personal one does not count.
    """
    from econtract.accounts.models import Membership, Organization

    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or user.is_superuser:  # platform operators (Django admin, review queues)
        return True
    roles = required_roles()
    if not roles:
        return False
    memberships = Membership.objects.filter(user=user, role__in=roles)
    return memberships.exclude(organization__kind=Organization.Kind.PERSONAL).exists()


def has_factor(user: Any, kind: str) -> bool:
    """Whether the account has a confirmed factor of ``kind`` ("totp" or "webauthn")."""
    if kind == "totp":
        return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
    if kind == "webauthn":
        return WebAuthnCredential.objects.filter(user=user).exists()
    raise ValueError(f"unknown factor kind {kind!r}")


def has_any_factor(user: Any) -> bool:
    return any(has_factor(user, kind) for kind in KINDS)


@dataclass(frozen=True)
class FactorInfo:
    id: str
    kind: str
    name: str
    created_at: datetime
    last_used_at: datetime | None


def list_factors(user: Any) -> list[FactorInfo]:
    items = [
        FactorInfo(str(d.id), "totp", d.name, d.created_at, d.last_used_at)
        for d in TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).order_by("created_at")
    ]
    items += [
        FactorInfo(str(c.id), "webauthn", c.name, c.created_at, c.last_used_at)
        for c in WebAuthnCredential.objects.filter(user=user).order_by("created_at")
    ]
    return items


def _context(user: Any, context: RequestContext | None) -> RequestContext:
    return context if context is not None else RequestContext(actor=user)


def record_factor_event(kind: str, user: Any, context: RequestContext | None, **payload: Any) -> None:
    record_event(kind, user, _context(user, context), payload=payload)


# --- counted wrong tries ------------------------------------------------------------------------


def _locked_row(user: Any) -> FactorLockout:
    """The account's counter, row-locked until the caller's transaction ends."""
    FactorLockout.objects.bulk_create([FactorLockout(user=user)], ignore_conflicts=True)
    return FactorLockout.objects.select_for_update().get(user=user)


def _refuse_if_locked(lock: FactorLockout, now: datetime) -> None:
    if lock.locked_until is not None and lock.locked_until > now:
        raise OtpRateLimited(
            "too many wrong codes; try again later", retry_after=seconds_until(lock.locked_until)
        )
    if lock.locked_until is not None:  # the lock has run out: a fresh count
        lock.locked_until = None
        lock.failures = 0
        lock.save(update_fields=["failures", "locked_until"])


def _count_failure(lock: FactorLockout, now: datetime, message: str) -> OtpInvalid:
    lock.failures += 1
    if lock.failures >= MAX_FAILURES:  # the fifth wrong try locks; the next ones are refused unread
        lock.locked_until = now + LOCKOUT
    lock.save(update_fields=["failures", "locked_until"])
    return OtpInvalid(message, remaining_attempts=max(0, MAX_FAILURES - lock.failures))


def _count_success(lock: FactorLockout) -> None:
    if lock.failures or lock.locked_until:
        lock.failures = 0
        lock.locked_until = None
        lock.save(update_fields=["failures", "locked_until"])


# --- TOTP ---------------------------------------------------------------------------------------


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step ``code`` is valid for around ``now``, or None."""
    candidate = (code or "").strip().replace(" ", "")
    if not (candidate.isdigit() and len(candidate) == TOTP_DIGITS):
        return None
    totp = _totp(secret)
    current = int(now.timestamp()) // TOTP_PERIOD
    found = None
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        # compare every candidate step: the time taken does not say which one matched
        if hmac.compare_digest(totp.at(step * TOTP_PERIOD), candidate):
            found = step
    return found


@dataclass(frozen=True)
class TotpEnrolment:
    """What the person copies into her app, shown once: the base32 secret and the otpauth:// URI."""

    device: TotpDevice
    secret: str
    uri: str

    def qr_data_uri(self) -> str:
        """The URI as a QR code, an SVG data: URI (the strict CSP allows data: images, no inline code)."""
        import segno

        return str(segno.make(self.uri, error="m").svg_data_uri(scale=4, dark="#111", light="#fff"))


def begin_totp_enrolment(
    user: Any, *, name: str = "", context: RequestContext | None = None
) -> TotpEnrolment:
    """A new secret for an authenticator app; it counts once a first valid code confirms it."""
    if has_factor(user, "totp"):
        raise FactorAlreadyEnrolled("an authenticator app is already set up; remove it first")
    secret = pyotp.random_base32(length=32)  # 160 bits, RFC 4226's recommendation
    with transaction.atomic():
        TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).delete()
        device = TotpDevice.objects.create(
            user=user,
            name=name or "Authenticator app",
            secret_sealed=seal_text(secret, purpose=TOTP_PURPOSE),
        )
    uri = _totp(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)
    return TotpEnrolment(device, secret, uri)


def confirm_totp_enrolment(
    user: Any, code: str, *, device_id: str | None = None, context: RequestContext | None = None
) -> tuple[TotpDevice, list[str] | None]:
    """Confirm the pending app by its first code; returns the device and new recovery codes (if any)."""
    now = timezone.now()
    with transaction.atomic():
        lock = _locked_row(user)
        _refuse_if_locked(lock, now)
        pending = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=True)
        if device_id:  # an id that is no UUID names no device (and must not reach the query)
            pending = pending.filter(pk=device_id) if _is_uuid(device_id) else pending.none()
        device = pending.order_by("-created_at").first()
        if device is None:
            raise FactorMissing("no authenticator app is waiting for confirmation; start again")
        step = _matching_step(unseal_text(bytes(device.secret_sealed), purpose=TOTP_PURPOSE), code, now)
        if step is None:
            wrong: OtpInvalid | None = _count_failure(lock, now, "wrong code")
        else:
            wrong = None
            _count_success(lock)
            device.confirmed_at = now
            device.last_step = step
            device.last_used_at = now
            device.save(update_fields=["confirmed_at", "last_step", "last_used_at"])
    if wrong is not None:
        record_factor_event("second_factor_failed", user, context, factor="totp", purpose="enrol")
        raise wrong
    record_factor_event("second_factor_enrolled", user, context, factor="totp", factor_id=str(device.id))
    return device, ensure_recovery_codes(user, context=context)


def check_totp(user: Any, code: str, *, purpose: str = "", context: RequestContext | None = None) -> None:
    """Accept a code of the account's app once. Raises OtpInvalid, OtpRateLimited or FactorMissing."""
    now = timezone.now()
    with transaction.atomic():
        lock = _locked_row(user)
        _refuse_if_locked(lock, now)
        device = (
            TotpDevice.objects.select_for_update()
            .filter(user=user, confirmed_at__isnull=False)
            .order_by("created_at")
            .first()
        )
        if device is None:
            raise FactorMissing("no authenticator app is set up for this account")
        step = _matching_step(unseal_text(bytes(device.secret_sealed), purpose=TOTP_PURPOSE), code, now)
        wrong: OtpInvalid | None = None
        if step is None:
            wrong = _count_failure(lock, now, "wrong code")
        elif step <= device.last_step:
            # RFC 6238 §5.2: a code seen once is not accepted again, even within its 30 s
            wrong = _count_failure(lock, now, "this code was already used; wait for the next one")
        else:
            _count_success(lock)
            device.last_step = step
            device.last_used_at = now
            device.save(update_fields=["last_step", "last_used_at"])
    if wrong is not None:
        record_factor_event(
            "second_factor_failed", user, context, factor="totp", factor_id=str(device.id), purpose=purpose
        )
        raise wrong
    record_factor_event(
        "second_factor_used", user, context, factor="totp", factor_id=str(device.id), purpose=purpose
    )


# --- recovery codes -----------------------------------------------------------------------------


def _normalise_recovery(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(f"econtract-recovery:{_normalise_recovery(code)}".encode()).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    return len(_normalise_recovery(code)) == 10 and not _normalise_recovery(code).isdigit()


def generate_recovery_codes(user: Any, *, context: RequestContext | None = None) -> list[str]:
    """Ten new codes (about 49 bits each), replacing the old ones; shown once, stored as SHA-256."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            [RecoveryCode(user=user, code_hash=_recovery_hash(c)) for c in codes]
        )
    record_factor_event("recovery_codes_generated", user, context, count=len(codes))
    return codes


def ensure_recovery_codes(user: Any, *, context: RequestContext | None = None) -> list[str] | None:
    """New codes with the first factor; None when the account still has unused ones."""
    if RecoveryCode.objects.filter(user=user, used_at__isnull=True).exists():
        return None
    return generate_recovery_codes(user, context=context)


def recovery_codes_left(user: Any) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def use_recovery_code(
    user: Any, code: str, *, purpose: str = "login", context: RequestContext | None = None
) -> None:
    """Spend one recovery code in place of the factor. Wrong ones count like wrong TOTP codes."""
    now = timezone.now()
    with transaction.atomic():
        lock = _locked_row(user)
        _refuse_if_locked(lock, now)
        spent = RecoveryCode.objects.filter(
            user=user, code_hash=_recovery_hash(code), used_at__isnull=True
        ).update(used_at=now)
        wrong = None if spent else _count_failure(lock, now, "wrong or already used recovery code")
        if wrong is None:
            _count_success(lock)
    if wrong is not None:
        record_factor_event("second_factor_failed", user, context, factor="recovery_code", purpose=purpose)
        raise wrong
    record_factor_event(
        "second_factor_used",
        user,
        context,
        factor="recovery_code",
        purpose=purpose,
        left=recovery_codes_left(user),
    )


# --- proof for sensitive changes, removal -------------------------------------------------------


def check_fresh_proof(
    user: Any, *, code: str | None = None, password: str | None = None, context: RequestContext | None = None
) -> None:
    """Removing a factor or renewing recovery codes needs the password or a fresh code now."""
    if password:
        now = timezone.now()
        with transaction.atomic():
            lock = _locked_row(user)
            _refuse_if_locked(lock, now)
            wrong = None if user.check_password(password) else _count_failure(lock, now, "wrong password")
        if wrong is not None:
            record_factor_event(
                "second_factor_failed", user, context, factor="password", purpose="reauthenticate"
            )
            raise ReauthenticationRequired("the password is wrong") from wrong
        return
    if code:
        if looks_like_recovery_code(code):
            use_recovery_code(user, code, purpose="reauthenticate", context=context)
        else:
            check_totp(user, code, purpose="reauthenticate", context=context)
        return
    raise ReauthenticationRequired("enter your password or a code from your authenticator app")


def remove_factor(
    user: Any,
    factor_id: str,
    *,
    code: str | None = None,
    password: str | None = None,
    context: RequestContext | None = None,
) -> str:
    """Remove one of the account's factors after a fresh proof; returns its kind."""
    device = TotpDevice.objects.filter(user=user, pk=factor_id).first() if _is_uuid(factor_id) else None
    credential = (
        WebAuthnCredential.objects.filter(user=user, pk=factor_id).first() if _is_uuid(factor_id) else None
    )
    if device is None and credential is None:
        raise FactorNotFound("no such factor")
    check_fresh_proof(user, code=code, password=password, context=context)
    others = len([f for f in list_factors(user) if f.id != factor_id])
    if others == 0 and factor_required(user):
        raise FactorRequired("owners and admins must keep a second factor; add another one first")
    kind = "totp" if device is not None else "webauthn"
    with transaction.atomic():
        (device or credential).delete()  # type: ignore[union-attr]
        if others == 0:
            RecoveryCode.objects.filter(user=user).delete()
    record_factor_event("second_factor_removed", user, context, factor=kind, factor_id=factor_id)
    return kind


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


# --- passkeys: the API the signing willingness check calls (ceremonies in identity.passkeys) -----


def begin_webauthn_assertion(user: Any, *, purpose: str, subject: str) -> dict[str, Any]:
    """PublicKeyCredentialRequestOptions (JSON) for the account's passkeys, bound to purpose and subject."""
    from econtract.identity import passkeys

    return passkeys.begin_assertion(user, purpose=purpose, subject=subject)


def finish_webauthn_assertion(
    user: Any,
    credential: dict[str, Any],
    *,
    purpose: str,
    subject: str,
    context: RequestContext | None = None,
) -> None:
    """Verify the browser's answer; raises WebAuthnFailed, WebAuthnUnavailable or FactorMissing."""
    from econtract.identity import passkeys

    passkeys.finish_assertion(user, credential, purpose=purpose, subject=subject, context=context)

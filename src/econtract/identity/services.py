"""One-time codes for the willingness check and for proving an email address.

Codes are 6 digits, stored only as an HMAC, valid for 5 minutes, and dead after 5 wrong tries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from econtract.identity.errors import OtpExpired, OtpInvalid, OtpMissing, OtpRateLimited
from econtract.identity.models import OtpChallenge, OtpSubject
from econtract.notifications.phone import normalise_phone
from econtract.notifications.services import About, send_email
from econtract.notifications.sms import send_sms
from econtract.notifications.smslimits import check_sms_allowance
from econtract.ratelimit import seconds_until

OTP_LIFETIME = timedelta(minutes=5)
OTP_MAX_ATTEMPTS = 5
OTP_MIN_INTERVAL = timedelta(seconds=20)
OTP_MAX_PER_HOUR = 10


def _code_hash(challenge_id: str, code: str) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"{challenge_id}:{code}".encode(), hashlib.sha256
    ).hexdigest()


def _lock_subject(purpose: str, subject: str) -> None:
    """Hold the subject's row until the caller's transaction ends (the row is created on first use).

    PostgreSQL: a row lock, parallel issuers wait for each other. SQLite: the IMMEDIATE transaction
    already holds the database write lock.
    """
    OtpSubject.objects.bulk_create([OtpSubject(purpose=purpose, subject=subject)], ignore_conflicts=True)
    OtpSubject.objects.select_for_update().get(purpose=purpose, subject=subject)


@dataclass(frozen=True)
class IssuedOtp:
    challenge: OtpChallenge
    code: str  # handed to the delivery channel only; never stored or logged


def issue_otp(
    *,
    purpose: str,
    subject: str,
    destination: str,
    user: Any = None,
    subject_line: str,
    intro: str,
    about: About | None = None,
    channel: str = "email",
    client: HttpRequest | str | None = None,
) -> IssuedOtp:
    """Create a code, supersede older ones for the same purpose and subject, and email it.

    ``channel="sms"`` texts it to ``destination`` (a phone number) instead; with ``client`` (the
    request or its address) it is first counted against the SMS limits per phone, address and account
    (notifications.smslimits), without it the caller has counted it. ``intro`` starts the text.

    ``about`` names the evidence subject on which the mail's delivery is recorded (the envelope).
    A code mail not delivered while the code lives is dropped rather than sent late.
    The limits are counted under a lock of the subject's OtpSubject row, so parallel requests are
    counted one after another, never all against the same stale count.
    """
    code = f"{secrets.randbelow(10**6):06d}"
    if channel not in ("email", "sms"):
        raise ValueError(f"unknown code channel {channel!r}")
    if channel == "sms":
        # Counted before the code exists: a refused request costs no code and sends nothing. A caller
        # that counted already (identity.verification) passes no ``client`` and is not counted twice.
        if client is not None:
            destination = check_sms_allowance(destination, client, user)
        else:
            destination = normalise_phone(destination)
    with transaction.atomic():
        _lock_subject(purpose, subject)
        now = timezone.now()
        recent = OtpChallenge.objects.filter(
            purpose=purpose, subject=subject, created_at__gte=now - timedelta(hours=1)
        )
        if recent.count() >= OTP_MAX_PER_HOUR:
            # The limit lets a code through again once the oldest of the last OTP_MAX_PER_HOUR ages out.
            oldest = recent.order_by("-created_at").values_list("created_at", flat=True)[OTP_MAX_PER_HOUR - 1]
            raise OtpRateLimited(
                "too many codes requested; try again later",
                retry_after=seconds_until(oldest + timedelta(hours=1)),
            )
        latest = recent.order_by("-created_at").first()
        if latest is not None and now - latest.created_at < OTP_MIN_INTERVAL:
            raise OtpRateLimited(
                "a code was sent moments ago; wait before asking for another",
                retry_after=seconds_until(latest.created_at + OTP_MIN_INTERVAL),
            )
        OtpChallenge.objects.filter(purpose=purpose, subject=subject, consumed_at__isnull=True).update(
            superseded=True
        )
        challenge = OtpChallenge(
            user=user,
            purpose=purpose,
            subject=subject,
            destination=destination,
            channel=channel,
            expires_at=now + OTP_LIFETIME,
        )
        challenge.code_hash = _code_hash(str(challenge.id), code)
        challenge.save()
        if channel == "sms":
            send_sms(
                destination,
                f"【econtract】{intro} {code}（5 分钟内有效，请勿告诉他人 / valid 5 minutes, never share it）",
                purpose=f"otp_{purpose}",
                about=about,
                expires_at=challenge.expires_at,
            )
            return IssuedOtp(challenge, code)
        send_email(
            [destination],
            subject_line,
            f"{intro}\n\n    {code}\n\nThe code is valid for 5 minutes. Never share it; econtract staff never ask for it.\n"
            f"验证码 {code}，5 分钟内有效，请勿告诉他人。\n",
            purpose=f"otp_{purpose}",
            about=about,
            expires_at=challenge.expires_at,
        )
    return IssuedOtp(challenge, code)


def check_otp(*, purpose: str, subject: str, code: str, consume: bool = True) -> OtpChallenge:
    """Check a code against the newest live challenge. Wrong tries are counted and committed.

    Call this outside any transaction that may roll back: a failed try must stay counted.
    """
    now = timezone.now()
    with transaction.atomic():
        challenge = (
            OtpChallenge.objects.select_for_update()
            .filter(purpose=purpose, subject=subject, superseded=False, consumed_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        if challenge is None:
            raise OtpMissing("no code was requested, or it was already used; request a new one")
        if challenge.expires_at <= now:
            raise OtpExpired("the code has expired; request a new one")
        if challenge.attempts >= OTP_MAX_ATTEMPTS:
            raise OtpExpired("too many wrong codes; request a new one")
        candidate = (code or "").strip()
        if not (candidate.isdigit() and len(candidate) == 6) or not hmac.compare_digest(
            _code_hash(str(challenge.id), candidate), challenge.code_hash
        ):
            challenge.attempts += 1
            challenge.save(update_fields=["attempts"])
            remaining = OTP_MAX_ATTEMPTS - challenge.attempts
            wrong = OtpInvalid("wrong code", remaining_attempts=remaining)
        else:
            wrong = None
            challenge.passed_at = challenge.passed_at or now
            fields = ["passed_at"]
            if consume:
                challenge.consumed_at = now
                fields.append("consumed_at")
            challenge.save(update_fields=fields)
    if wrong is not None:
        raise wrong
    return challenge


def consume_otp(challenge: OtpChallenge) -> None:
    OtpChallenge.objects.filter(pk=challenge.pk, consumed_at__isnull=True).update(consumed_at=timezone.now())

"""What a party must show before she signs: her identity at the required level, and her willingness.

The sender sets per party ``min_assurance`` (L1..L3; the platform's minimum applies when higher) and
``willingness``, the methods that are **all** checked at signing (email_otp, sms_otp, totp, webauthn).
TOTP and passkeys belong to an account, so a party asked for them signs logged in; a party without an
account can only answer codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from econtract.evidence.services import RequestContext, record_event
from econtract.identity import assurance
from econtract.identity import services as otp_service
from econtract.identity.errors import AssuranceRequired, IdentityError, WebAuthnRequired
from econtract.identity.models import AssuranceLevel, IdentityVerification, OtpChallenge
from econtract.notifications.errors import NotificationError
from econtract.notifications.services import About
from econtract.signing.errors import InvalidEnvelope
from econtract.signing.models import Envelope, Party

EMAIL_OTP = "email_otp"
SMS_OTP = "sms_otp"
TOTP = "totp"
WEBAUTHN = "webauthn"
METHODS = (EMAIL_OTP, SMS_OTP, TOTP, WEBAUTHN)
ACCOUNT_ONLY = frozenset({TOTP, WEBAUTHN})
DEFAULT_WILLINGNESS = (EMAIL_OTP,)
SENDER_LEVELS = ("L1", "L2", "L3")


def clean_willingness(value: str | Sequence[str] | None, *, number: int) -> tuple[str, ...]:
    """The methods in a fixed order without repeats; the default when none are given."""
    given = [value] if isinstance(value, str) else list(value or [])
    unknown = [m for m in given if m not in METHODS]
    if unknown:
        raise InvalidEnvelope(f"party {number}: unknown willingness method {unknown[0]!r}")
    return tuple(m for m in METHODS if m in given) or DEFAULT_WILLINGNESS


def clean_min_assurance(value: str | None, *, number: int) -> str:
    """The sender's level for a party, the platform's minimum when she gave none."""
    if not value:
        return str(assurance.min_signing_assurance())
    level = value.strip().upper()
    if level not in SENDER_LEVELS:
        raise InvalidEnvelope(f"party {number}: min_assurance must be L1, L2 or L3")
    return level


def party_willingness(party: Party) -> tuple[str, ...]:
    stored = party.willingness if isinstance(party.willingness, list) else []
    return tuple(m for m in METHODS if m in stored) or DEFAULT_WILLINGNESS


def requires_account(party: Party) -> bool:
    return bool(ACCOUNT_ONLY & set(party_willingness(party)))


def effective_level(party: Party) -> AssuranceLevel:
    """The higher of what the sender asked and the platform's minimum, as it stands now."""
    return assurance.higher(party.min_assurance or "L1", assurance.min_signing_assurance())


def verification_level(verification: IdentityVerification | None) -> AssuranceLevel:
    if verification is None or verification.status != IdentityVerification.Status.VERIFIED:
        return AssuranceLevel.L0
    return assurance.verified_level(verification)


def require_level(envelope: Envelope, party: Party, current: str, context: RequestContext) -> None:
    """AssuranceRequired (409) when the party is below her level; the refusal is evidence."""
    required = effective_level(party)
    if assurance.meets(current, required):
        return
    record_event(
        "assurance_refused",
        envelope,
        context,
        organization=envelope.organization,
        payload={"party": str(party.id), "required": str(required), "current": str(current)},
    )
    raise AssuranceRequired(
        f"this party must verify her identity at {required} before signing; she is at {current}",
        required=str(required),
        current=str(current),
    )


def sms_subject(party: Party) -> str:
    return f"sms:{party.id}"


@dataclass
class WillingnessProof:
    """The factors a party passed for one signature; codes are consumed when the signature commits."""

    methods: list[str] = field(default_factory=list)
    challenges: list[OtpChallenge] = field(default_factory=list)

    def consume(self) -> None:
        for challenge in self.challenges:
            otp_service.consume_otp(challenge)


def send_willingness_codes(
    envelope: Envelope,
    party: Party,
    user: Any,
    context: RequestContext,
    client: HttpRequest | str | None = None,
) -> list[OtpChallenge]:
    """The codes the party's willingness asks for: to her email and/or, by SMS, to her phone."""
    methods = party_willingness(party)
    sent: list[OtpChallenge] = []
    if EMAIL_OTP in methods:
        sent.append(
            otp_service.issue_otp(
                purpose=OtpChallenge.Purpose.SIGN,
                subject=str(party.id),
                destination=party.email,
                user=user,
                subject_line=f"Signing code for {envelope.title} / 签署验证码",
                intro=f'Your code to sign "{envelope.title}" is:',
                # `otp_sent` is recorded once the mail server accepted the code, not when it was queued.
                about=About(
                    envelope, on_sent="otp_sent", payload={"party": str(party.id), "channel": "email"}
                ),
            ).challenge
        )
    if SMS_OTP in methods:
        if not party.phone:
            raise InvalidEnvelope("the sender gave no phone number for this party's SMS code")
        sent.append(
            otp_service.issue_otp(
                purpose=OtpChallenge.Purpose.SIGN,
                subject=sms_subject(party),
                destination=party.phone,
                user=user,
                subject_line="",
                intro=f"签署《{envelope.title[:40]}》验证码 / signing code:",
                about=About(envelope, on_sent="otp_sent", payload={"party": str(party.id), "channel": "sms"}),
                channel="sms",
                client=client if client is not None else (context.ip_address or ""),
            ).challenge
        )
    return sent


def _refused(
    kind: str, envelope: Envelope, party: Party, why: str, method: str, context: RequestContext
) -> None:
    record_event(
        kind,
        envelope,
        context,
        organization=envelope.organization,
        payload={"party": str(party.id), "why": why, "method": method},
    )


def check_willingness(
    envelope: Envelope,
    party: Party,
    user: Any,
    *,
    otp: str = "",
    sms_otp: str = "",
    totp: str = "",
    webauthn: dict[str, Any] | None = None,
    context: RequestContext,
) -> WillingnessProof:
    """Check every method the party's willingness names. Call outside a transaction that may roll
    back: failed tries are counted and recorded for good."""
    proof = WillingnessProof()
    for method in party_willingness(party):
        try:
            if method == EMAIL_OTP:
                proof.challenges.append(
                    otp_service.check_otp(
                        purpose=OtpChallenge.Purpose.SIGN, subject=str(party.id), code=otp, consume=False
                    )
                )
            elif method == SMS_OTP:
                proof.challenges.append(
                    otp_service.check_otp(
                        purpose=OtpChallenge.Purpose.SIGN,
                        subject=sms_subject(party),
                        code=sms_otp,
                        consume=False,
                    )
                )
            elif method == TOTP:
                from econtract.identity import factors

                factors.check_totp(user, totp, purpose="sign", context=context)
            elif method == WEBAUTHN:
                from econtract.identity import factors

                if not webauthn:
                    raise WebAuthnRequired("confirm with your passkey: this party's willingness asks for one")
                factors.finish_webauthn_assertion(
                    user, webauthn, purpose="sign", subject=str(party.id), context=context
                )
        except (IdentityError, NotificationError) as exc:
            _refused(
                "otp_failed" if method.endswith("_otp") else "willingness_failed",
                envelope,
                party,
                exc.code,
                method,
                context,
            )
            raise
        proof.methods.append(method)
        record_event(
            "otp_passed" if method.endswith("_otp") else "willingness_passed",
            envelope,
            context,
            organization=envelope.organization,
            payload={"party": str(party.id), "method": method},
        )
    return proof

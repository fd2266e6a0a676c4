"""Signing without an account: a counterparty proves her email (and phone) by code, verifies who she is
inline, and signs with a one-time event certificate (DESIGN.md §3, custody mode "event").

The proof of the email lives in a ``PartyAccess`` row whose secret is kept by the browser's session:
it opens this party only, and only for ``ACCESS_LIFETIME``. The identity verification is the party's
(``Party.identity_verification``, purpose "signing", no user). The signature's key is generated for
that one signature, never serialised nor stored, and dropped right after; its certificate (profile
"event") names the verified person and lives ``EVENT_CERTIFICATE_LIFETIME``.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric import ec
from django.http import HttpRequest
from django.utils import timezone

from econtract.accounts.models import User
from econtract.evidence.services import RequestContext, record_event
from econtract.identity import services as otp_service
from econtract.identity.errors import IdentityError
from econtract.identity.models import AssuranceLevel, IdentityVerification, OtpChallenge
from econtract.notifications.services import About
from econtract.pki.issuance import issue_signing_certificate, revoke_certificate
from econtract.pki.models import CertificateProfile
from econtract.signing.errors import NotThisParty, PartyAccessRequired
from econtract.signing.models import Envelope, Party, PartyAccess
from econtract.signing.services import filling, willingness
from econtract.signing.services.ceremony import commit_signature
from econtract.signing.services.envelopes import sha256_hex
from econtract.signing.services.routing import _check_open, _check_turn, record_decline

ACCESS_LIFETIME = timedelta(minutes=30)
# Long enough for pdfsig (which judges the certificate at the time it runs) to call it valid on the day
# of signing; afterwards the signature's RFC 3161 timestamp and the embedded OCSP answer prove it
# was valid when used. One signature, one day: a stolen certificate is worth nothing without its key.
EVENT_CERTIFICATE_LIFETIME = timedelta(days=1)
VERIFY_METHODS = ("id_2el", "id_3el", "bank_4el")


def accountless_allowed(party: Party) -> bool:
    """A party may sign without an account unless she is bound to one, has one (she keeps her
    long-term key), or the sender asked for a factor only an account holds (TOTP, passkey). An
    organisation party never does: it signs with one of its seals, applied by a member."""
    if party.kind == Party.Kind.ORGANIZATION:
        return False
    if party.user_id is not None or willingness.requires_account(party):
        return False
    return not User.objects.filter(email__iexact=party.email).exists()


def party_context(context: RequestContext, party: Party) -> RequestContext:
    """The evidence context of a visitor who acts as this party without an account."""
    if context.actor is not None:
        return context
    return dataclasses.replace(context, label=f"party {party.email}")


def _access_subject(party: Party) -> str:
    return f"access:{party.id}"


def _access_phone_subject(party: Party) -> str:
    return f"access-sms:{party.id}"


def _require_allowed(party: Party, context: RequestContext) -> Envelope:
    envelope = party.envelope
    if not accountless_allowed(party):
        raise NotThisParty("this party signs with an account: log in to sign")
    _check_open(envelope, context)
    _check_turn(party)
    return envelope


def send_access_code(party: Party, context: RequestContext) -> OtpChallenge:
    """Email the party a code that proves she holds the address the sender named."""
    envelope = _require_allowed(party, context)
    return otp_service.issue_otp(
        purpose=OtpChallenge.Purpose.SIGN,
        subject=_access_subject(party),
        destination=party.email,
        subject_line=f"Your code to open {envelope.title} / 查看文件验证码",
        intro=f'Your code to open "{envelope.title}" is:',
        about=About(
            envelope,
            on_sent="otp_sent",
            payload={"party": str(party.id), "channel": "email", "step": "access"},
        ),
    ).challenge


def _check_code(
    envelope: Envelope, party: Party, subject: str, code: str, channel: str, context: RequestContext
) -> None:
    try:
        otp_service.check_otp(purpose=OtpChallenge.Purpose.SIGN, subject=subject, code=code)
    except IdentityError as exc:
        record_event(
            "otp_failed",
            envelope,
            context,
            organization=envelope.organization,
            payload={"party": str(party.id), "why": exc.code, "method": channel, "step": "access"},
        )
        raise


def prove_email(party: Party, code: str, context: RequestContext) -> tuple[PartyAccess, str]:
    """Check the emailed code; returns the new access and its secret (for the browser's session).

    When the sender gave the party's phone, the access is complete only once the phone is proved too
    (``send_access_phone_code``, then ``prove_phone``).
    """
    envelope = _require_allowed(party, context)
    _check_code(envelope, party, _access_subject(party), code, "email", context)
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    access = PartyAccess.objects.create(
        party=party,
        secret_hash=sha256_hex(secret.encode()),
        email_proved_at=now,
        expires_at=now + ACCESS_LIFETIME,
    )
    record_event(
        "party_email_verified",
        envelope,
        context,
        organization=envelope.organization,
        payload={"party": str(party.id), "access": str(access.id)},
    )
    return access, secret


def send_access_phone_code(
    access: PartyAccess, context: RequestContext, client: HttpRequest | str | None = None
) -> OtpChallenge:
    party = access.party
    envelope = _require_allowed(party, context)
    _require_live(access)
    return otp_service.issue_otp(
        purpose=OtpChallenge.Purpose.SIGN,
        subject=_access_phone_subject(party),
        destination=party.phone,
        subject_line="",
        intro=f"查看《{envelope.title[:40]}》验证码 / code to open the document:",
        about=About(
            envelope, on_sent="otp_sent", payload={"party": str(party.id), "channel": "sms", "step": "access"}
        ),
        channel="sms",
        client=client if client is not None else (context.ip_address or ""),
    ).challenge


def prove_phone(access: PartyAccess, code: str, context: RequestContext) -> PartyAccess:
    party = access.party
    envelope = _require_allowed(party, context)
    _require_live(access)
    _check_code(envelope, party, _access_phone_subject(party), code, "sms", context)
    access.phone_proved_at = timezone.now()
    access.save(update_fields=["phone_proved_at"])
    record_event(
        "party_phone_verified",
        envelope,
        context,
        organization=envelope.organization,
        payload={"party": str(party.id), "access": str(access.id)},
    )
    return access


def load_access(party: Party, secret: str) -> PartyAccess | None:
    """The live access this secret opens for this party, else None."""
    if not secret:
        return None
    access = (
        PartyAccess.objects.select_related("party__envelope__organization")
        .filter(secret_hash=sha256_hex(secret.encode()), party=party, expires_at__gt=timezone.now())
        .first()
    )
    if access is None or not hmac.compare_digest(access.secret_hash, sha256_hex(secret.encode())):
        return None
    return access


def access_complete(access: PartyAccess) -> bool:
    return access.phone_proved_at is not None or not access.party.phone


def _require_live(access: PartyAccess) -> None:
    if access.expires_at <= timezone.now():
        raise PartyAccessRequired("your proof of the email address has expired; request a new code")


def _require_complete(access: PartyAccess) -> None:
    _require_live(access)
    if not access_complete(access):
        raise PartyAccessRequired("prove the phone number the sender gave first")


def party_level(party: Party) -> AssuranceLevel:
    """An account-less party's level: her own verification's, or L1 (her email is proved)."""
    level = willingness.verification_level(party.identity_verification)
    return level if level != AssuranceLevel.L0 else AssuranceLevel.L1


def _attach(party: Party, verification: IdentityVerification, context: RequestContext) -> None:
    if verification.status != IdentityVerification.Status.VERIFIED:
        return
    Party.objects.filter(pk=party.pk).update(identity_verification=verification)
    party.identity_verification = verification
    envelope = party.envelope
    record_event(
        "party_identity_verified",
        envelope,
        context,
        organization=envelope.organization,
        payload={
            "party": str(party.id),
            "verification": str(verification.id),
            "method": verification.method,
            "assurance_level": str(willingness.verification_level(verification)),
            "provider": verification.provider,
            "sandbox": verification.sandbox,
        },
    )


def verify_identity(
    access: PartyAccess,
    *,
    method: str,
    name: str,
    id_type: str,
    id_number: str,
    phone: str = "",
    bank_card: str = "",
    context: RequestContext,
    client: HttpRequest | str,
) -> IdentityVerification:
    """Start the party's own identity verification (2 elements answer at once; 3 and 4 elements text a
    code to the phone, confirmed by ``confirm_identity``)."""
    from econtract.identity.verification import start_verification

    party = access.party
    _require_allowed(party, context)
    _require_complete(access)
    if method not in VERIFY_METHODS:
        raise PartyAccessRequired(f"verify with one of {', '.join(VERIFY_METHODS)}")
    verification = start_verification(
        None,
        method=method,
        name=name,
        id_type=id_type,
        id_number=id_number,
        # a phone the sender gave (and she proved) is the one checked against the register
        phone=(party.phone or phone or None) if method != "id_2el" else None,
        bank_card=bank_card or None,
        purpose=IdentityVerification.Purpose.SIGNING,
        context=context,
        client=client,
        subject=f"party:{party.id}",
    )
    _attach(party, verification, context)
    return verification


def confirm_identity(
    access: PartyAccess, verification_id: Any, otp: str, *, context: RequestContext
) -> IdentityVerification:
    from econtract.identity.verification import confirm_verification

    party = access.party
    _require_allowed(party, context)
    _require_complete(access)
    verification = IdentityVerification.objects.filter(
        pk=verification_id, user__isnull=True, purpose=IdentityVerification.Purpose.SIGNING
    ).first()
    if verification is None:
        raise PartyAccessRequired("start the identity verification again")
    verification = confirm_verification(verification, otp, context=context)
    _attach(party, verification, context)
    return verification


def send_signing_codes(
    access: PartyAccess, context: RequestContext, client: HttpRequest | str | None = None
) -> list[OtpChallenge]:
    """The fresh willingness code(s) that precede the signature."""
    party = access.party
    envelope = _require_allowed(party, context)
    _require_complete(access)
    willingness.require_level(envelope, party, party_level(party), context)
    return willingness.send_willingness_codes(envelope, party, None, context, client)


def _subject(party: Party) -> tuple[str, str, str, str]:
    """(common name, country, email, pseudonym): only what was verified, never the ID number."""
    verification = party.identity_verification
    if verification is None or verification.status != IdentityVerification.Status.VERIFIED:
        # L1: nothing but the address was proved, so the certificate says nothing else
        return party.email[:64], "", party.email, f"ev-{party.id.hex}"
    return verification.name[:64], verification.country, "", f"ev-{verification.id.hex}"


def sign_with_event_certificate(
    access: PartyAccess,
    *,
    otp: str = "",
    sms_otp: str = "",
    context: RequestContext,
    values: Mapping[str, Any] | None = None,
) -> Envelope:
    """Level, willingness, then a fresh P-256 key and a one-time certificate for exactly this signature."""
    party = Party.objects.select_related("envelope__organization", "identity_verification").get(
        pk=access.party_id
    )
    envelope = _require_allowed(party, context)
    _require_complete(access)
    filling.check_values(party, values or {})
    level = party_level(party)
    willingness.require_level(envelope, party, level, context)
    proof = willingness.check_willingness(envelope, party, None, otp=otp, sms_otp=sms_otp, context=context)
    common_name, country, email, pseudonym = _subject(party)
    private_key = ec.generate_private_key(ec.SECP256R1())
    issued = issue_signing_certificate(
        None,
        private_key.public_key(),
        common_name=common_name,
        pseudonym=pseudonym,
        assurance_level=str(level),
        country=country,
        email=email,
        validity=EVENT_CERTIFICATE_LIFETIME,
        certificate_profile=CertificateProfile.EVENT,
    )
    record_event(
        "event_certificate_issued",
        envelope,
        context,
        organization=envelope.organization,
        payload={
            "party": str(party.id),
            "certificate_serial": issued.serial_number,
            "assurance_level": str(level),
        },
    )
    verification = party.identity_verification
    try:
        signed = commit_signature(
            envelope,
            party,
            private_key=private_key,
            certificate=asn1_x509.Certificate.load(bytes(issued.certificate_der)),
            signer_name=common_name,
            proof=proof,
            evidence={
                "assurance_level": str(level),
                "verification_method": verification.method if verification is not None else "email",
                "verification": str(verification.id) if verification is not None else None,
                "willingness": proof.methods,
                "key_custody": "event",
                "certificate_profile": CertificateProfile.EVENT,
            },
            user=None,
            context=context,
            values=values,
        )
    except BaseException:
        # never used: nobody may ever sign with it
        revoke_certificate(issued, "cessation_of_operation")
        raise
    finally:
        # The key existed only in this frame and the call above; nothing serialised or stored it.
        del private_key
    return signed


def decline_without_account(access: PartyAccess, *, reason: str, context: RequestContext) -> Envelope:
    """The party, her email (and phone) proved, declines: the envelope ends for everyone."""
    party = Party.objects.select_related("envelope__organization").get(pk=access.party_id)
    if not accountless_allowed(party):
        raise NotThisParty("this party signs with an account: log in to decline")
    _require_complete(access)
    return record_decline(party.envelope, party, reason=reason, user=None, context=context)

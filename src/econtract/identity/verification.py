"""Identity verification, the verbs: start, confirm by phone code, decide, revoke.

Order of checks for every method: the request's shape and the document number's format (locally,
identity.idnumbers: a malformed number costs no provider call), the attempt limits, then, for the
methods that name a phone, a code texted to that phone, and only after the code the provider. So the
provider is never an oracle for someone who does not hold the phone, and every question it is asked
is counted.

Every step is an evidence event on the verification row (method, provider, result, level, address),
success or failure. The document number, phone and card are sealed at rest (identity.vault); events
and logs carry them masked only.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from econtract.client_address import client_address, limit_bucket
from econtract.evidence.services import RequestContext, record_event
from econtract.identity import assurance, vault
from econtract.identity import services as otp_service
from econtract.identity.errors import (
    IdentityError,
    IdentityInUse,
    IdentityRateLimited,
    InvalidVerificationRequest,
    ProviderUnavailable,
    UnsupportedMethod,
    VerificationNotPending,
)
from econtract.identity.idnumbers import IdType, mask_id_number, validate_id_number
from econtract.identity.models import AssuranceLevel, IdentityVerification, OtpChallenge
from econtract.identity.providers import (
    CheckMethod,
    IdentityCheck,
    IdentityCheckResult,
    Outcome,
    get_identity_provider,
)
from econtract.notifications.phone import normalise_phone
from econtract.notifications.smslimits import check_sms_allowance
from econtract.pki import custody
from econtract.ratelimit import hit
from econtract.textinput import UnsafeText, clean_line

Method = IdentityVerification.Method
Status = IdentityVerification.Status

# The level each method establishes when it succeeds.
METHOD_LEVELS: dict[str, AssuranceLevel] = {
    Method.ID_2EL: AssuranceLevel.L2,
    Method.ID_3EL: AssuranceLevel.L2,
    Method.BANK_4EL: AssuranceLevel.L3,
    Method.FACE: AssuranceLevel.L3,
    Method.OIDC: AssuranceLevel.L3,
    Method.MANUAL: AssuranceLevel.L3,
}
PROVIDER_METHODS: dict[str, CheckMethod] = {
    Method.ID_2EL: CheckMethod.ID_2EL,
    Method.ID_3EL: CheckMethod.ID_3EL,
    Method.BANK_4EL: CheckMethod.BANK_4EL,
}
PHONE_METHODS = frozenset({Method.ID_3EL, Method.BANK_4EL})
MAX_NAME_LENGTH = 100
# Provider questions: per person (account or signing party) and per document number, per day. The
# per-number limit stops trying names against one number from many accounts.
ATTEMPTS_PER_PERSON = 10
ATTEMPTS_PER_NUMBER = 5
ATTEMPTS_PER_ADDRESS = 30
ATTEMPT_WINDOW_SECONDS = 24 * 3600
# Where the country is known from the document: mainland resident ID cards only (certificates say C=CN).
MAINLAND_DOCUMENTS = frozenset({IdType.CN_RESIDENT})

PURPOSE_ID_NUMBER = "identity.id_number"
PURPOSE_PHONE = "identity.phone"
PURPOSE_BANK_CARD = "identity.bank_card"


def _clean_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidVerificationRequest("the name is required")
    try:
        cleaned = clean_line(name, field="name", max_length=MAX_NAME_LENGTH)
    except UnsafeText as exc:
        raise InvalidVerificationRequest(str(exc)) from exc
    if not cleaned:
        raise InvalidVerificationRequest("the name is required")
    return cleaned


def _id_type(value: object) -> IdType:
    try:
        return IdType(str(value))
    except ValueError:
        raise InvalidVerificationRequest(
            f"unknown id_type; one of {', '.join(item.value for item in IdType)}"
        ) from None


def _person_key(user: Any, subject: str) -> str:
    return f"user:{user.pk}" if user is not None else f"party:{subject}"


def count_attempt(user: Any, subject: str, digest: str, client: HttpRequest | str) -> None:
    """Count one provider question against the person, document and address limits (any method)."""
    address = client if isinstance(client, str) else client_address(client)
    for scope, key, limit in (
        ("person", _person_key(user, subject), ATTEMPTS_PER_PERSON),
        ("document", digest, ATTEMPTS_PER_NUMBER),
        ("address", limit_bucket(address), ATTEMPTS_PER_ADDRESS),
    ):
        result = hit(f"identity-check:{scope}:{key}", limit, ATTEMPT_WINDOW_SECONDS)
        if not result.allowed:
            raise IdentityRateLimited(
                f"too many identity verification attempts for this {scope}; try again later",
                retry_after=result.retry_after,
            )


def refuse_if_held_by_another(user: Any, digest: str) -> None:
    """One document, one account: a number verified for another active account is not verified again.

    A person who lost her account recovers it (password reset, login link) instead of opening a
    second one; someone who merely knows her name and number cannot open another account as her.
    A party signing without an account is not an account holder, so this does not apply to her.
    """
    if user is None or not digest:
        return
    held = (
        IdentityVerification.objects.filter(
            id_number_digest=digest,
            status=Status.VERIFIED,
            purpose__in=assurance.ACCOUNT_PURPOSES,
            user__isnull=False,
            user__is_active=True,
        )
        .exclude(user=user)
        .exists()
    )
    if held:
        raise IdentityInUse(
            "this document is already verified for another account; recover that account instead "
            "(password reset or login link), or ask support"
        )


def _check_pin_reset(user: Any, name: str, digest: str) -> None:
    """A PIN reset re-verifies the identity the key was issued to: same name, same document.

    Someone who got into the account (a stolen password) cannot reset the owner's key by verifying
    an identity of his own; the owner re-proves hers.
    """
    if user is None or not hasattr(user, "signer_key"):
        raise InvalidVerificationRequest("there is no signing key to reset")
    current = assurance.current_identity(user)
    if (
        current is None
        or current.name != name
        or (current.id_number_digest and current.id_number_digest != digest)
    ):
        raise InvalidVerificationRequest(
            "a PIN reset verifies again the identity your key was issued to: the same name and document"
        )


def _event(kind: str, verification: IdentityVerification, context: RequestContext, **extra: Any) -> None:
    record_event(
        kind,
        verification,
        context,
        payload={
            "method": verification.method,
            "purpose": verification.purpose,
            "assurance_level": verification.assurance_level,
            "id_type": verification.id_type,
            "id_number_masked": verification.id_number_masked,
            "provider": verification.provider,
            "sandbox": verification.sandbox,
            **extra,
        },
    )


def _new_row(
    user: Any,
    *,
    method: str,
    name: str,
    id_type: IdType | None,
    id_number: str,
    purpose: str,
    phone: str = "",
    bank_card: str = "",
) -> IdentityVerification:
    verification = IdentityVerification(
        user=user if user is not None and getattr(user, "is_authenticated", False) else None,
        method=method,
        purpose=purpose,
        assurance_level=METHOD_LEVELS[method],
        name=name,
        id_type=str(id_type) if id_type else "",
        country="CN" if id_type in MAINLAND_DOCUMENTS else "",
    )
    if id_number:
        verification.id_number_sealed = vault.seal_text(id_number, purpose=PURPOSE_ID_NUMBER)
        verification.id_number_masked = mask_id_number(id_number)
        verification.id_number_digest = vault.digest_id_number(str(id_type), id_number)
    if phone:
        verification.phone_sealed = vault.seal_text(phone, purpose=PURPOSE_PHONE)
        verification.phone_masked = phone[:4] + "*" * max(0, len(phone) - 8) + phone[-4:]
    if bank_card:
        verification.bank_card_sealed = vault.seal_text(bank_card, purpose=PURPOSE_BANK_CARD)
        verification.bank_card_masked = "*" * max(0, len(bank_card) - 4) + bank_card[-4:]
    verification.save()
    return verification


def _otp_subject(verification: IdentityVerification) -> str:
    return f"identity-verification:{verification.pk}"


def start_verification(
    user: Any,
    *,
    method: str,
    name: object,
    id_type: object,
    id_number: object,
    phone: object = None,
    bank_card: object = None,
    purpose: str = IdentityVerification.Purpose.IDENTITY,
    context: RequestContext,
    client: HttpRequest | str,
    subject: str = "",
) -> IdentityVerification:
    """Start a provider-checked verification (2 elements, 3 elements, bank card 4 elements).

    ``user`` is the account holder, or None for a party without an account (``subject`` then names
    her, e.g. the party id, for the attempt limits). 2 elements are decided at once; 3 and 4 elements
    text a code to the phone and stay pending until ``confirm_verification``.
    """
    if method not in PROVIDER_METHODS:
        raise UnsupportedMethod(
            "this method is not checked by the identity provider here: use the upload for manual and "
            "face checks, the OIDC login for an eID"
        )
    if user is None and not subject:
        raise ValueError("a verification without an account needs the subject it is for")
    if purpose not in IdentityVerification.Purpose.values:
        raise ValueError(f"unknown purpose {purpose!r}")
    document = _id_type(id_type)
    clean = _clean_name(name)
    # Validates the number's format (InvalidIdNumber), before any limit is counted or provider asked.
    try:
        check = IdentityCheck(
            method=PROVIDER_METHODS[method],
            name=clean,
            id_type=document,
            id_number=id_number if isinstance(id_number, str) else "",
            phone=normalise_phone(phone) if method in PHONE_METHODS and isinstance(phone, str) else None,
            bank_card=_card(bank_card) if method == Method.BANK_4EL else None,
        )
    except ValueError as exc:
        if isinstance(exc, IdentityError):
            raise
        raise InvalidVerificationRequest(str(exc)) from exc
    digest = vault.digest_id_number(str(document), check.id_number)
    if purpose != IdentityVerification.Purpose.SIGNING:
        refuse_if_held_by_another(user, digest)
    if purpose == IdentityVerification.Purpose.PIN_RESET:
        _check_pin_reset(user, clean, digest)
    count_attempt(user, subject or "", digest, client)
    verification = _new_row(
        user,
        method=method,
        name=clean,
        id_type=document,
        id_number=check.id_number,
        purpose=purpose,
        phone=check.phone or "",
        bank_card=check.bank_card or "",
    )
    _event("identity_verification_started", verification, context)
    if method in PHONE_METHODS and check.phone:
        check_sms_allowance(check.phone, client, user)
        otp_service.issue_otp(
            purpose=OtpChallenge.Purpose.VERIFY_IDENTITY,
            subject=_otp_subject(verification),
            destination=check.phone,
            user=verification.user,
            subject_line="",
            intro="Your identity verification code / 实名认证验证码:",
            channel="sms",
        )
        _event("identity_phone_code_sent", verification, context, phone_masked=verification.phone_masked)
        return verification
    return _ask_provider(verification, check, context)


def _card(value: object) -> str:
    digits = "".join(str(value or "").split())
    if not (digits.isdigit() and 12 <= len(digits) <= 19):
        raise InvalidVerificationRequest("the bank card number has 12 to 19 digits")
    return digits


def _check_of(verification: IdentityVerification) -> IdentityCheck:
    return IdentityCheck(
        method=PROVIDER_METHODS[verification.method],
        name=verification.name,
        id_type=IdType(verification.id_type),
        id_number=vault.unseal_text(bytes(verification.id_number_sealed), purpose=PURPOSE_ID_NUMBER),
        phone=(
            vault.unseal_text(bytes(verification.phone_sealed), purpose=PURPOSE_PHONE)
            if verification.phone_sealed
            else None
        ),
        bank_card=(
            vault.unseal_text(bytes(verification.bank_card_sealed), purpose=PURPOSE_BANK_CARD)
            if verification.bank_card_sealed
            else None
        ),
    )


def confirm_verification(
    verification: IdentityVerification, otp: str, *, context: RequestContext
) -> IdentityVerification:
    """The code texted to the phone was received: ask the provider. Wrong codes count (5, then dead)."""
    if verification.status != Status.PENDING or verification.method not in PHONE_METHODS:
        raise VerificationNotPending("this verification is not waiting for a phone code")
    try:
        otp_service.check_otp(
            purpose=OtpChallenge.Purpose.VERIFY_IDENTITY, subject=_otp_subject(verification), code=otp
        )
    except IdentityError as exc:
        _event("identity_phone_code_failed", verification, context, why=exc.code)
        raise
    _event("identity_phone_confirmed", verification, context)
    return _ask_provider(verification, _check_of(verification), context)


def _ask_provider(
    verification: IdentityVerification, check: IdentityCheck, context: RequestContext
) -> IdentityVerification:
    provider = get_identity_provider()
    result: IdentityCheckResult = provider.check_identity(check)
    if result.outcome is Outcome.UNAVAILABLE:
        _event("identity_provider_unavailable", verification, context, provider_name=result.provider)
        # Stays pending: nothing was decided about the person. A new attempt starts a new row.
        raise ProviderUnavailable(
            "the identity provider could not be reached; nothing was decided, try again later"
        )
    if result.outcome is Outcome.MATCH:
        return mark_verified(
            verification,
            provider=result.provider,
            reference=result.reference,
            sandbox=result.sandbox,
            outcome=str(result.outcome),
            context=context,
        )
    reasons = {
        Outcome.MISMATCH: "the name, phone or card does not match the document number",
        Outcome.NOT_FOUND: "the identity provider knows no such document number",
    }
    return mark_rejected(
        verification,
        reason=reasons[result.outcome],
        outcome=str(result.outcome),
        answered_by=result,
        context=context,
    )


def create_pending(
    user: Any,
    *,
    method: str,
    name: object,
    id_type: object = "",
    id_number: object = "",
    purpose: str = IdentityVerification.Purpose.IDENTITY,
    context: RequestContext,
) -> IdentityVerification:
    """A pending verification decided later (manual review, face check, OIDC callback)."""
    if method not in METHOD_LEVELS:
        raise UnsupportedMethod(f"unknown method {method!r}")
    document = _id_type(id_type) if id_type else None
    number = ""
    if id_number:
        if document is None:
            raise InvalidVerificationRequest("a document number needs its id_type")
        number = validate_id_number(document, str(id_number)).number
        if purpose != IdentityVerification.Purpose.SIGNING:
            refuse_if_held_by_another(user, vault.digest_id_number(str(document), number))
    if purpose == IdentityVerification.Purpose.PIN_RESET:
        _check_pin_reset(
            user, _clean_name(name), vault.digest_id_number(str(document), number) if number else ""
        )
    verification = _new_row(
        user, method=method, name=_clean_name(name), id_type=document, id_number=number, purpose=purpose
    )
    _event("identity_verification_started", verification, context)
    return verification


def _decide(verification: IdentityVerification, **fields: Any) -> IdentityVerification:
    """Decide a pending verification once: of two parallel decisions only the first counts."""
    with transaction.atomic():
        locked = IdentityVerification.objects.select_for_update().get(pk=verification.pk)
        if locked.status != Status.PENDING:
            raise VerificationNotPending("this verification was already decided")
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.decided_at = timezone.now()
        locked.save()
    return locked


def mark_verified(
    verification: IdentityVerification,
    *,
    provider: str,
    reference: str = "",
    sandbox: bool = False,
    outcome: str = "match",
    decided_by: Any = None,
    context: RequestContext,
    level: str | None = None,
) -> IdentityVerification:
    """The person is who she said. Her level and certificate follow; a PIN-reset purpose resets the key."""
    decided = _decide(
        verification,
        status=Status.VERIFIED,
        verified_at=timezone.now(),
        provider=provider[:200],
        provider_reference=reference[:200],
        sandbox=sandbox,
        outcome=outcome[:16],
        decided_by=decided_by,
        assurance_level=level or verification.assurance_level,
    )
    _event("identity_verified", decided, context, outcome=outcome)
    if decided.user is not None:
        _apply_to_account(decided, context)
    return decided


def _apply_to_account(verification: IdentityVerification, context: RequestContext) -> None:
    user: Any = verification.user
    if verification.purpose == IdentityVerification.Purpose.PIN_RESET:
        key = getattr(user, "signer_key", None)
        key_level = key.certificate.assurance_level if key is not None else ""
        if key is not None and assurance.meets(verification.assurance_level, key_level or "L1"):
            custody.reset_signing_key(user, "superseded")
            _event("signing_key_reset", verification, context, certificate_level=key_level)
    assurance.refresh(user)
    if user.full_name != verification.name:
        # The account shows the verified name from now on; what she typed at registration was a claim.
        type(user).objects.filter(pk=user.pk).update(full_name=verification.name)
        user.full_name = verification.name


def mark_rejected(
    verification: IdentityVerification,
    *,
    reason: str,
    outcome: str = "",
    decided_by: Any = None,
    answered_by: IdentityCheckResult | None = None,
    context: RequestContext,
) -> IdentityVerification:
    """The person is not who she said; ``answered_by`` is the provider's answer that says so."""
    provider = (
        {
            "provider": answered_by.provider[:200],
            "provider_reference": answered_by.reference[:200],
            "sandbox": answered_by.sandbox,
        }
        if answered_by is not None
        else {}
    )
    decided = _decide(
        verification,
        status=Status.REJECTED,
        reason=reason[:500],
        outcome=outcome[:16],
        decided_by=decided_by,
        **provider,
    )
    _event("identity_rejected", decided, context, outcome=outcome, reason=reason[:500])
    return decided


def revoke_verification(
    verification: IdentityVerification, *, reason: str, context: RequestContext
) -> IdentityVerification:
    """Withdraw a verification (the holder's wish, an operator's finding). Level and certificate follow."""
    with transaction.atomic():
        locked = IdentityVerification.objects.select_for_update().get(pk=verification.pk)
        if locked.status != Status.VERIFIED:
            raise VerificationNotPending("only a verified identity can be revoked")
        locked.status = Status.REVOKED
        locked.revoked_at = timezone.now()
        locked.reason = reason[:500]
        locked.save(update_fields=["status", "revoked_at", "reason"])
    _event("identity_revoked", locked, context, reason=reason[:500])
    if locked.user is not None:
        assurance.refresh(locked.user)
    return locked


def verifications_of(user: Any) -> Any:
    """The user's own verifications, newest first (the only query the API and pages use)."""
    return IdentityVerification.objects.filter(user=user).order_by("-created_at")

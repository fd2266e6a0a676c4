"""Enterprise organisations: creation, the enterprise 4-element check and verification.

An organisation is verified by one method, each only after the identity provider matched its name,
unified social credit code and legal representative (name and document number) together:

- ``bank_transfer``: the platform's bank (accounts.bank) sends 0.01-0.99 CNY with a 6-character code
  in the remark to an account in the organisation's name; an owner or admin confirms amount and code,
  at most ``TRANSFER_MAX_ATTEMPTS`` times;
- ``operator_review``: the business licence image, sealed at rest, approved or rejected by an operator
  (a staff user) with a reason;
- ``authorization_letter``: the legal representative signs a letter on the platform (accounts.org_letter).

The legal representative must be verified personally: the organisation becomes verified only while
one of its members holds a current identity (identity.assurance) with the representative's name and
document digest at L2 or above. Every step, success or failure, is an evidence event on the
organisation; the member who acts (经办人) is recorded with her role in the payload.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from econtract.accounts.bank import OutgoingTransfer, bank_backend
from econtract.accounts.errors import (
    BankAccountNameMismatch,
    BankUnavailable,
    InvalidLicence,
    LegalRepresentativeNotVerified,
    NotAnEnterprise,
    NotPermitted,
    OrganizationAlreadyVerified,
    OrganizationNotVerified,
    OrganizationVerificationNotPending,
    OrganizationVerificationRateLimited,
    TransferMismatch,
    UsccTaken,
)
from econtract.accounts.models import Membership, Organization, OrganizationVerification, User
from econtract.accounts.permissions import require_organization_manager, role_in
from econtract.evidence.services import RequestContext, record_event
from econtract.identity import vault
from econtract.identity.errors import InvalidIdNumber, ProviderUnavailable, UnsupportedMethod
from econtract.identity.idnumbers import IdType, mask_id_number, validate_id_number, validate_uscc
from econtract.identity.providers import EnterpriseCheck, IdentityProvider, Outcome, get_identity_provider
from econtract.textinput import clean_line

TRANSFER_MAX_ATTEMPTS = 5
# Each start asks the identity provider (and may move money): at most this many per organisation a day.
STARTS_PER_DAY = 10
TRANSFER_VALID_FOR = timedelta(days=3)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRTUWXY3456789"  # no 0/O, 1/I/L-lookalikes, S/5, V/U, Z/2
CODE_LENGTH = 6
REQUIRED_REPRESENTATIVE_LEVEL = "L2"

PURPOSE_ID_NUMBER = "accounts.legal_rep_id_number"
PURPOSE_AMOUNT = "accounts.transfer_amount"
PURPOSE_CODE = "accounts.transfer_code"
PURPOSE_LICENCE = "accounts.business_licence"

Method = OrganizationVerification.Method
Status = OrganizationVerification.Status
OrgStatus = Organization.VerificationStatus


def acting_as(user: Any, organization: Organization, role: str | None = None) -> dict[str, Any]:
    """Who acts for the organisation and under which membership: part of every payload (经办人)."""
    return {
        "member": str(user.pk) if user is not None else None,
        "role": role if role is not None else role_in(organization.pk, user),
        "organization": str(organization.pk),
    }


# --- lookups ------------------------------------------------------------------------------------


def organization_for_member(user: Any, organization_id: Any) -> Organization:
    """The organisation when ``user`` is one of its members; Http404 otherwise (never 403: an
    outsider learns nothing about whether it exists)."""
    if not getattr(user, "is_authenticated", False):
        raise Http404("no such organisation")
    org = Organization.objects.filter(pk=organization_id, memberships__user_id=user.pk).first()
    if org is None:
        raise Http404("no such organisation")
    return org


def verification_of(organization: Organization, verification_id: Any) -> OrganizationVerification:
    found = OrganizationVerification.objects.filter(pk=verification_id, organization=organization).first()
    if found is None:
        raise Http404("no such verification")
    return found


def refresh_pending(org: Organization, context: RequestContext) -> None:
    """Decide pending authorisation letters whose envelope has finished (called when read)."""
    from econtract.accounts.org_letter import refresh_letter

    for pending in org.verifications.filter(method=Method.AUTHORIZATION_LETTER, status=Status.PENDING):
        refresh_letter(pending, context)
    org.refresh_from_db()


def require_verified_organization(organization: Organization) -> None:
    """OrganizationNotVerified (409 ``organization_not_verified``) unless the organisation is verified:
    the gate for seals and organisation certificates."""
    current = (
        Organization.objects.filter(pk=organization.pk).values_list("verification_status", flat=True).first()
    )
    if current != OrgStatus.VERIFIED:
        raise OrganizationNotVerified(
            "the organisation is not verified: only a verified organisation may own seals and certificates"
        )


# --- creation -----------------------------------------------------------------------------------


def _id_type(value: str) -> IdType:
    try:
        return IdType(value)
    except ValueError:
        raise InvalidIdNumber(f"unknown document type {value!r}") from None


@transaction.atomic
def create_organization(
    creator: User,
    *,
    name: str,
    uscc: str,
    legal_rep_name: str,
    legal_rep_id_type: str,
    legal_rep_id_number: str,
    context: RequestContext,
) -> Organization:
    """A new unverified enterprise owned by ``creator``. InvalidUscc / InvalidIdNumber (400) for
    malformed numbers, UsccTaken (409) when a verified organisation holds the code already."""
    name = clean_line(name, field="organisation name", max_length=200)
    legal_rep_name = clean_line(legal_rep_name, field="legal representative", max_length=200)
    code = validate_uscc(uscc)
    id_type = _id_type(legal_rep_id_type)
    number = validate_id_number(id_type, legal_rep_id_number).number
    if not name or not legal_rep_name:
        raise InvalidIdNumber("the organisation and its legal representative need a name")
    if Organization.objects.filter(uscc=code, verification_status=OrgStatus.VERIFIED).exists():
        raise UsccTaken("an organisation with this unified social credit code is verified already")
    org = Organization.objects.create(
        name=name,
        kind=Organization.Kind.ENTERPRISE,
        uscc=code,
        legal_rep_name=legal_rep_name,
        legal_rep_id_type=str(id_type),
        legal_rep_id_number_sealed=vault.seal_text(number, purpose=PURPOSE_ID_NUMBER),
        legal_rep_id_number_masked=mask_id_number(number),
        legal_rep_id_digest=vault.digest_id_number(str(id_type), number),
        created_by=creator,
    )
    Membership.objects.create(user=creator, organization=org, role=Membership.Role.OWNER)
    record_event(
        "organization_created",
        org,
        context,
        organization=org,
        payload={
            "name": org.name,
            "uscc": org.uscc,
            "legal_representative": {
                "name": org.legal_rep_name,
                "id_type": org.legal_rep_id_type,
                "id_number_masked": org.legal_rep_id_number_masked,
            },
            "acting_as": acting_as(creator, org, Membership.Role.OWNER),
        },
    )
    return org


# --- the legal representative -------------------------------------------------------------------


def legal_representative_member(organization: Organization) -> tuple[User, str] | None:
    """The member who is the legal representative, verified personally at L2 or above, and her level."""
    from econtract.identity import assurance

    if not organization.legal_rep_id_digest:
        return None
    members = User.objects.filter(memberships__organization=organization, is_active=True)
    for user in members:
        identity = assurance.current_identity(user)
        if identity is None:
            continue
        if identity.name != organization.legal_rep_name:
            continue
        if not hmac.compare_digest(identity.id_number_digest or "", organization.legal_rep_id_digest):
            continue
        level = assurance.verified_level(identity)
        if assurance.meets(level, REQUIRED_REPRESENTATIVE_LEVEL):
            return user, str(level)
    return None


def _require_representative(
    org: Organization, actor: Any, context: RequestContext, step: str
) -> tuple[User, str]:
    found = legal_representative_member(org)
    if found is None:
        record_event(
            "organization_verification_refused",
            org,
            context,
            organization=org,
            payload={
                "step": step,
                "result": "legal_representative_not_verified",
                "acting_as": acting_as(actor, org),
            },
        )
        raise LegalRepresentativeNotVerified(
            "the legal representative must be a member of the organisation whose own identity is verified "
            f"at {REQUIRED_REPRESENTATIVE_LEVEL} or above, with the name and document number given"
        )
    return found


# --- starting a verification --------------------------------------------------------------------


def _enterprise_check(org: Organization, provider: IdentityProvider | None = None) -> Any:
    number = vault.unseal_text(bytes(org.legal_rep_id_number_sealed or b""), purpose=PURPOSE_ID_NUMBER)
    question = EnterpriseCheck(
        name=org.name,
        uscc=org.uscc,
        legal_rep_name=org.legal_rep_name,
        legal_rep_id_type=IdType(org.legal_rep_id_type),
        legal_rep_id_number=number,
    )
    return (provider or get_identity_provider()).check_enterprise(question)


def start_verification(
    org: Organization,
    actor: User,
    *,
    method: str,
    context: RequestContext,
    bank_account: dict[str, str] | None = None,
    licence: bytes | None = None,
    provider: IdentityProvider | None = None,
) -> OrganizationVerification:
    """Check the enterprise's four elements, then begin ``method``. Owner or admin only.

    ``provider`` asks that identity provider instead of the configured one: ``econtract demo``, which
    runs before the server, passes ``get_identity_provider(in_process=True)``.

    The enterprise check's verdict is recorded whatever it is; a mismatch or an unknown enterprise
    answers a rejected verification, no verdict (provider unavailable) raises 503 and decides nothing.
    """
    role = require_organization_manager(actor, org.pk, "verify the organisation")
    if org.kind != Organization.Kind.ENTERPRISE:
        raise NotAnEnterprise("a personal organisation is not verified as an enterprise")
    if org.is_verified:
        raise OrganizationAlreadyVerified("the organisation is verified already")
    if method not in set(Method.values):
        raise UnsupportedMethod(f"{method!r} is not a verification method")
    # validate the method's own input before the provider is asked: a refused request costs no check
    if method == Method.BANK_TRANSFER:
        account = _clean_bank_account(org, bank_account or {})
    elif method == Method.OPERATOR_REVIEW:
        image = _clean_licence(licence)
    if (
        Organization.objects.filter(uscc=org.uscc, verification_status=OrgStatus.VERIFIED)
        .exclude(pk=org.pk)
        .exists()
    ):
        raise UsccTaken("another organisation with this unified social credit code is verified already")
    since = timezone.now() - timedelta(days=1)
    recent = list(
        OrganizationVerification.objects.filter(organization=org, created_at__gte=since)
        .order_by("created_at")
        .values_list("created_at", flat=True)[:STARTS_PER_DAY]
    )
    if len(recent) >= STARTS_PER_DAY:
        retry = int((recent[0] + timedelta(days=1) - timezone.now()).total_seconds()) + 1
        raise OrganizationVerificationRateLimited(
            f"at most {STARTS_PER_DAY} verification attempts a day; try again later",
            retry_after=max(1, retry),
        )
    representative, rep_level = _require_representative(org, actor, context, "start")
    result = _enterprise_check(org, provider)
    check_payload = {
        "method": "enterprise_4el",
        "for_method": method,
        "provider": result.provider,
        "reference": result.reference,
        "sandbox": result.sandbox,
        "result": str(result.outcome),
        "legal_representative": str(representative.pk),
        "level": rep_level,
        "acting_as": acting_as(actor, org, role),
    }
    if result.outcome is Outcome.UNAVAILABLE:
        record_event("organization_enterprise_check", org, context, organization=org, payload=check_payload)
        raise ProviderUnavailable("the identity provider gave no verdict; try again later")
    with transaction.atomic():
        verification = OrganizationVerification.objects.create(
            organization=org,
            method=method,
            provider=result.provider,
            provider_reference=result.reference,
            outcome=str(result.outcome),
            sandbox=result.sandbox,
            requested_by=actor,
            requested_role=role,
        )
        check_payload["verification"] = str(verification.pk)
        record_event("organization_enterprise_check", org, context, organization=org, payload=check_payload)
        if result.outcome is not Outcome.MATCH:
            reason = (
                "the identity provider knows no enterprise with this code"
                if result.outcome is Outcome.NOT_FOUND
                else "the name, code and legal representative are not registered together"
            )
            return _reject(
                verification, reason=reason, decided_by=None, context=context, step="enterprise_check"
            )
        if method == Method.OPERATOR_REVIEW:
            return _submit_licence(verification, image, actor, role, context)
    if method == Method.AUTHORIZATION_LETTER:
        from econtract.accounts.org_letter import send_letter

        try:
            return send_letter(verification, representative, actor, role, context)
        except Exception:
            _reject(
                verification,
                reason="the letter could not be sent",
                decided_by=None,
                context=context,
                step="letter",
            )
            raise
    return _send_transfer(verification, account, actor, role, context)


def _clean_bank_account(org: Organization, account: dict[str, str]) -> dict[str, str]:
    name = clean_line(account.get("name") or "", field="account name", max_length=200)
    bank = clean_line(account.get("bank") or "", field="bank", max_length=200)
    number = "".join((account.get("number") or "").split())
    if not number.isdigit() or not 8 <= len(number) <= 32:
        raise BankAccountNameMismatch("the account number has 8 to 32 digits")
    if not bank:
        raise BankAccountNameMismatch("name the bank that holds the account")
    if name != org.name:
        raise BankAccountNameMismatch("the account must be held in the organisation's registered name")
    return {"name": name, "number": number, "bank": bank}


def _clean_licence(licence: bytes | None) -> Any:
    from econtract.identity.errors import IdentityError
    from econtract.identity.images import clean_image

    if not licence:
        raise InvalidLicence("upload an image of the business licence (JPEG or PNG)")
    try:
        return clean_image(licence)
    except IdentityError as exc:
        raise InvalidLicence(f"the business licence image was refused: {exc}") from exc


def _mark_org(org: Organization, status: str) -> None:
    Organization.objects.filter(pk=org.pk).exclude(verification_status=OrgStatus.VERIFIED).update(
        verification_status=status
    )
    org.refresh_from_db(fields=["verification_status"])


def _submit_licence(
    verification: OrganizationVerification, image: Any, actor: User, role: str, context: RequestContext
) -> OrganizationVerification:
    verification.licence_sealed = vault.seal_bytes(image.data, purpose=PURPOSE_LICENCE)
    verification.licence_content_type = image.content_type
    verification.licence_sha256 = hashlib.sha256(image.data).hexdigest()
    verification.licence_size = len(image.data)
    verification.save()
    org = verification.organization
    _mark_org(org, OrgStatus.PENDING)
    record_event(
        "organization_licence_submitted",
        org,
        context,
        organization=org,
        payload={
            "method": Method.OPERATOR_REVIEW,
            "verification": str(verification.pk),
            "licence_sha256": verification.licence_sha256,
            "result": "pending",
            "acting_as": acting_as(actor, org, role),
        },
    )
    return verification


def _send_transfer(
    verification: OrganizationVerification,
    account: dict[str, str],
    actor: User,
    role: str,
    context: RequestContext,
) -> OrganizationVerification:
    org = verification.organization
    amount = Decimal(secrets.randbelow(99) + 1) / 100
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    bank = bank_backend()
    transfer = OutgoingTransfer(
        id=str(verification.pk),
        account_name=account["name"],
        account_number=account["number"],
        bank=account["bank"],
        amount=amount,
        remark=f"econtract {code}",
    )
    payload: dict[str, Any] = {
        "method": Method.BANK_TRANSFER,
        "verification": str(verification.pk),
        "provider": bank.name,
        "sandbox": bank.sandbox,
        "bank_account_masked": mask_id_number(account["number"]),
        "acting_as": acting_as(actor, org, role),
    }
    try:
        reference = bank.send_transfer(transfer)
    except BankUnavailable:
        _reject(
            verification,
            reason="the bank could not be reached",
            decided_by=None,
            context=context,
            step="transfer",
        )
        raise
    verification.amount_sealed = vault.seal_text(f"{amount:.2f}", purpose=PURPOSE_AMOUNT)
    verification.code_sealed = vault.seal_text(code, purpose=PURPOSE_CODE)
    verification.bank_account_name = account["name"]
    verification.bank_account_masked = payload["bank_account_masked"]
    verification.bank_name = account["bank"]
    verification.bank_reference = reference
    verification.expires_at = timezone.now() + TRANSFER_VALID_FOR
    verification.save()
    _mark_org(org, OrgStatus.PENDING)
    record_event(
        "organization_transfer_sent",
        org,
        context,
        organization=org,
        payload={**payload, "reference": reference, "result": "sent"},
    )
    return verification


# --- deciding -----------------------------------------------------------------------------------


def _reject(
    verification: OrganizationVerification,
    *,
    reason: str,
    decided_by: User | None,
    context: RequestContext,
    step: str,
    extra: dict[str, Any] | None = None,
) -> OrganizationVerification:
    verification.status = Status.REJECTED
    verification.reason = reason
    verification.decided_by = decided_by
    verification.decided_at = timezone.now()
    verification.save(update_fields=["status", "reason", "decided_by", "decided_at"])
    org = verification.organization
    _mark_org(org, OrgStatus.REJECTED)
    record_event(
        "organization_verification_rejected",
        org,
        context,
        organization=org,
        payload={
            "method": verification.method,
            "verification": str(verification.pk),
            "provider": verification.provider,
            "step": step,
            "result": "rejected",
            "reason": reason,
            **(extra or {}),
        },
    )
    return verification


def _verify(
    verification: OrganizationVerification,
    *,
    decided_by: User,
    context: RequestContext,
    extra: dict[str, Any],
) -> OrganizationVerification:
    org = verification.organization
    representative, level = _require_representative(org, decided_by, context, "decide")
    now = timezone.now()
    try:
        with transaction.atomic():
            decided = OrganizationVerification.objects.filter(
                pk=verification.pk, status=Status.PENDING
            ).update(status=Status.VERIFIED, decided_by=decided_by, decided_at=now)
            if not decided:
                raise OrganizationVerificationNotPending("this verification was decided meanwhile")
            Organization.objects.filter(pk=org.pk).update(
                verification_status=OrgStatus.VERIFIED,
                verified_at=now,
                verification_method=verification.method,
            )
    except IntegrityError:
        raise UsccTaken(
            "another organisation with this unified social credit code was verified meanwhile"
        ) from None
    verification.refresh_from_db()
    org.refresh_from_db()
    record_event(
        "organization_verified",
        org,
        context,
        organization=org,
        payload={
            "method": verification.method,
            "verification": str(verification.pk),
            "provider": verification.provider,
            "sandbox": verification.sandbox,
            "result": "verified",
            "legal_representative": str(representative.pk),
            "level": level,
            **extra,
        },
    )
    return verification


def _parse_amount(text: str) -> Decimal | None:
    try:
        value = Decimal(str(text).strip().removeprefix("¥").strip())
    except (InvalidOperation, ValueError):
        return None
    return value.quantize(Decimal("0.01")) if value.is_finite() else None


def confirm_transfer(
    verification: OrganizationVerification, actor: User, *, amount: str, code: str, context: RequestContext
) -> OrganizationVerification:
    """Confirm the amount and code read from the statement. TransferMismatch (400, with
    ``remaining_attempts``) on a wrong pair; the 5th wrong one rejects the verification."""
    org = verification.organization
    role = require_organization_manager(actor, org.pk, "confirm the transfer")
    with transaction.atomic():  # the attempt is counted and committed whatever follows
        locked = OrganizationVerification.objects.select_for_update().get(pk=verification.pk)
        if locked.method != Method.BANK_TRANSFER or locked.status != Status.PENDING:
            raise OrganizationVerificationNotPending("this verification is not a pending bank transfer")
        expired = locked.expires_at is not None and locked.expires_at <= timezone.now()
        expected_amount = vault.unseal_text(bytes(locked.amount_sealed or b""), purpose=PURPOSE_AMOUNT)
        expected_code = vault.unseal_text(bytes(locked.code_sealed or b""), purpose=PURPOSE_CODE)
        given = _parse_amount(amount)
        amount_ok = given is not None and hmac.compare_digest(f"{given:.2f}", expected_amount)
        code_ok = hmac.compare_digest(code.strip().upper().encode(), expected_code.encode())
        if not expired:
            locked.attempts += 1
            locked.save(update_fields=["attempts"])
    attempt = {"attempt": locked.attempts, "acting_as": acting_as(actor, org, role)}
    if expired:
        _reject(
            locked,
            reason="the transfer expired unconfirmed",
            decided_by=None,
            context=context,
            step="confirm",
        )
        raise OrganizationVerificationNotPending("the transfer expired; start a new verification")
    if amount_ok and code_ok:
        return _verify(locked, decided_by=actor, context=context, extra=attempt)
    remaining = max(0, TRANSFER_MAX_ATTEMPTS - locked.attempts)
    record_event(
        "organization_transfer_confirmation_failed",
        org,
        context,
        organization=org,
        payload={
            "method": Method.BANK_TRANSFER,
            "verification": str(locked.pk),
            "provider": locked.provider,
            "result": "mismatch",
            "remaining_attempts": remaining,
            **attempt,
        },
    )
    if remaining == 0:
        _reject(
            locked,
            reason=f"{TRANSFER_MAX_ATTEMPTS} wrong confirmations",
            decided_by=None,
            context=context,
            step="confirm",
        )
    raise TransferMismatch("the amount or the code is not the transfer's", remaining_attempts=remaining)


def pending_licence_reviews() -> Any:
    return OrganizationVerification.objects.filter(
        method=Method.OPERATOR_REVIEW, status=Status.PENDING
    ).select_related("organization", "requested_by")


def licence_image(verification: OrganizationVerification) -> bytes:
    return vault.unseal_bytes(bytes(verification.licence_sealed or b""), purpose=PURPOSE_LICENCE)


def decide_licence_review(
    verification: OrganizationVerification,
    operator: User,
    *,
    approve: bool,
    reason: str = "",
    context: RequestContext,
) -> OrganizationVerification:
    """An operator (staff user) approves or rejects the business licence; a rejection needs a reason."""
    if not (getattr(operator, "is_staff", False) and operator.is_active):
        raise NotPermitted("only an operator may decide a business licence review")
    reason = clean_line(reason, field="reason", max_length=500)
    locked = OrganizationVerification.objects.select_related("organization").get(pk=verification.pk)
    if locked.method != Method.OPERATOR_REVIEW or locked.status != Status.PENDING:
        raise OrganizationVerificationNotPending("this review was decided already")
    if approve:  # _verify decides by a conditional update: two operators cannot both decide
        extra = {"operator": str(operator.pk), "reason": reason}
        return _verify(locked, decided_by=operator, context=context, extra=extra)
    if not reason:
        raise InvalidLicence("a rejection needs a reason the organisation can act on")
    return _reject(locked, reason=reason, decided_by=operator, context=context, step="review")


def organization_summary(org: Organization) -> dict[str, Any]:
    return {
        "id": str(org.pk),
        "name": org.name,
        "kind": org.kind,
        "uscc": org.uscc,
        "status": org.verification_status,
        "verified_at": org.verified_at,
        "verification_method": org.verification_method,
        "legal_representative": {
            "name": org.legal_rep_name,
            "id_type": org.legal_rep_id_type,
            "id_number_masked": org.legal_rep_id_number_masked,
        },
    }


def verification_summary(verification: OrganizationVerification) -> dict[str, Any]:
    return {
        "id": str(verification.pk),
        "method": verification.method,
        "status": verification.status,
        "outcome": verification.outcome,
        "provider": verification.provider,
        "sandbox": verification.sandbox,
        "attempts": verification.attempts,
        "remaining_attempts": max(0, TRANSFER_MAX_ATTEMPTS - verification.attempts)
        if verification.method == Method.BANK_TRANSFER
        else None,
        "bank_account_masked": verification.bank_account_masked,
        "reason": verification.reason,
        "created_at": verification.created_at,
        "decided_at": verification.decided_at,
        "expires_at": verification.expires_at,
    }

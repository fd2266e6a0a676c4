"""Grants: who may use a seal, on which documents, for how long (issue 9 items 5, 6 and 8).

A grant names one member, one department (its members at the time of use, by
``Membership.department``), or unattended signing by the organisation's own integrations
(``automatic``). Only a seal manager (accounts.permissions.SEAL_MANAGE_ROLES) grants, and never to
herself: a seal is never used under a grant its user made (三权分立), which also holds for a
department grant covering the manager who made it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from econtract.accounts.enterprise_models import Department
from econtract.accounts.models import Membership, User
from econtract.accounts.organizations import acting_as
from econtract.accounts.permissions import (
    SEAL_AUDIT_ROLES,
    SEAL_MANAGE_ROLES,
    require_seal_manager,
    role_in,
)
from econtract.evidence.services import RequestContext, record_event
from econtract.seals.errors import InvalidGrant, SealNotActive, SealRightsSeparated
from econtract.seals.facts import EnvelopeFacts
from econtract.seals.models import ApprovalRequest, Seal, SealGrant
from econtract.textinput import UnsafeText, clean_line

MAX_GRANT_VALIDITY = timedelta(days=5 * 365 + 1)  # a grant is re-made, not renewed forever
SCOPE_KEYS = frozenset({"templates", "categories", "max_amount", "currency"})
MAX_SCOPE_IDS = 100
MAX_SCOPE_ID_LENGTH = 64
MAX_AMOUNT_DIGITS = 18  # SealUsage/ApprovalRequest store amounts as DECIMAL(20, 2)
CURRENCY = re.compile(r"[A-Z]{3}")  # ISO 4217 alphabetic code


def clean_scope(scope: Any) -> dict[str, Any]:
    """The stored form of a grant's scope; InvalidGrant for anything else. ``{}`` covers every document.

    ``max_amount`` is a positive decimal with at most two places, kept as a string ("5000.00"), and
    needs ``currency``: a limit is meaningless without its unit, and a currency alone limits nothing.
    """
    if scope is None:
        return {}
    if not isinstance(scope, dict):
        raise InvalidGrant("scope must be an object")
    unknown = set(scope) - SCOPE_KEYS
    if unknown:
        raise InvalidGrant(f"unknown scope keys: {', '.join(sorted(map(str, unknown)))}")
    cleaned: dict[str, Any] = {}
    for key in ("templates", "categories"):
        if key not in scope:
            continue
        ids = scope[key]
        if not isinstance(ids, list) or not ids or len(ids) > MAX_SCOPE_IDS:
            raise InvalidGrant(f"scope.{key} must be a list of 1 to {MAX_SCOPE_IDS} ids")
        values = []
        for value in ids:
            if not isinstance(value, str) or not value.strip():
                raise InvalidGrant(f"scope.{key} holds ids as strings")
            try:
                values.append(clean_line(value, field=f"scope.{key}", max_length=MAX_SCOPE_ID_LENGTH))
            except UnsafeText as exc:
                raise InvalidGrant(str(exc)) from None
        cleaned[key] = sorted(set(values))
    if ("max_amount" in scope) != ("currency" in scope):
        raise InvalidGrant("scope.max_amount and scope.currency go together")
    if "max_amount" in scope:
        cleaned["max_amount"] = str(_amount(scope["max_amount"]))
        currency = scope["currency"]
        if not isinstance(currency, str) or not CURRENCY.fullmatch(currency):
            raise InvalidGrant("scope.currency must be an ISO 4217 code such as CNY")
        cleaned["currency"] = currency
    return cleaned


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InvalidGrant("scope.max_amount must be a decimal number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidGrant("scope.max_amount must be a decimal number") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidGrant("scope.max_amount must be positive")
    if amount.adjusted() >= MAX_AMOUNT_DIGITS - 2:
        raise InvalidGrant("scope.max_amount is too large")
    quantized = amount.quantize(Decimal("0.01"))
    if quantized != amount:
        raise InvalidGrant("scope.max_amount has at most two decimal places")
    return quantized


def scope_refusal(scope: dict[str, Any], facts: EnvelopeFacts) -> str | None:
    """Why the scope does not cover the envelope, or None when it does.

    A template or category scope covers only envelopes made from one of them: until steps 6 and 7
    give envelopes a template or category, such a grant covers none (narrowing never widens).
    """
    if "templates" in scope and facts.template_id not in scope["templates"]:
        return "the grant covers other templates only"
    if "categories" in scope and facts.category_id not in scope["categories"]:
        return "the grant covers other document categories only"
    if "max_amount" in scope:
        if facts.amount is None:
            return "the grant has an amount limit and this envelope states no amount"
        if facts.currency != scope["currency"]:
            return f"the grant's limit is in {scope['currency']}, this envelope is in {facts.currency}"
        if facts.amount > Decimal(scope["max_amount"]):
            return f"the amount is over the grant's limit of {scope['max_amount']} {scope['currency']}"
    return None


def live_grants(seal: Seal, *, at: datetime | None = None) -> QuerySet[SealGrant]:
    now = at or timezone.now()
    return SealGrant.objects.filter(
        seal=seal, revoked_at__isnull=True, valid_from__lte=now, valid_until__gt=now
    )


def grants_for_user(seal: Seal, user: User, *, at: datetime | None = None) -> QuerySet[SealGrant]:
    """Her live grants on the seal: her own, and her department's (the department she is in now).
    Never one she made herself."""
    department_id = (
        Membership.objects.filter(organization_id=seal.organization_id, user=user)
        .values_list("department_id", flat=True)
        .first()
    )
    names_her = Q(grantee=SealGrant.Grantee.USER, user=user)
    if department_id is not None:
        names_her |= Q(grantee=SealGrant.Grantee.DEPARTMENT, department_id=department_id)
    return live_grants(seal, at=at).filter(names_her).exclude(granted_by=user).order_by("created_at")


def grant_use(
    seal: Seal,
    actor: User,
    *,
    user: User | None = None,
    department: Department | None = None,
    automatic: bool = False,
    valid_from: datetime | None = None,
    valid_until: datetime,
    scope: Any,
    requires_approval: bool = False,
    note: str = "",
    context: RequestContext,
) -> SealGrant:
    role = require_seal_manager(actor, seal.organization_id, "grant use of a seal")
    if sum((user is not None, department is not None, automatic)) != 1:
        raise InvalidGrant("a grant names one member, one department, or automatic signing")
    if user is not None:
        if user.pk == actor.pk:
            raise SealRightsSeparated(
                "a seal manager may not grant use of a seal to herself: another manager must"
            )
        if role_in(seal.organization_id, user) is None:
            raise InvalidGrant("seals are granted only to members of the organisation")
    if department is not None and department.organization_id != seal.organization_id:
        raise InvalidGrant("the department belongs to another organisation")
    if automatic and requires_approval:
        raise InvalidGrant("automatic signing has no one to approve each use; grant it without approval")
    now = timezone.now()
    start = valid_from or now
    if valid_until <= now:
        raise InvalidGrant("valid_until must be in the future")
    if valid_until <= start:
        raise InvalidGrant("valid_until must be after valid_from")
    if valid_until - start > MAX_GRANT_VALIDITY:
        raise InvalidGrant("a grant is valid for at most five years")
    try:
        note = clean_line(note, field="note", max_length=500)
    except UnsafeText as exc:
        raise InvalidGrant(str(exc)) from None
    cleaned = clean_scope(scope)
    with transaction.atomic():
        current = Seal.objects.select_for_update().get(pk=seal.pk)
        if current.status not in (Seal.Status.ACTIVE, Seal.Status.SUSPENDED):
            raise SealNotActive(f"the seal is {current.status}: it can no longer be granted")
        grant = SealGrant.objects.create(
            seal=seal,
            grantee=(
                SealGrant.Grantee.USER
                if user is not None
                else SealGrant.Grantee.DEPARTMENT
                if department is not None
                else SealGrant.Grantee.AUTOMATIC
            ),
            user=user,
            department=department,
            scope=cleaned,
            requires_approval=requires_approval,
            valid_from=start,
            valid_until=valid_until,
            note=note,
            granted_by=actor,
        )
        record_event(
            "seal_granted",
            seal,
            context,
            organization=seal.organization,
            payload={
                "grant": str(grant.pk),
                "grantee": grant.grantee,
                "user": str(user.pk) if user is not None else None,
                "department": str(department.pk) if department is not None else None,
                "scope": cleaned,
                "requires_approval": requires_approval,
                "valid_from": start.isoformat(),
                "valid_until": valid_until.isoformat(),
                "by": acting_as(actor, seal.organization, role),
            },
        )
    return grant


def revoke_grant(grant: SealGrant, actor: User, *, reason: str = "", context: RequestContext) -> SealGrant:
    """At once and for good; approvals waiting under it are withdrawn. Revoking twice is a no-op."""
    seal = grant.seal
    role = require_seal_manager(actor, seal.organization_id, "revoke a seal grant")
    try:
        reason = clean_line(reason, field="reason", max_length=500)
    except UnsafeText as exc:
        raise InvalidGrant(str(exc)) from None
    with transaction.atomic():
        current = SealGrant.objects.select_for_update().get(pk=grant.pk)
        if current.revoked_at is not None:
            return current
        _revoke(current, actor, reason)
        record_event(
            "seal_grant_revoked",
            seal,
            context,
            organization=seal.organization,
            payload={
                "grant": str(current.pk),
                "reason": reason,
                "by": acting_as(actor, seal.organization, role),
            },
        )
    return current


def _revoke(grant: SealGrant, actor: User, reason: str) -> None:
    grant.revoked_at = timezone.now()
    grant.revoked_by = actor
    grant.revoke_reason = reason
    grant.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    ApprovalRequest.objects.filter(
        grant=grant, status__in=[ApprovalRequest.Status.PENDING, ApprovalRequest.Status.APPROVED]
    ).update(status=ApprovalRequest.Status.WITHDRAWN)


def revoke_all_grants(seal: Seal, actor: User, reason: str) -> list[str]:
    """When the seal itself is revoked or retired (inside its transaction): the ids revoked."""
    revoked = []
    for grant in SealGrant.objects.select_for_update().filter(seal=seal, revoked_at__isnull=True):
        _revoke(grant, actor, reason)
        revoked.append(str(grant.pk))
    return revoked


def grants_of(seal: Seal, actor: User) -> QuerySet[SealGrant]:
    """Managers and auditors see every grant of the seal; any other member the ones naming her
    or her department."""
    role = role_in(seal.organization_id, actor)
    grants = SealGrant.objects.filter(seal=seal).select_related("user", "department")
    if role in SEAL_MANAGE_ROLES or role in SEAL_AUDIT_ROLES:
        return grants
    department_id = (
        Membership.objects.filter(organization_id=seal.organization_id, user=actor)
        .values_list("department_id", flat=True)
        .first()
    )
    mine = Q(user=actor)
    if department_id is not None:
        mine |= Q(department_id=department_id)
    return grants.filter(mine)


def grant_of(seal: Seal, grant_id: Any) -> SealGrant:
    """The seal's grant; SealGrant.DoesNotExist (404) for a grant of another seal."""
    return SealGrant.objects.select_related("seal", "seal__organization").get(seal=seal, pk=grant_id)

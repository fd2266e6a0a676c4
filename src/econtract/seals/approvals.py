"""Approval per use (issue 9 item 7): one request, one decision, one signature.

A request is bound to (seal, envelope, the envelope's original document SHA-256) and to the person
who asked; approved, it is consumed by the one use it allows (seals.services.record_use), so it can
be neither reused nor carried to another envelope or document. Managers decide, never on their own
request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from econtract.accounts.models import User
from econtract.accounts.organizations import acting_as
from econtract.accounts.permissions import SEAL_AUDIT_ROLES, SEAL_MANAGE_ROLES, require_seal_manager, role_in
from econtract.evidence.services import RequestContext, record_event
from econtract.seals.errors import (
    ApprovalNotPending,
    InvalidGrant,
    SealNotActive,
    SealNotAuthorized,
    SealRightsSeparated,
)
from econtract.seals.facts import EnvelopeFacts
from econtract.seals.grants import grants_for_user, scope_refusal
from econtract.seals.models import ApprovalRequest, Seal, SealGrant
from econtract.textinput import UnsafeText, clean_line


def _line(value: str, field: str, max_length: int = 500) -> str:
    try:
        return clean_line(value, field=field, max_length=max_length)
    except UnsafeText as exc:
        raise InvalidGrant(str(exc)) from None


def usable_approval(
    seal: Seal, user: User, facts: EnvelopeFacts, grants: Sequence[SealGrant]
) -> ApprovalRequest | None:
    """Her approved, unused request for exactly this envelope and original document, under one of
    ``grants`` (live and covering, as authorize_use found them)."""
    return (
        ApprovalRequest.objects.filter(
            seal=seal,
            requested_by=user,
            envelope_id=facts.envelope_id,
            document_sha256=facts.original_sha256,
            status=ApprovalRequest.Status.APPROVED,
            used_at__isnull=True,
            grant__in=[grant.pk for grant in grants],
        )
        .select_related("grant")
        .order_by("decided_at")
        .first()
    )


def request_approval(
    seal: Seal, user: User, facts: EnvelopeFacts, *, note: str = "", context: RequestContext
) -> ApprovalRequest:
    """Ask to use the seal once on this envelope. She must hold a live grant covering it that
    requires approval; asking again while a request is pending returns that request."""
    note = _line(note, "note")
    current = Seal.objects.select_related("organization").get(pk=seal.pk)
    if current.status != Seal.Status.ACTIVE:
        raise SealNotActive(f"the seal is {current.status}")
    grants = list(grants_for_user(current, user))
    if not grants:
        raise SealNotAuthorized("you hold no live grant to use this seal")
    covering = [grant for grant in grants if scope_refusal(grant.scope, facts) is None]
    if not covering:
        raise SealNotAuthorized(
            f"no grant of yours covers this envelope: {scope_refusal(grants[0].scope, facts)}"
        )
    needing = [grant for grant in covering if grant.requires_approval]
    if len(needing) < len(covering):
        raise InvalidGrant("your grant covers this envelope without approval: no request is needed")
    with transaction.atomic():
        pending = (
            ApprovalRequest.objects.select_for_update()
            .filter(
                seal=current,
                requested_by=user,
                envelope_id=facts.envelope_id,
                document_sha256=facts.original_sha256,
                status=ApprovalRequest.Status.PENDING,
            )
            .first()
        )
        if pending is not None:
            return pending
        approval = ApprovalRequest.objects.create(
            seal=current,
            grant=needing[0],
            envelope_id=facts.envelope_id,
            party_id=facts.party_id,
            document_sha256=facts.original_sha256,
            envelope_title=_line(facts.title, "title", 300),
            amount=facts.amount,
            currency=facts.currency if facts.amount is not None else "",
            requested_by=user,
            request_note=note,
        )
        record_event(
            "seal_approval_requested",
            current,
            context,
            organization=current.organization,
            document_sha256=facts.original_sha256,
            payload={
                "approval": str(approval.pk),
                "grant": str(approval.grant_id),
                "envelope": str(facts.envelope_id),
                "party": str(facts.party_id),
                "by": acting_as(user, current.organization),
            },
        )
    return approval


def decide_approval(
    approval: ApprovalRequest, actor: User, *, approve: bool, reason: str = "", context: RequestContext
) -> ApprovalRequest:
    """A seal manager approves or rejects (a rejection says why); never her own request; once."""
    seal = approval.seal
    role = require_seal_manager(actor, seal.organization_id, "decide on a seal approval")
    if approval.requested_by_id == actor.pk:
        raise SealRightsSeparated("no one decides on her own request to use a seal")
    reason = _line(reason, "reason")
    if not approve and not reason:
        raise InvalidGrant("a rejection needs a reason")
    with transaction.atomic():
        current = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
        if current.status != ApprovalRequest.Status.PENDING:
            raise ApprovalNotPending(f"the request is {current.status}, not pending")
        if approve and not SealGrant.objects.filter(pk=current.grant_id, revoked_at__isnull=True).exists():
            raise ApprovalNotPending("the grant the request was made under has been revoked")
        current.status = ApprovalRequest.Status.APPROVED if approve else ApprovalRequest.Status.REJECTED
        current.decided_by = actor
        current.decided_at = timezone.now()
        current.decision_reason = reason
        current.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        record_event(
            "seal_approval_approved" if approve else "seal_approval_rejected",
            seal,
            context,
            organization=seal.organization,
            document_sha256=current.document_sha256,
            payload={
                "approval": str(current.pk),
                "envelope": str(current.envelope_id),
                "requested_by": str(current.requested_by_id),
                "reason": reason,
                "by": acting_as(actor, seal.organization, role),
            },
        )
    return current


def approvals_of(seal: Seal, actor: User, *, status: str | None = None) -> QuerySet[ApprovalRequest]:
    """Managers and auditors see every request on the seal; any other member her own."""
    requests = ApprovalRequest.objects.filter(seal=seal).select_related("requested_by", "decided_by")
    if role_in(seal.organization_id, actor) not in SEAL_MANAGE_ROLES | SEAL_AUDIT_ROLES:
        requests = requests.filter(requested_by=actor)
    if status:
        requests = requests.filter(status=status)
    return requests.order_by("-created_at", "-id")


def approval_visible_to(user: User, approval_id: Any) -> ApprovalRequest:
    """The request, for a member of its seal's organisation; ApprovalRequest.DoesNotExist otherwise."""
    return (
        ApprovalRequest.objects.for_member(user)
        .select_related("seal", "seal__organization", "requested_by")
        .get(pk=approval_id)
    )

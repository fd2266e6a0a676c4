"""Who may manage which envelope: the one place the role rule is written.

A member manages the envelopes she created; the owner, admins and legal manage all of their
organisation's. A seal keeper is, for envelopes, a member. Seeing an envelope as a *party* (to sign
or decline it) is not management and is decided by ``signing.services.user_may_act_as``.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any, Protocol

from django.db.models import Q

from econtract.accounts.errors import NotPermitted
from econtract.accounts.models import Membership

logger = logging.getLogger("econtract.accounts")


class Action(StrEnum):
    VIEW = "view"
    EDIT = "edit"
    SEND = "send"
    VOID = "void"
    REMIND = "remind"


# Roles that manage every envelope of their organisation, whoever created it.
MANAGE_ALL_ROLES = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.LEGAL})


class OwnedByOrganization(Protocol):
    pk: Any
    organization_id: Any
    created_by_id: Any


def role_in(organization_id: Any, user: Any) -> str | None:
    """The user's role in the organisation, or None when she is not a member (or not logged in)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Membership.objects.filter(organization_id=organization_id, user=user)
        .values_list("role", flat=True)
        .first()
    )


def may_manage_envelope(user: Any, envelope: OwnedByOrganization, action: Action) -> bool:
    """Every action has the same rule today; the action is passed so that one may differ later."""
    role = role_in(envelope.organization_id, user)
    if role is None:
        return False
    return role in MANAGE_ALL_ROLES or envelope.created_by_id == user.pk


def require(user: Any, envelope: OwnedByOrganization, action: Action) -> None:
    """NotPermitted (403 ``not_permitted``) unless ``user`` may take ``action`` on ``envelope``."""
    if not may_manage_envelope(user, envelope, action):
        # Not an evidence event: the envelope's trail is shown to its parties and records what was
        # done to it; a colleague's refused attempt is an operations matter, so it is logged.
        logger.info("refused %s of envelope %s to user %s", action, envelope.pk, getattr(user, "pk", None))
        raise NotPermitted(
            f"you may not {action} this envelope: only the member who created it, or the "
            "organisation's owner, admins and legal, may"
        )


def managed_envelopes_q(user: Any, prefix: str = "") -> Q:
    """A filter for the envelopes ``user`` manages, for querysets (``prefix`` leads to the envelope)."""
    managing_orgs = Membership.objects.filter(user=user, role__in=MANAGE_ALL_ROLES).values("organization_id")
    member_orgs = Membership.objects.filter(user=user).values("organization_id")
    return Q(**{f"{prefix}organization_id__in": managing_orgs}) | Q(
        **{f"{prefix}created_by": user, f"{prefix}organization_id__in": member_orgs}
    )


# --- managing the organisation itself (accounts.organizations) ----------------------------------

# Roles that manage the organisation: its verification, members, invitations, roles and departments.
MANAGE_ORGANIZATION_ROLES = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN})


def may_manage_organization(user: Any, organization_id: Any) -> bool:
    return role_in(organization_id, user) in MANAGE_ORGANIZATION_ROLES


def require_organization_manager(user: Any, organization_id: Any, what: str) -> str:
    """The caller's role; NotPermitted (403) unless she is the organisation's owner or an admin."""
    role = role_in(organization_id, user)
    if role not in MANAGE_ORGANIZATION_ROLES:
        logger.info(
            "refused %s in organisation %s to user %s", what, organization_id, getattr(user, "pk", None)
        )
        raise NotPermitted(f"only the organisation's owner and admins may {what}")
    return role


def may_assign_role(actor_role: str, current_role: str | None, new_role: str) -> bool:
    """An owner assigns any role; an admin any but owner, and never changes an owner's role."""
    if actor_role == Membership.Role.OWNER:
        return True
    if actor_role != Membership.Role.ADMIN:
        return False
    return Membership.Role.OWNER not in {current_role, new_role}


# --- organisation seals (seals.rights): three separated rights, 三权分立 -------------------------

# Managing a seal: create it, grant and revoke its use, suspend, resume, revoke and retire it.
SEAL_MANAGE_ROLES = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.SEAL_KEEPER})
# Auditing its use: read the usage log of every seal of the organisation and export it.
SEAL_AUDIT_ROLES = frozenset({Membership.Role.LEGAL, Membership.Role.AUDITOR})
# Using a seal is no role: it is a live grant (seals.models.SealGrant), made by a manager for
# someone else. Each membership has one role, so no one holds managing and auditing together, and a
# manager never grants use to herself: no one holds all three rights by default.


def may_manage_seals(user: Any, organization_id: Any) -> bool:
    return role_in(organization_id, user) in SEAL_MANAGE_ROLES


def may_audit_seals(user: Any, organization_id: Any) -> bool:
    return role_in(organization_id, user) in SEAL_AUDIT_ROLES


def require_seal_manager(user: Any, organization_id: Any, what: str) -> str:
    """The caller's role; NotPermitted (403) unless she is the owner, an admin or a seal keeper."""
    role = role_in(organization_id, user)
    if role not in SEAL_MANAGE_ROLES:
        logger.info(
            "refused %s in organisation %s to user %s", what, organization_id, getattr(user, "pk", None)
        )
        raise NotPermitted(f"only the organisation's owner, admins and seal keepers may {what}")
    return role


def require_seal_auditor(user: Any, organization_id: Any) -> str:
    """The caller's role; NotPermitted (403) unless she is legal or an auditor of the organisation."""
    role = role_in(organization_id, user)
    if role not in SEAL_AUDIT_ROLES:
        logger.info(
            "refused seal audit in organisation %s to user %s", organization_id, getattr(user, "pk", None)
        )
        raise NotPermitted("only the organisation's legal staff and auditors may read seal usage")
    return role

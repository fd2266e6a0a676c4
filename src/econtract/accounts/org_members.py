"""Members of an organisation: invitations by email, roles and departments.

Only the owner and admins manage them (accounts.permissions); an admin never grants or changes the
owner role, and the last owner cannot be demoted. An invitation is accepted by its link while logged
in with the address it was sent to. Every change is an evidence event on the organisation, naming
the member who made it and her role (经办人).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from econtract.accounts.errors import (
    InvalidDepartment,
    InvitationEmailMismatch,
    InvitationInvalid,
    LastOwner,
    NotPermitted,
)
from econtract.accounts.models import Department, Invitation, Membership, Organization, User
from econtract.accounts.organizations import acting_as
from econtract.accounts.permissions import may_assign_role, require_organization_manager
from econtract.evidence.services import RequestContext, record_event
from econtract.notifications.services import About, send_email
from econtract.textinput import clean_line

INVITATION_VALID_FOR = timedelta(days=7)
ROLES = frozenset(Membership.Role.values)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_url(token: str) -> str:
    return f"{settings.BASE_URL}/organizations/invitations/{token}"


def department_of(org: Organization, department_id: Any) -> Department | None:
    if department_id in (None, ""):
        return None
    found = Department.objects.filter(pk=department_id, organization=org).first()
    if found is None:
        raise InvalidDepartment("no such department in this organisation")
    return found


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidDepartment(f"unknown role {role!r}; one of {', '.join(sorted(ROLES))}")
    return role


# --- invitations --------------------------------------------------------------------------------


def invite(
    org: Organization,
    actor: User,
    *,
    email: str,
    role: str = Membership.Role.MEMBER,
    department_id: Any = None,
    context: RequestContext,
) -> tuple[Invitation, str]:
    """Email an invitation; returns it and its token (shown nowhere else). Owner or admin only."""
    actor_role = require_organization_manager(actor, org.pk, "invite members")
    role = _check_role(role)
    if not may_assign_role(actor_role, None, role):
        raise NotPermitted("only the owner may invite another owner")
    email = clean_line(email, field="email", max_length=254).lower()
    if "@" not in email:
        raise InvalidDepartment("an invitation needs an email address")
    department = department_of(org, department_id)
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = Invitation.objects.create(
            organization=org,
            email=email,
            role=role,
            department=department,
            token_hash=_hash(token),
            invited_by=actor,
            expires_at=timezone.now() + INVITATION_VALID_FOR,
        )
        record_event(
            "organization_member_invited",
            org,
            context,
            organization=org,
            payload={
                "invitation": str(invitation.pk),
                "email": email,
                "role": role,
                "department": str(department.pk) if department else None,
                "acting_as": acting_as(actor, org, actor_role),
            },
        )
        body = _(
            "%(inviter)s invites you to join %(organization)s on econtract as %(role)s.\n\n"
            "Log in (or register) with this address, then open:\n%(url)s\n\nThe link is valid for 7 days."
        ) % {
            "inviter": actor.display_name,
            "organization": org.name,
            "role": Membership.Role(role).label,
            "url": invitation_url(token),
        }
        send_email(
            [email],
            _("Invitation to join %(organization)s") % {"organization": org.name},
            body,
            purpose="organization_invitation",
            about=About(subject=org, on_sent="", payload={"invitation": str(invitation.pk)}),
            expires_at=invitation.expires_at,
        )
    return invitation, token


def invitation_for_token(token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_related("organization", "department")
        .filter(token_hash=_hash(token))
        .first()
    )
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= timezone.now()
    ):
        raise InvitationInvalid("this invitation is unknown, expired or used already")
    return invitation


def accept_invitation(token: str, user: User, *, context: RequestContext) -> Membership:
    """The logged-in ``user`` joins; she must hold the address the invitation was sent to."""
    with transaction.atomic():
        invitation = invitation_for_token(token)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at is not None:
            raise InvitationInvalid("this invitation was used already")
        if not user.email_verified or user.email.lower() != invitation.email:
            raise InvitationEmailMismatch(
                "this invitation was sent to another address: log in with that address to accept it"
            )
        org = invitation.organization
        membership, created = Membership.objects.get_or_create(
            user=user,
            organization=org,
            defaults={"role": invitation.role, "department": invitation.department},
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        record_event(
            "organization_member_joined",
            org,
            context,
            organization=org,
            payload={
                "invitation": str(invitation.pk),
                "member": str(user.pk),
                "role": membership.role,
                "already_member": not created,
            },
        )
    return membership


# --- members and roles --------------------------------------------------------------------------


def members_of(org: Organization) -> Any:
    return Membership.objects.filter(organization=org).select_related("user", "department")


def membership_of(org: Organization, user_id: Any) -> Membership:
    found = members_of(org).filter(user_id=user_id).first()
    if found is None:
        raise Http404("no such member")
    return found


def change_member(
    org: Organization,
    actor: User,
    member_user_id: Any,
    *,
    role: str | None = None,
    department_id: Any = None,
    set_department: bool = False,
    context: RequestContext,
) -> Membership:
    """Change a member's role and/or department. Owner or admin only; see may_assign_role."""
    actor_role = require_organization_manager(actor, org.pk, "change members' roles")
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership_of(org, member_user_id).pk)
        before = {"role": membership.role, "department": str(membership.department_id or "") or None}
        if role is not None and role != membership.role:
            role = _check_role(role)
            if not may_assign_role(actor_role, membership.role, role):
                raise NotPermitted("only the owner may grant the owner role or change an owner's role")
            if membership.role == Membership.Role.OWNER:
                owners = Membership.objects.filter(organization=org, role=Membership.Role.OWNER).count()
                if owners <= 1:
                    raise LastOwner("the organisation's last owner cannot give up the role")
            membership.role = role
        if set_department:
            membership.department = department_of(org, department_id)
        membership.save(update_fields=["role", "department"])
        record_event(
            "organization_member_changed",
            org,
            context,
            organization=org,
            payload={
                "member": str(membership.user_id),
                "before": before,
                "after": {"role": membership.role, "department": str(membership.department_id or "") or None},
                "acting_as": acting_as(actor, org, actor_role),
            },
        )
    return membership


# --- departments --------------------------------------------------------------------------------


def departments_of(org: Organization) -> Any:
    return Department.objects.filter(organization=org)


def create_department(
    org: Organization, actor: User, *, name: str, parent_id: Any = None, context: RequestContext
) -> Department:
    actor_role = require_organization_manager(actor, org.pk, "manage departments")
    name = clean_line(name, field="department name", max_length=200)
    if not name:
        raise InvalidDepartment("a department needs a name")
    parent = department_of(org, parent_id)
    # the constraint alone lets two top-level departments share a name (NULL parents are distinct)
    if Department.objects.filter(organization=org, parent=parent, name=name).exists():
        raise InvalidDepartment("a department of this name exists already under the same parent")
    try:
        with transaction.atomic():
            department = Department.objects.create(organization=org, parent=parent, name=name)
            record_event(
                "organization_department_created",
                org,
                context,
                organization=org,
                payload={
                    "department": str(department.pk),
                    "name": name,
                    "parent": str(parent.pk) if parent else None,
                    "acting_as": acting_as(actor, org, actor_role),
                },
            )
    except IntegrityError:
        raise InvalidDepartment("a department of this name exists already under the same parent") from None
    return department

"""Account verbs: create users and organisations, issue and check API keys."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from econtract.accounts.errors import InvalidApiKey
from econtract.accounts.models import ApiKey, Membership, Organization, User
from econtract.evidence.services import RequestContext, record_event
from econtract.textinput import clean_line

API_KEY_PREFIX = "ek_"


def create_user(email: str, password: str | None, full_name: str, *, email_verified: bool = False) -> User:
    full_name = clean_line(full_name, field="full name", max_length=200)
    email = clean_line(email, field="email", max_length=254)
    user = User.objects.create_user(email=email, password=password, full_name=full_name)
    if email_verified:
        user.email_verified_at = timezone.now()
        user.assurance_level = "L1"  # contact verified; identity.assurance raises it from verifications
        user.save(update_fields=["email_verified_at", "assurance_level"])
    return user


@transaction.atomic
def create_personal_account(
    email: str,
    password: str | None,
    full_name: str,
    *,
    email_verified: bool = False,
    context: RequestContext | None = None,
) -> User:
    """A user always has a personal organisation, so everything she owns is organisation-scoped."""
    user = create_user(email, password, full_name, email_verified=email_verified)
    org = Organization.objects.create(name=user.full_name or user.email, kind=Organization.Kind.PERSONAL)
    Membership.objects.create(user=user, organization=org, role=Membership.Role.OWNER)
    record_event(
        "registered",
        user,
        context or RequestContext.system(),
        organization=org,
        payload={"email": user.email, "email_verified": email_verified},
    )
    return user


@transaction.atomic
def create_enterprise(name: str, owner: User) -> Organization:
    name = clean_line(name, field="organisation name", max_length=200)
    org = Organization.objects.create(name=name, kind=Organization.Kind.ENTERPRISE)
    Membership.objects.create(user=owner, organization=org, role=Membership.Role.OWNER)
    return org


def add_member(org: Organization, user: User, role: str = Membership.Role.MEMBER) -> Membership:
    membership, _ = Membership.objects.get_or_create(user=user, organization=org, defaults={"role": role})
    return membership


def primary_organization(user: User) -> Organization:
    """The organisation a user acts for by default: her first enterprise, else her personal one."""
    memberships = user.memberships.select_related("organization").order_by("created_at")
    for membership in memberships:
        if membership.organization.kind == Organization.Kind.ENTERPRISE:
            return membership.organization
    first = memberships.first()
    if first is None:
        org = Organization.objects.create(name=user.display_name, kind=Organization.Kind.PERSONAL)
        Membership.objects.create(user=user, organization=org, role=Membership.Role.OWNER)
        return org
    return first.organization


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(
    user: User, organization: Organization | None = None, name: str = "default"
) -> tuple[ApiKey, str]:
    """Return the stored key and the secret, which is never retrievable again."""
    org = organization or primary_organization(user)
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        user=user, organization=org, name=name, prefix=secret[:10], secret_hash=_hash_secret(secret)
    )
    return key, secret


def authenticate_api_key(secret: str) -> ApiKey:
    if not secret.startswith(API_KEY_PREFIX):
        raise InvalidApiKey("not an econtract API key")
    key = (
        ApiKey.objects.select_related("user", "organization")
        .filter(secret_hash=_hash_secret(secret), revoked_at__isnull=True)
        .first()
    )
    if key is None or not key.user.is_active:
        raise InvalidApiKey("unknown or revoked API key")
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return key


def revoke_api_key(key: ApiKey) -> None:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])

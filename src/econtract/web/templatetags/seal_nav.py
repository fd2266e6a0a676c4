"""``{% manages_seals as flag %}``: whether the user manages any enterprise's seals, so the navigation
offers the approvals inbox only to those who decide requests (accounts.permissions' rule)."""

from __future__ import annotations

from typing import Any

from django import template

from econtract.accounts.models import Membership, Organization
from econtract.accounts.permissions import SEAL_MANAGE_ROLES

register = template.Library()


@register.simple_tag(takes_context=True)
def manages_seals(context: dict[str, Any]) -> bool:
    user = context.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return Membership.objects.filter(
        user=user, role__in=SEAL_MANAGE_ROLES, organization__kind=Organization.Kind.ENTERPRISE
    ).exists()

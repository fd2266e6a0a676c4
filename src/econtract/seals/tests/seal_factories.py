"""Test data for seals: a verified company with one person per role, its seal, and envelope facts.

Everything is made through the real verbs (accounts, seals.services); nothing is faked.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from econtract.accounts.models import Membership, Organization, User
from econtract.accounts.services import add_member
from econtract.accounts.tests.factories import verified_enterprise
from econtract.evidence.services import RequestContext
from econtract.seals import services
from econtract.seals.facts import EnvelopeFacts
from econtract.seals.models import Seal, SealGrant

CONTEXT = RequestContext.system("seals-tests")


@dataclass
class Office:
    """A verified company: 张三 the owner (legal representative), a seal keeper, an admin, legal
    staff, an auditor and two plain members."""

    org: Organization
    owner: User
    keeper: User
    admin: User
    legal: User
    auditor: User
    member: User
    colleague: User


def office(make_user: Any, which: Any = None, prefix: str = "") -> Office:
    org = verified_enterprise(make_user) if which is None else verified_enterprise(make_user, which)
    owner = Membership.objects.get(organization=org, role=Membership.Role.OWNER).user
    people = {}
    for role, name in (
        ("seal_keeper", "印章管理员 Keeper"),
        ("admin", "管理员 Admin"),
        ("legal", "法务 Legal"),
        ("auditor", "审计 Auditor"),
        ("member", "经办人 Member"),
        ("colleague", "同事 Colleague"),
    ):
        user = make_user(f"{prefix}{role}@{org.uscc.lower()}.test", name)
        add_member(org, user, role="member" if role == "colleague" else role)
        people[role] = user
    return Office(
        org=org,
        owner=owner,
        keeper=people["seal_keeper"],
        admin=people["admin"],
        legal=people["legal"],
        auditor=people["auditor"],
        member=people["member"],
        colleague=people["colleague"],
    )


def make_seal(company: Office, **overrides: Any) -> Seal:
    options: dict[str, Any] = {"name": "合同专用章", "seal_type": "contract", "shape": "round"}
    options.update(overrides)
    return services.create_seal(company.org, company.keeper, context=CONTEXT, **options)


def grant(seal: Seal, by: User, *, days: int = 30, **options: Any) -> SealGrant:
    options.setdefault("scope", {})
    return services.grant_use(
        seal, by, valid_until=timezone.now() + timedelta(days=days), context=CONTEXT, **options
    )


def facts(
    company: Office,
    *,
    envelope_id: uuid.UUID | None = None,
    document: bytes = b"%PDF-1.7 the contract",
    amount: str | None = None,
    currency: str = "",
) -> EnvelopeFacts:
    return EnvelopeFacts(
        envelope_id=envelope_id or uuid.uuid4(),
        party_id=uuid.uuid4(),
        sender_organization_id=company.org.pk,
        title="采购合同 Purchase contract",
        original_sha256=hashlib.sha256(document).hexdigest(),
        amount=Decimal(amount) if amount is not None else None,
        currency=currency if amount is not None else "",
    )


def use(decision: services.SealUseDecision, envelope: EnvelopeFacts, user: User | None) -> Any:
    """What signing does after it signed: record the use (a made-up revision digest and serial)."""
    return services.record_use(
        decision,
        envelope,
        used_by=user,
        document_sha256=hashlib.sha256(b"revision " + envelope.original_sha256.encode()).hexdigest(),
        certificate_serial=decision.seal.certificate.serial_number,
        cross_page=False,
        context=CONTEXT,
    )

"""What signing tells seals about one envelope and party, and what seals answers (core.md §4).

Kept apart from the verbs so that grants, approvals and services all read the same two types.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from econtract.seals.models import ApprovalRequest, Seal, SealGrant


@dataclass(frozen=True)
class EnvelopeFacts:
    envelope_id: UUID
    party_id: UUID
    sender_organization_id: UUID
    title: str
    original_sha256: str  # the envelope's original document, as sent (earlier signatures do not change it)
    amount: Decimal | None
    currency: str  # "" when no amount
    template_id: str | None = None  # steps 6/7
    category_id: str | None = None


@dataclass(frozen=True)
class SealUseDecision:
    seal: Seal
    grant: SealGrant
    approval: ApprovalRequest | None

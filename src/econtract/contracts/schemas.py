"""The contract archive's API schemas (contracts.api)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from ninja import Field, Schema
from pydantic import ConfigDict

from econtract.api.pagination import MAX_CURSOR_LENGTH
from econtract.textinput import SingleLineText

StatusName = Literal["in_force", "expiring", "expired", "terminated"]
VerdictName = Literal["valid", "altered", "untrusted", "revoked", "unsigned"]
SortName = Literal["-signed_at", "signed_at", "-expires_on", "expires_on", "-amount", "amount", "relevance"]


class Counterparty(Schema):
    name: str
    email: str | None = None
    uscc: str | None = None


class ContractDetailsIn(Schema):
    """Every field optional: only those given are set (PATCH), the rest stay; an unknown name is refused."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=300)
    number: str | None = Field(None, max_length=100, description="default: the organisation's number pattern")
    archive_number: str | None = Field(None, max_length=100)
    counterparties: list[Counterparty] | None = Field(None, max_length=50)
    amount: Decimal | None = Field(None, description="at most two decimal places; a string keeps every digit")
    currency: str | None = Field(None, max_length=3, description="ISO 4217, default CNY")
    signed_at: dt.datetime | None = None
    effective_on: dt.date | None = None
    expires_on: dt.date | None = None
    department: UUID | None = None
    category: UUID | None = None
    tags: list[str] | None = Field(None, max_length=30)
    metadata: dict[str, Any] | None = Field(
        None, max_length=100, description="the organisation's custom fields"
    )


class ContractItem(Schema):
    id: UUID
    number: str
    title: str
    counterparties: list[dict[str, str]]
    status: str
    verdict: str
    signed_at: dt.datetime | None
    expires_at: dt.date | None = Field(description="the day the contract expires (expires_on)")
    snippet: str = Field("", description="HTML: the matched text, escaped, matches in <mark>")


class ContractPage(Schema):
    items: list[ContractItem]
    next_cursor: str | None = None


class ContractFileOut(Schema):
    id: UUID
    kind: str
    name: str
    content_type: str
    size: int
    sha256: str
    description: str
    created_at: dt.datetime


class ContractLink(Schema):
    id: UUID
    number: str
    title: str
    relation: str
    status: str


class ContractOut(Schema):
    id: UUID
    number: str
    archive_number: str
    title: str
    source: str
    envelope: UUID | None
    counterparties: list[dict[str, str]]
    amount: str | None
    currency: str
    signed_at: dt.datetime | None
    effective_on: dt.date | None
    expires_on: dt.date | None
    status: str
    verdict: str
    verification_warnings: list[str]
    department: UUID | None
    category: UUID | None
    tags: list[str]
    metadata: dict[str, Any]
    amends: UUID | None
    relation: str
    amendments: list[ContractLink]
    legal_hold: bool
    legal_hold_reason: str
    retain_until: dt.date | None
    files: list[ContractFileOut]
    may_edit: bool
    may_manage: bool
    created_at: dt.datetime


class ContractListQuery(Schema):
    q: str | None = Field(
        None, max_length=200, description="words in the text or metadata, Chinese or English"
    )
    status: StatusName | None = None
    verdict: VerdictName | None = None
    category: UUID | None = Field(None, description="this category and those below it")
    tag: str | None = Field(None, max_length=50)
    counterparty: str | None = Field(None, max_length=200, description="part of a counterparty's name")
    department: UUID | None = None
    signed_from: dt.date | None = None
    signed_to: dt.date | None = None
    expires_from: dt.date | None = None
    expires_to: dt.date | None = None
    amount_min: Decimal | None = Field(None, ge=0, le=Decimal("9999999999999999.99"))
    amount_max: Decimal | None = Field(None, ge=0, le=Decimal("9999999999999999.99"))
    sort: SortName | None = Field(None, description="default: relevance with q, else -signed_at")
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=MAX_CURSOR_LENGTH)


class HoldIn(Schema):
    reason: SingleLineText = Field(max_length=300)


class ContractShareIn(Schema):
    email: SingleLineText = Field(max_length=254)
    right: Literal["view", "edit"] = "view"


class ContractShareOut(Schema):
    user: UUID | int
    right: str


class BulkIn(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=500)
    category: UUID | None = None
    department: UUID | None = None
    add_tags: list[str] = Field(default_factory=list, max_length=30)


class BulkOut(Schema):
    updated: int


class CategoryIn(Schema):
    name: SingleLineText = Field(max_length=100)
    parent: UUID | None = None


class CategoryOut(Schema):
    id: UUID
    name: str
    parent: UUID | None


class CategoryPage(Schema):
    items: list[CategoryOut]
    next_cursor: str | None = None


class CustomFieldIn(Schema):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,49}$")
    label: SingleLineText = Field(max_length=100)
    type: Literal["text", "number", "date", "choice"] = "text"
    options: list[SingleLineText] = Field(default_factory=list, max_length=50)
    required: bool = False


class CustomFieldOut(Schema):
    key: str
    label: str
    type: str
    options: list[str]
    required: bool


class CustomFieldPage(Schema):
    items: list[CustomFieldOut]
    next_cursor: str | None = None


class ArchiveSettingsIn(Schema):
    number_pattern: str | None = Field(None, max_length=100)
    reminder_days: int | None = Field(None, ge=0, le=365)
    retention_years: int | None = Field(None, ge=0, le=100)


class ArchiveSettingsOut(Schema):
    number_pattern: str
    reminder_days: int
    retention_years: int


class ContractExportQuery(ContractListQuery):
    format: Literal["csv", "xlsx"] = "csv"


class PackagesIn(Schema):
    ids: list[UUID] = Field(min_length=1, max_length=50)

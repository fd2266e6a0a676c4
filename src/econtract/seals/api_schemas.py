"""The seal API's request and response schemas (seals/api.py), with the constraints the fuzzer meets."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field

from econtract.textinput import SingleLineText

SealTypeName = Literal["official", "contract", "finance", "hr", "invoice", "legal_representative", "custom"]
ShapeName = Literal["round", "oval", "square"]
CODE_PATTERN = r"^(\d{13})?$"


class SealIn(Schema):
    name: SingleLineText = Field(min_length=1, max_length=100, description="what members see: 合同专用章")
    type: SealTypeName
    shape: ShapeName = Field(description="square is the legal representative's seal, and only it")
    code: str = Field("", pattern=CODE_PATTERN, description="the optional 13-digit seal code (lower arc)")
    type_text: SingleLineText = Field(
        "", max_length=20, description="the words on the horizontal line; default: the type's (合同专用章 …)"
    )


class SealCreated(Schema):
    id: UUID
    status: str
    certificate_serial: str
    image_url: str


class SealOut(Schema):
    id: UUID
    organization_id: UUID
    name: str
    type: str
    type_text: str
    shape: str
    code: str
    source: str = Field(description="generated (vector) or uploaded (a scan's red ink)")
    status: str = Field(description="active, suspended, revoked or retired")
    status_reason: str
    status_changed_at: datetime | None
    certificate_serial: str
    certificate_not_after: datetime
    certificate_revoked_at: datetime | None
    image_url: str
    image_sha256: str
    created_at: datetime


class SealPage(Schema):
    items: list[SealOut]
    next_cursor: str | None = None


class StatusChangeIn(Schema):
    reason: SingleLineText = Field("", max_length=500)


class SealRevokeIn(StatusChangeIn):
    key_compromise: bool = Field(
        False, description="the key may be known to others: the certificate is revoked as keyCompromise"
    )


class ScopeIn(Schema):
    templates: list[SingleLineText] | None = Field(None, min_length=1, max_length=100)
    categories: list[SingleLineText] | None = Field(None, min_length=1, max_length=100)
    max_amount: str | None = Field(
        None, pattern=r"^\d{1,16}(\.\d{1,2})?$", description="a positive decimal, two places at most"
    )
    currency: str | None = Field(
        None, pattern=r"^[A-Z]{3}$", description="ISO 4217, required with max_amount"
    )


class GrantIn(Schema):
    user_email: SingleLineText | None = Field(None, min_length=3, max_length=254)
    department_id: UUID | None = None
    automatic: bool = Field(
        False, description="unattended signing of envelopes the organisation sends by API"
    )
    valid_from: datetime | None = Field(None, description="default: now")
    valid_until: datetime
    scope: ScopeIn | None = Field(None, description="omitted or empty: every document")
    requires_approval: bool = False
    note: SingleLineText = Field("", max_length=500)


class GrantOut(Schema):
    id: UUID
    seal_id: UUID
    grantee: str = Field(description="user, department or automatic")
    user_id: UUID | None
    user_email: str | None
    department_id: UUID | None
    scope: dict[str, Any]
    requires_approval: bool
    valid_from: datetime
    valid_until: datetime
    note: str
    granted_by: UUID
    created_at: datetime
    revoked_at: datetime | None
    revoke_reason: str


class GrantPage(Schema):
    items: list[GrantOut]
    next_cursor: str | None = None


class RevokeGrantQuery(Schema):
    reason: SingleLineText = Field("", max_length=500)


class ApprovalOut(Schema):
    id: UUID
    seal_id: UUID
    grant_id: UUID
    envelope_id: UUID
    party_id: UUID | None
    document_sha256: str
    envelope_title: str
    amount: str | None
    currency: str
    requested_by: UUID
    request_note: str
    status: str = Field(description="pending, approved, rejected, used or withdrawn")
    decided_by: UUID | None
    decided_at: datetime | None
    decision_reason: str
    used_at: datetime | None
    created_at: datetime


class ApprovalPage(Schema):
    items: list[ApprovalOut]
    next_cursor: str | None = None


class ApprovalFilter(Schema):
    status: Literal["pending", "approved", "rejected", "used", "withdrawn"] | None = None


class ApproveIn(Schema):
    reason: SingleLineText = Field("", max_length=500)


class ApprovalRejectIn(Schema):
    reason: SingleLineText = Field(min_length=1, max_length=500, description="told to the requester")


class UsageOut(Schema):
    id: UUID
    used_at: datetime
    used_by: UUID | None
    used_by_email: str | None
    automatic: bool
    envelope_id: UUID
    envelope_title: str
    party_id: UUID
    grant_id: UUID
    approval_id: UUID | None
    document_sha256: str
    certificate_serial: str
    cross_page: bool


class UsagePage(Schema):
    items: list[UsageOut]
    next_cursor: str | None = None


class UsageFilter(Schema):
    since: datetime | None = Field(None, description="uses at or after")
    until: datetime | None = Field(None, description="uses before")
    user_id: UUID | None = None
    envelope_id: UUID | None = None
    format: Literal["json", "csv"] = Field("json", description="csv: every matching use, with a header row")


class SealUploadIn(Schema):
    name: SingleLineText = Field(min_length=1, max_length=100)
    type: SealTypeName
    shape: ShapeName

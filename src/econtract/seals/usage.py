"""The usage log of a seal (issue 9 item 10): read by its organisation's auditors only, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from econtract.accounts.models import User
from econtract.accounts.permissions import require_seal_auditor
from econtract.seals.models import Seal, SealUsage

CSV_COLUMNS = (
    "used_at",
    "seal_id",
    "seal_name",
    "used_by_email",
    "used_by_name",
    "automatic",
    "envelope_id",
    "envelope_title",
    "party_id",
    "grant_id",
    "approval_id",
    "document_sha256",
    "certificate_serial",
    "cross_page",
)
# OWASP "CSV injection": a spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def usage_for(
    seal: Seal,
    actor: User,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    user_id: Any = None,
    envelope_id: Any = None,
) -> QuerySet[SealUsage]:
    """The seal's uses, newest first, for legal staff and auditors (NotPermitted otherwise)."""
    require_seal_auditor(actor, seal.organization_id)
    rows = SealUsage.objects.filter(seal=seal).select_related("seal", "used_by")
    if since is not None:
        rows = rows.filter(used_at__gte=since)
    if until is not None:
        rows = rows.filter(used_at__lt=until)
    if user_id is not None:
        rows = rows.filter(used_by_id=user_id)
    if envelope_id is not None:
        rows = rows.filter(envelope_id=envelope_id)
    return rows.order_by("-used_at", "-id")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def usage_row(usage: SealUsage) -> list[str]:
    user = usage.used_by
    return [
        _cell(value)
        for value in (
            usage.used_at.isoformat(),
            usage.seal_id,
            usage.seal.name,
            user.email if user is not None else "",
            user.full_name if user is not None else "",
            "yes" if usage.automatic else "no",
            usage.envelope_id,
            usage.envelope_title,
            usage.party_id,
            usage.grant_id,
            usage.approval_id or "",
            usage.document_sha256,
            usage.certificate_serial,
            "yes" if usage.cross_page else "no",
        )
    ]


def usage_csv(rows: Iterable[SealUsage]) -> str:
    """RFC 4180 CSV with a header row, preceded by a UTF-8 byte-order mark so that Excel reads the
    Chinese names right; cells that a spreadsheet would run as a formula start with an apostrophe."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for usage in rows:
        writer.writerow(usage_row(usage))
    return out.getvalue()

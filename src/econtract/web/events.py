"""Audit-trail events as table rows: a translated name and the facts a reader looks for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _

from econtract.evidence.models import Event
from econtract.signing.models import Party

EVENT_NAMES = {
    "created": _("created"),
    "edited": _("parties and fields edited"),
    "sent": _("sent"),
    "notified": _("signing link emailed"),
    "notification_failed": _("email not delivered"),
    "reminded": _("reminder sent"),
    "link_opened": _("signing link opened"),
    "otp_sent": _("signing code sent"),
    "otp_failed": _("wrong signing code"),
    "otp_passed": _("signing code accepted"),
    "pin_failed": _("PIN check failed"),
    "signed": _("signed"),
    "completed": _("completed"),
    "declined": _("declined"),
    "voided": _("voided"),
    "expired": _("expired"),
    "downloaded": _("downloaded"),
    "evidence_report_issued": _("evidence report issued"),
    "evidence_package_issued": _("evidence package issued"),
}


def describe_event(event: Event, parties: Sequence[Party]) -> dict[str, Any]:
    by_id = {str(p.id): p for p in parties}
    payload = event.payload if isinstance(event.payload, dict) else {}
    party = by_id.get(str(payload.get("party", "")))
    details = []
    if party is not None:
        details.append(f"{party.name} <{party.email}>")
    if payload.get("reason"):
        details.append(str(payload["reason"]))
    if payload.get("why"):
        details.append(str(payload["why"]))
    if payload.get("error"):
        details.append(str(payload["error"]))
    return {
        "sequence": event.sequence,
        "kind": event.kind,
        "name": EVENT_NAMES.get(event.kind, event.kind),
        "occurred_at": event.occurred_at,
        "actor": event.actor_label or (event.actor.email if event.actor_id else "—"),
        "ip_address": event.ip_address or "",
        "user_agent": event.user_agent,
        "document_sha256": event.document_sha256,
        "detail": " · ".join(details),
        "event_hash": event.event_hash,
    }

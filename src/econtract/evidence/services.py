"""Record and check the audit trail.

Every event stores the SHA-256 of its canonical form including the previous event's hash, so a
rewritten or deleted event breaks the chain (the Merkle log of DESIGN.md §4 builds on this).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from econtract.client_address import UNKNOWN, client_address
from econtract.evidence import log
from econtract.evidence.models import Event
from econtract.textinput import one_line

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class RequestContext:
    """Who did something and from where; built from an HTTP request or a CLI invocation."""

    actor: Any = None  # accounts.User or None
    ip_address: str | None = None
    user_agent: str = ""
    label: str = ""

    @classmethod
    def from_request(cls, request: Any, actor: Any = None) -> RequestContext:
        user = actor if actor is not None else getattr(request, "user", None)
        if user is not None and not getattr(user, "is_authenticated", False):
            user = None
        meta = request.META
        return cls(
            actor=user,
            ip_address=address if (address := client_address(request)) != UNKNOWN else None,
            # a header, not user input to refuse: flattened so a NUL or control byte cannot break the row
            user_agent=one_line(meta.get("HTTP_USER_AGENT") or "")[:512],
            label=getattr(user, "email", "") if user else "",
        )

    @classmethod
    def system(cls, label: str = "system") -> RequestContext:
        return cls(label=label)


def _canonical(event: Event) -> bytes:
    body = {
        "subject": f"{event.subject_type}:{event.subject_id}",
        "sequence": event.sequence,
        "kind": event.kind,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": str(event.actor_id) if event.actor_id else None,
        "actor_label": event.actor_label,
        "organization": str(event.organization_id) if event.organization_id else None,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "document_sha256": event.document_sha256,
        "payload": event.payload,
        "previous_hash": event.previous_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_event(
    kind: str,
    subject: models.Model,
    context: RequestContext,
    *,
    organization: Any = None,
    document_sha256: str = "",
    payload: dict[str, Any] | None = None,
) -> Event:
    """Append one event to the subject's chain. Retries when a concurrent writer took the position."""
    subject_type = subject._meta.label_lower
    subject_id = str(subject.pk)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                last = (
                    Event.objects.filter(subject_type=subject_type, subject_id=subject_id)
                    .order_by("-sequence")
                    .only("sequence", "event_hash")
                    .first()
                )
                event = Event(
                    subject_type=subject_type,
                    subject_id=subject_id,
                    sequence=(last.sequence + 1) if last else 1,
                    kind=kind,
                    occurred_at=timezone.now(),
                    actor=context.actor,
                    actor_label=context.label
                    or (getattr(context.actor, "email", "") if context.actor else ""),
                    organization=organization,
                    ip_address=context.ip_address,
                    user_agent=context.user_agent,
                    document_sha256=document_sha256,
                    payload=payload or {},
                    previous_hash=last.event_hash if last else GENESIS_HASH,
                )
                event.event_hash = hashlib.sha256(_canonical(event)).hexdigest()
                event.save(force_insert=True)
                log.enqueue(event)
            _integrate_after_commit()
            return event
        except IntegrityError:
            continue
    raise RuntimeError(f"could not append event {kind} to {subject_type}:{subject_id}")


def _integrate_after_commit() -> None:
    """One sequencer run after the outermost commit, however many events the transaction records.

    Django keeps the callbacks of the open transaction in ``run_on_commit`` (savepoint ids, function,
    robust) and drops those of a rolled-back savepoint, so looking there cannot lose a run.
    """
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(
        entry[1] is _integrate_quietly for entry in connection.run_on_commit
    ):
        return
    transaction.on_commit(_integrate_quietly)


def _integrate_quietly() -> None:
    """Append committed events to the log; a failure leaves them queued for the next run or the audit."""
    try:
        log.integrate_pending()
    except Exception:  # noqa: BLE001 - the event is committed and queued; never fail the request for it
        logger.exception("could not append queued events to the log")


def checkpoint_after_completion() -> None:
    """An envelope completed: checkpoint soon (at most one a second; the periodic one catches the rest)."""
    try:
        log.checkpoint_soon()
    except Exception:  # noqa: BLE001 - the next checkpoint covers it; never fail the completed signing
        logger.exception("could not make a checkpoint after completion")


def first_chain_break(events: Iterable[Event]) -> str | None:
    """What is wrong first in one subject's events, given in sequence order; None when the chain holds."""
    previous = GENESIS_HASH
    for position, event in enumerate(events, start=1):
        where = f"event {event.pk} ({event.subject_type}:{event.subject_id} #{event.sequence})"
        if event.sequence != position:
            return f"{where}: expected position {position}; an event is missing or moved"
        if event.previous_hash != previous:
            return f"{where}: previous_hash does not link to the event before it"
        # An erased event's personal fields are blank (PIPL): its hash stands as recorded and still links
        # the chain; the log's leaf, not this hash, proves what it said.
        if event.erased_at is None and hashlib.sha256(_canonical(event)).hexdigest() != event.event_hash:
            return f"{where}: its content no longer matches its event_hash"
        previous = event.event_hash
    return None


def chain_is_intact(subject: models.Model) -> bool:
    return first_chain_break(Event.objects.for_subject(subject)) is None

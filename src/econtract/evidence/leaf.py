"""The log's leaf: the canonical bytes of one event, RFC 8785 (JCS) JSON, personal data only as salted hashes.

Step 1's per-subject chain hashes a `json.dumps` form that is not canonical across implementations;
the log starts its own encoding beside it and never recomputes those hashes. docs/evidence.md gives the
fields. A personal value (the actor's id and email, the IP address, the user agent, the payload, which
can hold names, phones and addresses) enters as ``"sha256:" + hex(SHA-256(salt ‖ UTF-8 value))`` with a
16-byte random salt per event and field, kept in `EventSecret`: without the salt the hash can neither be
opened nor guessed; with it (evidence report, package) anyone can check the value.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC
from typing import Any

import rfc8785

from econtract.evidence.models import Event

LEAF_VERSION = "econtract-event/v1"
SALT_BYTES = 16
PERSONAL_FIELDS = ("actor", "actor_label", "ip_address", "user_agent", "payload")


def personal_values(event: Event) -> dict[str, bytes | None]:
    """The bytes each personal field commits to; None where the event has no such value."""
    payload = event.payload or {}
    return {
        "actor": str(event.actor_id).encode() if event.actor_id else None,
        "actor_label": event.actor_label.encode() or None,
        "ip_address": str(event.ip_address).encode() if event.ip_address else None,
        "user_agent": event.user_agent.encode() or None,
        "payload": rfc8785.dumps(payload) if payload else None,
    }


def commitment(salt: bytes, value: bytes) -> str:
    return "sha256:" + hashlib.sha256(salt + value).hexdigest()


def new_salts(values: dict[str, bytes | None]) -> dict[str, bytes]:
    """A fresh salt for each personal field that has a value (``values`` from ``personal_values``)."""
    return {field: secrets.token_bytes(SALT_BYTES) for field, value in values.items() if value}


def occurred_at_text(event: Event) -> str:
    return event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def leaf_body(
    event: Event,
    salts: dict[str, bytes],
    previous_leaf_hash: bytes | None,
    values: dict[str, bytes | None] | None = None,
) -> dict[str, Any]:
    values = personal_values(event) if values is None else values
    body: dict[str, Any] = {
        "v": LEAF_VERSION,
        "event": str(event.pk),
        "subject": f"{event.subject_type}:{event.subject_id}",
        "sequence": event.sequence,
        "kind": event.kind,
        "occurred_at": occurred_at_text(event),
        "organization": str(event.organization_id) if event.organization_id else None,
        "document_sha256": event.document_sha256 or None,
        "previous_leaf_hash": previous_leaf_hash.hex() if previous_leaf_hash else None,
    }
    for field in PERSONAL_FIELDS:
        value = values[field]
        if value is None:
            body[field] = None
        elif field in salts:
            body[field] = commitment(salts[field], value)
        else:
            raise ValueError(f"no salt for {field}")
    return body


def encode_leaf(
    event: Event,
    salts: dict[str, bytes],
    previous_leaf_hash: bytes | None,
    values: dict[str, bytes | None] | None = None,
) -> bytes:
    return rfc8785.dumps(leaf_body(event, salts, previous_leaf_hash, values))

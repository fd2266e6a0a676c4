"""The transparency log: one Merkle tree (RFC 9162) of every event, sequenced from a queue.

`record_event` inserts the event and a queue row in the caller's transaction; after it commits,
`integrate_pending` appends queued events in order under the log row's lock, writing each leaf and
the complete subtrees it closes (about two rows per leaf, never rewriting one). Proofs read
O(log n) stored subtree hashes in one query (`merkle`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from django.conf import settings
from django.core.cache import cache
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from econtract.evidence import merkle, notes
from econtract.evidence.leaf import encode_leaf, new_salts, personal_values
from econtract.evidence.models import Checkpoint, Event, EventSecret, Leaf, LogQueue, LogState, TreeHash
from econtract.pki import kek

logger = logging.getLogger(__name__)

KEY_AAD = b"econtract/evidence/log-key/v1"
BATCH = 2000


def default_origin() -> str:
    configured = str(getattr(settings, "ECONTRACT_LOG_ORIGIN", "") or "").strip()
    if configured:
        return configured
    parts = urlsplit(settings.BASE_URL)
    return f"{parts.netloc}{parts.path.rstrip('/')}/log"


def get_log() -> LogState:
    """The log row, created with its origin and a new Ed25519 key on first use; both are fixed after."""
    state = LogState.objects.filter(pk=1).first()
    if state is not None:
        return state
    key = Ed25519PrivateKey.generate()
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    with transaction.atomic():
        state, _ = LogState.objects.get_or_create(
            pk=1,
            defaults={
                "origin": default_origin(),
                "encrypted_private_key": kek.seal(der, KEY_AAD),
                "public_key": notes.raw_public_key(key.public_key()),
            },
        )
    return state


def log_private_key(state: LogState) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    key = load_der_private_key(kek.unseal(bytes(state.encrypted_private_key), KEY_AAD), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError("the log key is not Ed25519")
    return key


def log_verifier_key(state: LogState | None = None) -> str:
    state = state or get_log()
    return notes.verifier_key(state.origin, bytes(state.public_key))


def stored_nodes(nodes: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
    """merkle.NodeSource over TreeHash: one query for all the subtrees a proof needs."""
    wanted = set(nodes)
    if not wanted:
        return {}
    condition = Q()
    for level, index in wanted:
        condition |= Q(level=level, index=index)
    found = {(row.level, row.index): bytes(row.hash) for row in TreeHash.objects.filter(condition)}
    missing = wanted - found.keys()
    if missing:
        raise LookupError(f"subtrees not in the log: {sorted(missing)[:3]}")
    return found


def enqueue(event: Event) -> None:
    LogQueue.objects.create(event=event)


def integrate_pending() -> int:
    """Append every queued event to the tree, oldest first. Returns how many were appended."""
    appended = 0
    while True:
        with transaction.atomic():
            state = LogState.objects.select_for_update().filter(pk=1).first() or get_log()
            batch = list(LogQueue.objects.select_related("event").order_by("id")[:BATCH])
            if not batch:
                return appended
            _append(state, [row.event for row in batch])
            LogQueue.objects.filter(id__in=[row.id for row in batch]).delete()
        appended += len(batch)


PREVIOUS_CHUNK = 100  # OR terms per query: SQLite refuses an expression tree deeper than 1000


def _previous_leaf_hashes(events: list[Event]) -> dict[tuple[str, str, int], bytes]:
    """Leaf hashes of the events just before each of `events` in its subject's chain, from the log.

    Only predecessors outside the batch are read (at most one per subject), in chunks of OR terms."""
    in_batch = {(e.subject_type, e.subject_id, e.sequence) for e in events}
    wanted = sorted(
        {
            (e.subject_type, e.subject_id, e.sequence - 1)
            for e in events
            if e.sequence > 1 and (e.subject_type, e.subject_id, e.sequence - 1) not in in_batch
        }
    )
    found: dict[tuple[str, str, int], bytes] = {}
    for start in range(0, len(wanted), PREVIOUS_CHUNK):
        condition = Q()
        for subject_type, subject_id, sequence in wanted[start : start + PREVIOUS_CHUNK]:
            condition |= Q(
                event__subject_type=subject_type, event__subject_id=subject_id, event__sequence=sequence
            )
        rows = Leaf.objects.filter(condition).values_list(
            "event__subject_type", "event__subject_id", "event__sequence", "hash"
        )
        found.update({(t, i, s): bytes(h) for t, i, s, h in rows})
    return found


def _insert_rows(model: type[models.Model], columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """One prepared INSERT run over all rows: the ORM's bulk_create builds a model and compiles SQL per
    row, which was half the cost of an append (bench/evidence.py). Values are already in database form."""
    if not rows:
        return
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - model and column names, not input
        quote(model._meta.db_table), ", ".join(quote(c) for c in columns), ", ".join(["%s"] * len(columns))
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _append(state: LogState, events: list[Event]) -> None:
    previous = _previous_leaf_hashes(events)
    size = state.tree_size
    event_key = Event._meta.pk
    assert event_key is not None
    leaves: list[tuple[Any, ...]] = []
    secrets_rows: list[tuple[Any, ...]] = []
    new_nodes: dict[merkle.Node, bytes] = {}
    for offset, event in enumerate(events):
        index = size + offset
        values = personal_values(event)
        salts = new_salts(values)
        data = encode_leaf(
            event, salts, previous.get((event.subject_type, event.subject_id, event.sequence - 1)), values
        )
        digest = merkle.leaf_hash(data)
        previous[(event.subject_type, event.subject_id, event.sequence)] = digest
        event_id = event_key.get_db_prep_value(event.pk, connection)
        leaves.append((index, event_id, data, digest))
        secrets_rows.extend((event_id, f, s) for f, s in salts.items())
        new_nodes[(0, index)] = digest
        level, position, current = 0, index, digest
        while position & 1:
            sibling = new_nodes.get((level, position - 1))
            if sibling is None:
                sibling = stored_nodes([(level, position - 1)])[(level, position - 1)]
            current = merkle.node_hash(sibling, current)
            level, position = level + 1, position >> 1
            new_nodes[(level, position)] = current
    _insert_rows(Leaf, ("index", "event_id", "data", "hash"), leaves)
    _insert_rows(EventSecret, ("event_id", "field", "salt"), secrets_rows)
    _insert_rows(TreeHash, ("level", "index", "hash"), [(lv, ix, h) for (lv, ix), h in new_nodes.items()])
    state.tree_size = size + len(events)
    LogState.objects.filter(pk=1).update(tree_size=state.tree_size)


def root_hash(tree_size: int) -> bytes:
    return merkle.root_hash(tree_size, stored_nodes)


def inclusion_proof(index: int, tree_size: int) -> list[bytes]:
    return merkle.inclusion_proof(index, tree_size, stored_nodes)


def consistency_proof(old_size: int, new_size: int) -> list[bytes]:
    return merkle.consistency_proof(old_size, new_size, stored_nodes)


def _timestamp_token(note: str) -> bytes:
    from econtract.pki.tsa import get_timestamper

    digest = hashlib.sha256(note.encode()).digest()
    try:
        token = asyncio.run(get_timestamper().async_timestamp(digest, "sha256"))
    except Exception:  # noqa: BLE001 - a checkpoint without a token is still signed; the next one retries
        logger.exception("could not timestamp checkpoint")
        return b""
    return bytes(token.dump())


def make_checkpoint() -> Checkpoint:
    """Sign (and timestamp) the current tree head. Integrates queued events first."""
    integrate_pending()
    get_log()  # creates the log row on first use
    with transaction.atomic():
        state = LogState.objects.select_for_update().get(pk=1)  # one checkpoint signer at a time
        size = state.tree_size
        root = root_hash(size)
        text = notes.checkpoint_text(state.origin, size, root)
        note = notes.sign_note(text, state.origin, log_private_key(state))
        checkpoint = Checkpoint.objects.create(
            tree_size=size,
            root_hash=root,
            note=note,
            timestamp_token=_timestamp_token(note),
            created_at=timezone.now(),
        )
    return checkpoint


def latest_checkpoint() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-id").first()


def checkpoint_covering(tree_size: int) -> Checkpoint:
    """The latest checkpoint if it covers `tree_size` leaves, else a new one."""
    latest = latest_checkpoint()
    if latest is not None and latest.tree_size >= tree_size:
        return latest
    return make_checkpoint()


CHECKPOINT_DUE_KEY = "econtract:evidence:checkpoint-due"


def checkpoint_soon() -> Checkpoint | None:
    """After an envelope completes: a checkpoint now, unless one was made in the last second; then the
    runner makes it on its next pass (batching, so bulk completions do not flood the witnesses)."""
    latest = latest_checkpoint()
    if latest is not None and timezone.now() - latest.created_at < timedelta(seconds=1):
        cache.set(CHECKPOINT_DUE_KEY, True, timeout=None)
        return None
    return make_checkpoint()


def checkpoint_if_due() -> Checkpoint | None:
    """The runner's pass: a checkpoint when a completion is waiting for one, or when the last is older
    than ECONTRACT_CHECKPOINT_SECONDS (new leaves or not: witnesses see the log is alive)."""
    latest = latest_checkpoint()
    period = timedelta(seconds=int(getattr(settings, "ECONTRACT_CHECKPOINT_SECONDS", 300)))
    waiting = bool(cache.get(CHECKPOINT_DUE_KEY))
    if latest is None or waiting or timezone.now() - latest.created_at >= period:
        cache.delete(CHECKPOINT_DUE_KEY)
        return make_checkpoint()
    return None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def checkpoint_of_size(tree_size: int) -> Checkpoint | None:
    return Checkpoint.objects.filter(tree_size=tree_size).order_by("-id").first()

"""`econtract evidence audit`: recompute everything the log and the chains claim, name the first break.

Checks, in order: every subject's step-1 hash chain (positions, links, hashes); every event is a leaf
or still queued; every leaf is contiguous, hashes to its stored hash and re-encodes from its event
(personal fields compared where their salt still exists; erased salts leave the commitment unchecked);
each leaf names its subject's previous leaf; every stored subtree hash is recomputed from the leaves,
with none missing or extra; the log row's size; every checkpoint's signature, origin, root and order,
and its RFC 3161 token's message imprint; each cosignature of a configured witness.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby

from asn1crypto import cms, tsp
from django.db.models import Q

from econtract.evidence import leaf as leaves
from econtract.evidence import log, merkle, notes, witnessing
from econtract.evidence.models import Checkpoint, Cosignature, Event, EventSecret, Leaf, LogQueue, TreeHash
from econtract.evidence.services import first_chain_break


@dataclass(frozen=True)
class AuditResult:
    ok: bool
    checked: dict[str, int]
    problem: str = ""


class AuditFailure(Exception):
    pass


CHUNK = 2000  # subtree hashes compared per query


def _check_chains() -> int:
    count = 0
    ordered = Event.objects.order_by("subject_type", "subject_id", "sequence").iterator(chunk_size=2000)
    for _subject, group in groupby(ordered, key=lambda event: (event.subject_type, event.subject_id)):
        events = list(group)
        problem = first_chain_break(events)
        if problem:
            raise AuditFailure(problem)
        count += len(events)
    return count


def _leaves_in_order() -> Iterator[Leaf]:
    return Leaf.objects.select_related("event").order_by("index").iterator(chunk_size=2000)


def _check_leaves(tree: _TreeCheck) -> int:
    events = Event.objects.count()
    queued = LogQueue.objects.count()
    stored = Leaf.objects.count()
    if stored + queued != events:
        raise AuditFailure(
            f"{events} events but {stored} leaves and {queued} queued: a leaf or event is missing"
        )
    count = 0
    latest_hash: dict[tuple[str, str], tuple[int, bytes]] = {}
    salts: dict[str, dict[str, bytes]] = {}
    for row in _leaves_in_order():
        if row.index != count:
            raise AuditFailure(f"leaf {count} is missing (next stored is {row.index})")
        data, digest = bytes(row.data), bytes(row.hash)
        if merkle.leaf_hash(data) != digest:
            raise AuditFailure(f"leaf {row.index}: stored hash does not match its bytes")
        event = row.event
        if not salts or str(event.pk) not in salts:
            salts = _salts_from(row.index)
        event_salts = salts.get(str(event.pk), {})
        key = (event.subject_type, event.subject_id)
        before = latest_hash.get(key)
        previous = before[1] if before and before[0] == event.sequence - 1 else None
        if event.sequence > 1 and previous is None:
            raise AuditFailure(f"leaf {row.index}: the previous event of its subject is not an earlier leaf")
        try:
            stored_body = json.loads(data)
        except ValueError as exc:
            raise AuditFailure(f"leaf {row.index}: not JSON") from exc
        if event.erased_at is not None and event_salts:
            raise AuditFailure(f"leaf {row.index}: event {event.pk} is erased but its salts remain")
        expected = leaves.leaf_body(event, _fill_erased(event, event_salts), previous)
        for field, value in expected.items():
            if (
                field in leaves.PERSONAL_FIELDS
                and field not in event_salts
                and stored_body.get(field) is not None
            ):
                continue  # the salt was erased: the commitment stands unopened
            if stored_body.get(field) != value:
                raise AuditFailure(f"leaf {row.index}: field {field!r} does not match event {event.pk}")
        if set(stored_body) != set(expected):
            raise AuditFailure(f"leaf {row.index}: unexpected fields")
        latest_hash[key] = (event.sequence, digest)
        tree.add(digest)
        count += 1
    return count


def _salts_from(index: int) -> dict[str, dict[str, bytes]]:
    ids = list(
        Leaf.objects.filter(index__gte=index, index__lt=index + 2000).values_list("event_id", flat=True)
    )
    result: dict[str, dict[str, bytes]] = {}
    for event_id, field, salt in EventSecret.objects.filter(event_id__in=ids).values_list(
        "event_id", "field", "salt"
    ):
        result.setdefault(str(event_id), {})[field] = bytes(salt)
    for event_id in ids:
        result.setdefault(str(event_id), {})
    return result


def _fill_erased(event: Event, salts: dict[str, bytes]) -> dict[str, bytes]:
    filled = dict(salts)
    for field, value in leaves.personal_values(event).items():
        if value is not None and field not in filled:
            filled[field] = b""  # placeholder; the comparison skips erased commitments
    return filled


class _TreeCheck:
    """Rebuilds the tree while the leaves stream past (merkle.Frontier, O(log n) memory), compares each
    completed subtree with the stored one a chunk at a time, and keeps the root at each checkpoint size."""

    def __init__(self, checkpoint_sizes: set[int]) -> None:
        self.frontier = merkle.Frontier()
        self.pending: dict[merkle.Node, bytes] = {}
        self.compared = 0
        self.sizes = checkpoint_sizes
        self.roots: dict[int, bytes] = {0: self.frontier.root()} if 0 in checkpoint_sizes else {}

    def add(self, leaf_hash: bytes) -> None:
        self.pending.update(self.frontier.append(leaf_hash))
        if self.frontier.size in self.sizes:
            self.roots[self.frontier.size] = self.frontier.root()
        if len(self.pending) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        ranges: dict[int, tuple[int, int]] = {}
        for level, index in self.pending:
            low, high = ranges.get(level, (index, index))
            ranges[level] = (min(low, index), max(high, index))
        wanted = Q()
        for level, (low, high) in ranges.items():
            wanted |= Q(level=level, index__gte=low, index__lte=high)
        stored = {
            (level, index): bytes(digest)
            for level, index, digest in TreeHash.objects.filter(wanted).values_list("level", "index", "hash")
        }
        for (level, index), want in sorted(self.pending.items()):
            got = stored.get((level, index))
            if got is None:
                raise AuditFailure(f"subtree {level}/{index} is missing from storage")
            if got != want:
                raise AuditFailure(f"stored subtree {level}/{index} does not match the leaves")
        self.compared += len(self.pending)
        self.pending.clear()

    def finish(self) -> int:
        self.flush()
        if TreeHash.objects.count() == self.compared:
            return self.compared
        size = self.frontier.size
        for level in TreeHash.objects.values_list("level", flat=True).distinct():
            extra = TreeHash.objects.filter(level=level, index__gte=size >> level).first()
            if extra is not None:
                raise AuditFailure(f"stored subtree {extra.level}/{extra.index} is not part of the tree")
        raise AuditFailure("the stored subtrees outnumber the tree's")


def _check_checkpoints(tree: _TreeCheck) -> int:
    state = log.get_log()
    verifier = notes.parse_verifier_key(log.log_verifier_key(state))
    last_size = 0
    count = 0
    for checkpoint in Checkpoint.objects.order_by("id").iterator():
        where = f"checkpoint {checkpoint.pk} (size {checkpoint.tree_size})"
        try:
            body = notes.parse_checkpoint(notes.open_note(checkpoint.note, verifier))
        except notes.NoteError as exc:
            raise AuditFailure(f"{where}: {exc}") from exc
        if body.origin != state.origin:
            raise AuditFailure(f"{where}: origin {body.origin!r} is not the log's")
        if body.tree_size != checkpoint.tree_size or body.root_hash != bytes(checkpoint.root_hash):
            raise AuditFailure(f"{where}: the stored size or root differs from the signed note")
        if body.tree_size > tree.frontier.size:
            raise AuditFailure(f"{where}: covers more leaves than the log holds")
        if body.tree_size < last_size:
            raise AuditFailure(f"{where}: smaller than an earlier checkpoint")
        if tree.roots.get(body.tree_size) != body.root_hash:
            raise AuditFailure(f"{where}: its root is not the root of the first {body.tree_size} leaves")
        if checkpoint.timestamp_token:
            _check_token(where, bytes(checkpoint.timestamp_token), checkpoint.note)
        last_size = body.tree_size
        count += 1
    return count


def _check_token(where: str, token_der: bytes, note: str) -> None:
    try:
        token = cms.ContentInfo.load(token_der)
        info = token["content"]["encap_content_info"]["content"].parsed
        if not isinstance(info, tsp.TSTInfo):
            raise TypeError("not a TSTInfo")
        imprint = info["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        digest = imprint["hashed_message"].native
    except Exception as exc:  # noqa: BLE001 - any parse failure is a broken token
        raise AuditFailure(f"{where}: its timestamp token does not parse") from exc
    if algorithm != "sha256" or digest != hashlib.sha256(note.encode()).digest():
        raise AuditFailure(f"{where}: its timestamp token is over other bytes")


def audit() -> AuditResult:
    log.integrate_pending()
    checked: dict[str, int] = {}
    try:
        checked["events"] = _check_chains()
        tree = _TreeCheck(set(Checkpoint.objects.values_list("tree_size", flat=True)))
        checked["leaves"] = _check_leaves(tree)
        checked["subtrees"] = tree.finish()
        state = log.get_log()
        if state.tree_size != checked["leaves"]:
            raise AuditFailure(f"the log row says {state.tree_size} leaves, {checked['leaves']} are stored")
        checked["checkpoints"] = _check_checkpoints(tree)
        problem = witnessing.audit_cosignatures()
        if problem:
            raise AuditFailure(problem)
        checked["cosignatures"] = Cosignature.objects.count()
    except AuditFailure as failure:
        return AuditResult(False, checked, str(failure))
    return AuditResult(True, checked)

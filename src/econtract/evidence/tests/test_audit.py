"""The audit finds every rewrite of history, even by someone who bypasses the database's refusal."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from econtract.evidence import log
from econtract.evidence.audit import audit
from econtract.evidence.models import Checkpoint, Event, Leaf, TreeHash
from econtract.evidence.tests.log_helpers import drop_evidence_triggers, raw, record_many


@pytest.fixture
def history(enterprise):
    made = record_many(enterprise, 6)
    log.make_checkpoint()  # the first also creates the TSA's certificates, whose events come after it
    log.integrate_pending()
    assert log.make_checkpoint().tree_size == log.get_log().tree_size
    assert audit().ok
    drop_evidence_triggers()
    return made


def _fails(fragment: str) -> str:
    result = audit()
    assert not result.ok
    assert fragment in result.problem, result.problem
    return result.problem


def test_honest_log_passes(enterprise):
    record_many(enterprise, 3)
    log.make_checkpoint()
    result = audit()
    assert result.ok, result.problem
    assert result.checked["leaves"] == Event.objects.count()


def test_edited_event_through_the_orm_back_door(history):
    Event._base_manager.filter(pk=history[2].pk).update(kind="forged")
    _fails(str(history[2].pk))


def test_edited_event_and_recomputed_chain_is_still_caught_by_the_leaf(history):
    # The attack of the issue: rewrite an event and recompute its step-1 hash chain from there on.
    import hashlib

    from econtract.evidence.services import _canonical

    target = Event.objects.get(pk=history[2].pk)
    target.payload = {"n": 99}
    previous = target.previous_hash
    chain = list(
        Event.objects.filter(subject_type=target.subject_type, subject_id=target.subject_id)
        .order_by("sequence")
        .filter(sequence__gte=target.sequence)
    )
    chain[0].payload = {"n": 99}
    for event in chain:
        event.previous_hash = previous
        event.event_hash = hashlib.sha256(_canonical(event)).hexdigest()
        Event._base_manager.filter(pk=event.pk).update(
            payload=event.payload, previous_hash=event.previous_hash, event_hash=event.event_hash
        )
        previous = event.event_hash
    problem = _fails("leaf")
    assert "payload" in problem


def test_raw_sql_update_of_an_event(history):
    raw("UPDATE evidence_event SET document_sha256 = %s WHERE id = %s", ["cd" * 32, history[1].pk.hex])
    if Event.objects.get(pk=history[1].pk).document_sha256 != "cd" * 32:  # PostgreSQL stores UUIDs natively
        raw("UPDATE evidence_event SET document_sha256 = %s WHERE id = %s", ["cd" * 32, str(history[1].pk)])
    _fails(str(history[1].pk))


def test_deleting_the_last_event_and_its_leaf(history):
    last = history[-1]
    leaf = Leaf.objects.get(event=last)
    raw(
        'DELETE FROM evidence_eventsecret WHERE event_id IN (SELECT event_id FROM evidence_leaf WHERE "index" = %s)',
        [leaf.index],
    )
    raw('DELETE FROM evidence_leaf WHERE "index" = %s', [leaf.index])
    Event._base_manager.filter(pk=last.pk).delete()
    problem = _fails("")
    assert any(word in problem for word in ("subtree", "leaves", "missing", "checkpoint")), problem


def test_reordered_leaves(history):
    a, b = Leaf.objects.order_by("-index")[:2]
    raw('UPDATE evidence_leaf SET "index" = -1 WHERE "index" = %s', [a.index])
    raw('UPDATE evidence_leaf SET "index" = %s WHERE "index" = %s', [a.index, b.index])
    raw('UPDATE evidence_leaf SET "index" = %s WHERE "index" = -1', [b.index])
    problem = _fails("")
    assert "leaf" in problem or "subtree" in problem, problem


def test_rewritten_tree_node(history):
    node = TreeHash.objects.order_by("-level").first()
    TreeHash.objects.filter(pk=node.pk).update(hash=b"\0" * 32)
    _fails(f"subtree {node.level}/{node.index}")


def test_a_consistently_truncated_log_is_caught_by_the_signed_checkpoint(history):
    # Remove the last event with its leaf, salts and subtrees and shrink the head: every stored
    # structure agrees again, and only the signed checkpoint remembers the lost leaf.
    from econtract.evidence.models import EventSecret, LogState

    leaf = Leaf.objects.order_by("-index").first()
    size = leaf.index + 1
    EventSecret.objects.filter(event_id=leaf.event_id).delete()
    raw('DELETE FROM evidence_leaf WHERE "index" = %s', [leaf.index])
    Event._base_manager.filter(pk=leaf.event_id).delete()
    for level in range(size.bit_length()):
        TreeHash.objects.filter(level=level, index__gte=(size - 1) >> level).delete()
    LogState.objects.filter(pk=1).update(tree_size=size - 1)
    _fails("checkpoint")


def test_forged_checkpoint(history):
    checkpoint = Checkpoint.objects.order_by("-id").first()
    lines = checkpoint.note.split("\n")
    lines[1] = str(int(lines[1]) - 1)
    Checkpoint.objects.filter(pk=checkpoint.pk).update(note="\n".join(lines))
    _fails("signature")


def test_audit_command_exits_1_naming_the_break(history, capsys):
    Event._base_manager.filter(pk=history[0].pk).update(kind="forged")
    with pytest.raises(SystemExit) as exit_info:
        call_command("evidence", "audit")
    assert exit_info.value.code == 1
    assert str(history[0].pk) in capsys.readouterr().err

"""collect(): every event of an envelope, and of the certificates that signed it, under one checkpoint."""

from __future__ import annotations

import pytest

from econtract.evidence import merkle
from econtract.evidence.envelope_evidence import collect
from econtract.evidence.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


def test_collect_anchors_every_event_of_the_envelope_to_one_checkpoint(completed_envelope):
    # Given a completed two-party envelope
    envelope = completed_envelope.envelope
    # When its evidence is collected
    evidence = collect(envelope)
    # Then every event of its chain is there, in order, each included in the anchor checkpoint
    assert [e.event.pk for e in evidence.events] == [e.pk for e in Event.objects.for_subject(envelope)]
    assert {"created", "sent", "signed", "completed"} <= {e.event.kind for e in evidence.events}
    checkpoint = evidence.checkpoint
    for logged in evidence.all_events:
        assert logged.index < checkpoint.tree_size
        merkle.verify_inclusion(
            logged.leaf_hash, logged.index, checkpoint.tree_size, logged.proof, bytes(checkpoint.root_hash)
        )
    # and the two signers' certificates and their issue events come along
    assert len(evidence.signer_certificates) == 2
    assert [e.event.kind for e in evidence.certificate_events] == ["certificate_issued"] * 2
    # and with no witness configured, the note is the log's alone
    assert evidence.witnesses_configured == 0 and evidence.cosignatures == []
    assert evidence.cosigned_note == checkpoint.note
    assert [r.reason for r in evidence.revisions] == [
        "original",
        "signature",
        "signature",
        "document_timestamp",
    ]


def test_collect_reuses_a_covering_checkpoint(completed_envelope):
    # Given evidence collected once, when it is collected again with nothing new in the log
    first = collect(completed_envelope.envelope)
    second = collect(completed_envelope.envelope)
    # then both are anchored to the same checkpoint
    assert first.checkpoint.pk == second.checkpoint.pk

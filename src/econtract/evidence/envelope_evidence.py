"""What the log holds about one envelope, anchored to one checkpoint: the input of the evidence report
and the evidence package (docs/evidence.md, "Evidence report" and "Evidence package").

``collect`` appends whatever is queued, takes (or makes) a checkpoint covering every event of the
envelope and of the certificates that signed it, asks the configured witnesses to cosign it when they
have not yet, and returns the leaves with their inclusion proofs against it. Nothing here writes an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from econtract.evidence import log, merkle
from econtract.evidence.models import Checkpoint, Cosignature, Event, Leaf
from econtract.evidence.witnessing import configured_witnesses, cosigned_note, push_checkpoint
from econtract.pki.models import IssuedCertificate
from econtract.signing.models import DocumentRevision, Envelope


@dataclass(frozen=True)
class LoggedEvent:
    """One event with its leaf: the bytes the log hashed, where, and the proof against the anchor."""

    event: Event
    index: int
    leaf: bytes
    proof: list[bytes]

    @property
    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(self.leaf)


@dataclass(frozen=True)
class EnvelopeEvidence:
    envelope: Envelope
    checkpoint: Checkpoint
    cosigned_note: str  # the checkpoint note with its cosignature lines: still a valid signed note
    cosignatures: list[Cosignature]
    witnesses_configured: int
    events: list[LoggedEvent]  # the envelope's own events, in their chain's order
    certificate_events: list[LoggedEvent]  # issue (and revocation) of the certificates that signed it
    revisions: list[DocumentRevision]
    signer_certificates: list[IssuedCertificate] = field(default_factory=list)

    @property
    def all_events(self) -> list[LoggedEvent]:
        return sorted([*self.events, *self.certificate_events], key=lambda e: e.index)

    @property
    def final_document(self) -> DocumentRevision:
        return self.revisions[-1]


def _signer_certificates(events: list[Event]) -> list[IssuedCertificate]:
    serials = [
        str(e.payload.get("certificate_serial"))
        for e in events
        if e.kind == "signed" and e.payload.get("certificate_serial")
    ]
    by_serial = {c.serial_number: c for c in IssuedCertificate.objects.filter(serial_number__in=serials)}
    return [by_serial[s] for s in dict.fromkeys(serials) if s in by_serial]


def _logged(events: list[Event], checkpoint: Checkpoint) -> list[LoggedEvent]:
    leaves = {leaf.event_id: leaf for leaf in Leaf.objects.filter(event__in=[e.pk for e in events])}
    logged = []
    for event in events:
        leaf = leaves[event.pk]
        logged.append(
            LoggedEvent(
                event=event,
                index=leaf.index,
                leaf=bytes(leaf.data),
                proof=log.inclusion_proof(leaf.index, checkpoint.tree_size),
            )
        )
    return logged


def _witnessed(checkpoint: Checkpoint) -> None:
    """Ask each configured witness that has not cosigned the anchor yet (a report should carry them)."""
    witnesses = configured_witnesses()
    if not witnesses:
        return
    have = {c.witness for c in checkpoint.cosignatures.all()}
    if any(w.verifier.name not in have for w in witnesses):
        push_checkpoint(checkpoint)


def collect(envelope: Envelope) -> EnvelopeEvidence:
    log.integrate_pending()
    events = list(Event.objects.for_subject(envelope))
    certificates = _signer_certificates(events)
    certificate_events: list[Event] = []
    for certificate in certificates:
        certificate_events.extend(Event.objects.for_subject(certificate))
    indices = Leaf.objects.filter(event__in=[e.pk for e in [*events, *certificate_events]]).values_list(
        "index", flat=True
    )
    checkpoint = log.checkpoint_covering(max(indices, default=-1) + 1)
    _witnessed(checkpoint)
    return EnvelopeEvidence(
        envelope=envelope,
        checkpoint=checkpoint,
        cosigned_note=cosigned_note(checkpoint),
        cosignatures=list(checkpoint.cosignatures.order_by("witness", "id")),
        witnesses_configured=len(configured_witnesses()),
        events=_logged(events, checkpoint),
        certificate_events=_logged(certificate_events, checkpoint),
        revisions=list(envelope.revisions.order_by("version")),
        signer_certificates=certificates,
    )

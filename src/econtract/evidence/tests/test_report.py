"""The evidence report PDF: pdfsig validates it; its text lists every event of the envelope up to the checkpoint."""

from __future__ import annotations

import re
import subprocess

import pytest

from econtract.evidence.envelope_evidence import collect
from econtract.evidence.models import Event
from econtract.evidence.report import render_evidence_report
from econtract.evidence.tests.test_witness import witness  # noqa: F401 - a real witness server, as a fixture
from econtract.pki.services import root_certificate
from econtract.signing.tests.test_marks import pdfsig_valid
from econtract.verification.services import verify_pdf

pytestmark = pytest.mark.django_db(transaction=True)


def report_text(pdf: bytes, tmp_path) -> str:
    """The report's text as poppler extracts it, whitespace removed (hashes wrap inside their cells)."""
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)  # noqa: S603,S607
    return re.sub(r"\s+", "", done.stdout.decode())


def test_the_report_is_signed_by_the_evidence_service_and_lists_every_event_up_to_its_checkpoint(
    completed_envelope, tmp_path
):
    # Given a completed envelope and its evidence anchored to a checkpoint
    envelope = completed_envelope.envelope
    evidence = collect(envelope)
    # and an event recorded after the anchor (it must not be claimed as proven by that checkpoint)
    from econtract.evidence.services import RequestContext, record_event

    record_event("downloaded", envelope, RequestContext.system("test"), organization=envelope.organization)
    # When the report is rendered
    pdf = render_evidence_report(evidence)

    # Then pdfsig (NSS trusting our root) finds the evidence-service signature valid (poppler does not judge
    # document timestamps: it lists the second one as "not yet verified")
    verdicts = pdfsig_valid(pdf, tmp_path)
    assert verdicts[0] == "Signature is Valid." and len(verdicts) == 2, verdicts
    # and our validator (pyHanko) agrees: a B-LTA document signed by the evidence service
    report = verify_pdf(pdf, trust_roots=[root_certificate()])
    assert report.valid, report.to_dict()
    assert len(report.signatures) == 1 and "econtract Evidence Service" in report.signatures[0].signer_subject
    assert report.signatures[0].timestamped and report.signatures[0].revocation == "good"
    assert len(report.document_timestamps) == 1 and report.document_timestamps[0].valid

    # and its text names every event of the envelope up to the checkpoint, by leaf index, kind and leaf hash
    text = report_text(pdf, tmp_path)
    size = evidence.checkpoint.tree_size
    anchored = [e for e in Event.objects.for_subject(envelope) if e.leaf.index < size]
    assert len(anchored) == len(evidence.events) >= 10
    for logged in evidence.events:
        assert logged.leaf_hash.hex() in text, logged.event.kind
        assert logged.event.kind in text
    import base64

    for logged in evidence.all_events:
        for step in logged.proof:
            assert base64.b64encode(step).decode() in text  # every step of every proof, in base64
    # but not the event recorded after the checkpoint
    later = Event.objects.for_subject(envelope).last()
    assert later is not None and later.kind == "downloaded"
    assert later.pk not in {e.event.pk for e in evidence.events}
    # and the document hash of every revision, the signers' masked emails and the checkpoint note are there
    for revision in evidence.revisions:
        assert revision.sha256 in text
    assert "f***@example.test" in text and "first@example.test" not in text
    assert evidence.checkpoint.note.split("\n")[2] in text  # the root hash line of the signed note
    # and, with no witness configured, a plain statement that the checkpoint is unwitnessed
    assert "Thischeckpointisunwitnessed" in text and "本检查点未经任何独立见证方联署" in text


def test_a_witnessed_checkpoint_shows_its_cosignatures(completed_envelope, witness, tmp_path):  # noqa: F811
    # Given a platform with a running witness
    # When the report of a completed envelope is rendered
    evidence = collect(completed_envelope.envelope)
    pdf = render_evidence_report(evidence)
    # Then the anchor checkpoint carries the witness's cosignature, and the report shows it, not "unwitnessed"
    assert [c.witness for c in evidence.cosignatures] == [witness.witness.name]
    text = report_text(pdf, tmp_path)
    assert witness.witness.name in text
    assert "cosignedby1witness" in text
    assert "unwitnessed" not in text

"""Issuing evidence (出证): the report and the package of one envelope, on request, each a logged event.

Both are made fresh from the log on each request (the anchor checkpoint may have grown, witnesses may
have cosigned since), signed and timestamped by the platform; the SHA-256 of what was handed out enters
the log as ``evidence_report_issued`` / ``evidence_package_issued``, so the platform can later show which
report it issued when, and cannot deny one it issued.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from econtract.evidence.envelope_evidence import EnvelopeEvidence, collect
from econtract.evidence.errors import EvidenceRateLimited, EvidenceUnavailable
from econtract.evidence.report import ReportUnavailable, render_evidence_report
from econtract.evidence.services import RequestContext, record_event
from econtract.ratelimit import hit
from econtract.signing.models import Envelope

ISSUES_PER_MINUTE = 6  # per person: each costs a layout, two signatures and three timestamps


@dataclass(frozen=True)
class IssuedEvidence:
    content: bytes
    filename: str
    content_type: str
    sha256: str
    checkpoint_size: int


def _budget(requester_key: str) -> None:
    counted = hit(f"evidence:{requester_key}", ISSUES_PER_MINUTE, 60)
    if not counted.allowed:
        raise EvidenceRateLimited(
            "too many evidence reports or packages; wait a minute", retry_after=counted.retry_after
        )


def _report(evidence: EnvelopeEvidence) -> bytes:
    try:
        return render_evidence_report(evidence)
    except ReportUnavailable as exc:
        raise EvidenceUnavailable(str(exc)) from exc


def _issued(kind: str, envelope: Envelope, content: bytes, size: int, context: RequestContext) -> str:
    sha256 = hashlib.sha256(content).hexdigest()
    record_event(
        kind,
        envelope,
        context,
        organization=envelope.organization,
        document_sha256=sha256,
        payload={"checkpoint_size": size, "bytes": len(content)},
    )
    return sha256


def issue_report(envelope: Envelope, requester_key: str, context: RequestContext) -> IssuedEvidence:
    _budget(requester_key)
    evidence = collect(envelope)
    pdf, size = _report(evidence), evidence.checkpoint.tree_size
    sha256 = _issued("evidence_report_issued", envelope, pdf, size, context)
    return IssuedEvidence(pdf, f"{envelope.pk}-evidence-report.pdf", "application/pdf", sha256, size)


def issue_package(envelope: Envelope, requester_key: str, context: RequestContext) -> IssuedEvidence:
    from econtract.evidence.package import build_package

    _budget(requester_key)
    evidence = collect(envelope)
    package = build_package(evidence, report_pdf=_report(evidence))
    size = evidence.checkpoint.tree_size
    sha256 = _issued("evidence_package_issued", envelope, package, size, context)
    return IssuedEvidence(package, f"{envelope.pk}-evidence-package.zip", "application/zip", sha256, size)

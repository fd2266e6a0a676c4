"""The evidence report (出证): a bilingual PDF of what the log proves about one envelope, signed by the
platform's evidence-service certificate and closed with a document timestamp (PAdES B-LTA).

HTML from ``evidence/report.html`` is laid out by WeasyPrint (fonts: the Noto CJK face of
``documents.fonts``), then signed with pyHanko as every other signature of the platform is.
WeasyPrint needs the Pango library of the system; without it the report is refused with
``ReportUnavailable`` (the rest of the platform does not need it).
"""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import timezone

from econtract.documents.fonts import cjk_font_path
from econtract.evidence.envelope_evidence import EnvelopeEvidence
from econtract.evidence.log import log_verifier_key
from econtract.evidence.report_facts import ReportFacts, gather
from econtract.pki.hierarchy import platform_identity
from econtract.pki.models import PlatformRole
from econtract.pki.services import ensure_platform_pki, platform_chain, signing_validation_context_for
from econtract.pki.tsa import get_timestamper
from econtract.signing import pades

SIGNATURE_FIELD = "EvidenceService"
SIGNER_NAME = "econtract Evidence Service 出证服务"


class ReportUnavailable(RuntimeError):
    """The PDF cannot be laid out here (WeasyPrint or its system libraries are missing)."""


def report_html(facts: ReportFacts) -> str:
    return render_to_string(
        "evidence/report.html",
        {
            "f": facts,
            "proof_rows": sorted([*facts.events, *facts.certificate_events], key=lambda e: e.index),
            "font_url": cjk_font_path().as_uri(),
        },
    )


def _layout(html: str) -> bytes:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the package is there, Pango is not
        raise ReportUnavailable(f"WeasyPrint cannot run here: {exc}") from exc
    # Only our own file: URLs (the font); nothing is fetched from the network.
    pdf: bytes = weasyprint.HTML(string=html, base_url=None).write_pdf()
    return pdf


def sign_report(pdf: bytes) -> bytes:
    """An invisible PAdES B-T signature of the evidence service, with validation data, then a document
    timestamp (B-LTA)."""
    ensure_platform_pki()
    identity = platform_identity(PlatformRole.EVIDENCE)
    certificate = identity.asn1
    signed = pades.sign_revision(
        pdf,
        field_name=SIGNATURE_FIELD,
        placements=[],
        private_key=identity.private_key,
        certificate=certificate,
        chain=platform_chain(),
        signer_name=SIGNER_NAME,
        signed_at_label=pades.signing_time_label(timezone.now()),
        timestamper=get_timestamper(),
        validation_context=signing_validation_context_for([certificate]),
    )
    return pades.add_document_timestamp(
        signed,
        timestamper=get_timestamper(),
        validation_context=signing_validation_context_for([certificate]),
    )


def render_evidence_report(evidence: EnvelopeEvidence) -> bytes:
    facts = gather(evidence, log_vkey=log_verifier_key())
    return sign_report(_layout(report_html(facts)))

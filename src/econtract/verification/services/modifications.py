"""What changed after a signature: coverage of its ``/ByteRange`` and the revisions appended later.

A ``/ByteRange`` must cover its whole revision (signature wrapping), and every later revision must
be at most form filling or LTA maintenance (incremental saving and shadow attacks), within the
signature's DocMDP/FieldMDP permissions. ETSI change classification and the visual comparison of
revisions belong here too.
"""

from __future__ import annotations

from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel, SuspiciousModification
from pyhanko.sign.validation.status import ModificationInfo, SignatureCoverageLevel

from econtract.verification.services.reports import (
    PERMITTED_MODIFICATIONS,
    DocumentTimestampReport,
    Modification,
    SignatureReport,
)

DOTTED_FIELD_NAMES = "Partial names must not contain periods"  # pyHanko's form-rule message
FULL_COVERAGE = (SignatureCoverageLevel.ENTIRE_REVISION, SignatureCoverageLevel.ENTIRE_FILE)

_MODIFICATION_NAMES: dict[ModificationLevel, Modification] = {
    ModificationLevel.NONE: "none",
    ModificationLevel.LTA_UPDATES: "lta_updates",
    ModificationLevel.FORM_FILLING: "form_filling",
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "other",
}


def judge_modifications(
    report: SignatureReport | DocumentTimestampReport,
    status: ModificationInfo,
    *,
    analysis_failed: str | None = None,
) -> None:
    """Coverage, then the difference analysis (``analysis_failed``: why it could not run)."""
    coverage = status.coverage
    report.coverage = coverage.name.lower() if coverage is not None else "unclear"
    if coverage not in FULL_COVERAGE:
        # Signature wrapping: the /ByteRange must span its whole revision (all but /Contents).
        report.fail("coverage_incomplete", "the /ByteRange does not cover its whole revision")
        report.modification = "other"
        return
    if analysis_failed is not None:
        if coverage == SignatureCoverageLevel.ENTIRE_FILE:
            report.modification = "none"  # nothing follows the signed bytes: nothing to analyse
        elif DOTTED_FIELD_NAMES in analysis_failed:
            # pyHanko's form rules refuse field names with periods (ISO 32000 forbids them, tools
            # write them): a limit of the analysis, not evidence of a change.
            report.modification = "unchecked"
            report.fail(
                "modifications_not_checked",
                f"the revisions added after signing could not be analysed: {analysis_failed}",
            )
        else:
            # Later revisions that cannot even be read are not shown to be permitted changes
            # (shadow attacks hide behind broken streams and reused object numbers).
            report.modification = "other"
            report.fail(
                "modified_after_signing",
                f"the document was changed after signing in a way that cannot be analysed: {analysis_failed}",
            )
        return
    diff = status.diff_result
    if isinstance(diff, SuspiciousModification):
        report.modification = "other"
        first_line = str(diff).strip().splitlines()[0] if str(diff).strip() else "unexplained changes"
        report.fail("modified_after_signing", f"the document was changed after signing: {first_line}")
        return
    level = status.modification_level
    report.modification = _MODIFICATION_NAMES.get(level, "other") if level is not None else "other"
    if isinstance(report, SignatureReport) and isinstance(diff, DiffResult):
        report.changed_fields = sorted(diff.changed_form_fields)
    if report.modification not in PERMITTED_MODIFICATIONS:
        level_name = level.name if level is not None else "unknown"
        report.fail("modified_after_signing", f"the document was changed after signing ({level_name})")
    elif isinstance(report, SignatureReport) and status.docmdp_ok is False:
        report.modification = "other"
        report.fail(
            "permissions_violated",
            "changes after signing violate the signature's DocMDP/FieldMDP permissions",
        )

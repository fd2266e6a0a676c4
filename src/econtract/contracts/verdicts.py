"""The archive's five verdicts from the verifier's report (verification.plain_language decides the cases)."""

from __future__ import annotations

from econtract.contracts.models import Contract
from econtract.verification.plain_language import verdict_sentence
from econtract.verification.services import VerificationReport

# A signature the verifier calls broken or forged proves nothing about the bytes: for the archive the
# document is not what was signed.
_BROKEN = frozenset(
    {"signature_invalid", "byte_range_past_eof", "byte_range_malformed", "malformed_signature"}
)


def archive_verdict(report: VerificationReport) -> str:
    """valid, altered, untrusted, revoked or unsigned: the same judgement the /verify page gives."""
    level = verdict_sentence(report).level
    if level == "valid":
        return Contract.Verdict.VALID
    if level == "unsigned":
        return Contract.Verdict.UNSIGNED
    if level == "changed":
        return Contract.Verdict.ALTERED
    reasons = {reason for signature in report.signatures for reason in signature.reasons}
    if reasons & _BROKEN:
        return Contract.Verdict.ALTERED
    if "certificate_revoked" in reasons:
        return Contract.Verdict.REVOKED
    # a signer not certified by a trusted authority, or a signature that could not be fully checked
    return Contract.Verdict.UNTRUSTED

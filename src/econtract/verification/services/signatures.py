"""Judging one signature or document timestamp: digest, CMS signature, chain, timestamp, revocation.

pyHanko does the cryptography and the difference analysis; here its answers (and its exceptions)
become reason codes. A check that could not run leaves its field ``None`` and the signature
``indeterminate``; only a check that ran and failed makes it ``invalid``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import datetime
from typing import Any

from asn1crypto import x509
from pyhanko.pdf_utils.misc import PdfStrictReadError
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import cms_basic_validation, extract_tst_data_iter
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    ModificationInfo,
    PdfSignatureStatus,
    TimestampSignatureStatus,
)
from pyhanko.sign.validation.utils import extract_message_digest
from pyhanko_certvalidator.errors import AlgorithmNotSupported
from pyhanko_certvalidator.path import ValidationPath

from econtract.verification.services.algorithms import algorithm_name
from econtract.verification.services.changes import ETSI_DIFF_POLICY
from econtract.verification.services.material import ValidationMaterial, revocation_status
from econtract.verification.services.modifications import judge_modifications
from econtract.verification.services.reading import PKCS7_SHA1, LocatedSignature, StrictReadRefused
from econtract.verification.services.reports import DocumentTimestampReport, Mode, SignatureReport

logger = logging.getLogger(__name__)

_CRYPTO_CONSTRAINTS = {"CRYPTO_CONSTRAINTS_FAILURE", "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"}


def _claimed_timestamp_time(signature: LocatedSignature) -> datetime | None:
    """The time in the first signature timestamp token, not yet validated."""
    try:
        for tst_signed_data in extract_tst_data_iter(signature.signer_info, signed=False):
            gen_time: datetime = tst_signed_data["encap_content_info"]["content"].parsed["gen_time"].native
            return gen_time
    except Exception:
        logger.warning("unreadable signature timestamp token", exc_info=True)
    return None


def _timestamp_ok(status: TimestampSignatureStatus | None) -> bool:
    return status is not None and status.intact and status.valid and status.trusted


def _read_error(exc: BaseException) -> bool:
    """A strict-mode-only reader failure (possibly wrapped): the lenient reader may get further."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, PdfStrictReadError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def verify_signature(
    signature: LocatedSignature, material: ValidationMaterial, mode: Mode
) -> SignatureReport:
    report = SignatureReport(field=str(signature.field_name), subfilter=signature.subfilter)
    report.algorithm = _algorithm(signature)
    if signature.subfilter == PKCS7_SHA1 or _encapsulates_content(signature):
        return await _verify_encapsulated(report, signature, material, mode)
    analysis_failed: str | None = None
    try:
        try:
            status, judged_at = await _validate_signature(signature, material)
        except Exception as exc:
            if mode == "strict" and _read_error(exc):
                raise StrictReadRefused(str(exc)) from exc
            if not _difference_analysis_failed(signature):
                raise
            # e.g. a field name with a period: judge everything else, say the changes are unchecked
            analysis_failed = str(exc) or type(exc).__name__
            status, judged_at = await _validate_signature(signature, material, skip_diff=True)
    except StrictReadRefused:
        raise
    except Exception as exc:
        logger.warning("signature %s could not be validated", report.field, exc_info=True)
        describe_signer(report, _signer_cert_or_none(signature))
        _explain_failure(report, signature, exc)
        return report

    describe_signer(report, status.signing_cert)
    report.intact = status.intact
    report.valid = status.valid
    report.validated_at = judged_at
    report.signing_time = status.signer_reported_dt
    if not status.intact:
        report.fail("digest_mismatch", "the signed bytes were altered (digest mismatch)")
    if not status.valid:
        report.fail("signature_invalid", "the CMS signature does not verify")

    await _judge_signature_timestamp(report, signature, status, material)

    # "trusted" judges the certificate only (chain, validity period, key usage, revocation), so a
    # tampered document still tells who signed it; pyHanko's own flag also folds in "intact".
    chain_ok = status.validation_path is not None and status.trust_problem_indic is None
    if chain_ok:
        report.certificate_chain = _chain_der(status.validation_path)
        revocation, detail = await revocation_status(status.validation_path, material.context(judged_at))
        report.revocation = revocation
        if revocation == "revoked":
            report.fail("certificate_revoked", detail)
        report.trusted = revocation != "revoked"
    elif status.valid:
        indic = status.trust_problem_indic
        indication = getattr(indic, "name", str(indic)) if indic is not None else "no path"
        if indication in _CRYPTO_CONSTRAINTS:
            report.fail(
                "algorithm_not_allowed",
                f"the signature uses an algorithm the validation policy no longer accepts ({indication})",
            )
        elif indication in ("NO_CERTIFICATE_CHAIN_FOUND", "no path"):
            report.fail("chain_not_trusted", f"the signer's certificate is not trusted ({indication})")
        else:
            report.fail("certificate_rejected", f"the signer's certificate is not trusted ({indication})")

    judge_modifications(report, status, analysis_failed=analysis_failed)
    return report


def _encapsulates_content(signature: LocatedSignature) -> bool:
    """A "detached" container that carries content anyway (some tools embed the signed bytes)."""
    try:
        content_info = signature.signed_data["encap_content_info"]
        return content_info["content_type"].native == "data" and content_info["content"].native is not None
    except Exception:
        return False


async def _verify_encapsulated(
    report: SignatureReport, signature: LocatedSignature, material: ValidationMaterial, mode: Mode
) -> SignatureReport:
    """Containers whose CMS signs encapsulated content that stands for the byte range.

    ``adbe.pkcs7.sha1`` encapsulates the SHA-1 digest of the byte range; some tools write a detached
    container that encapsulates the signed bytes themselves. pyHanko validates neither; its parts it
    does: the byte-range digest, coverage and difference analysis (``compute_integrity_info``) and
    the CMS over its encapsulated content (``cms_basic_validation``). The signature is intact only if
    the encapsulated content is exactly what the byte range holds (or its SHA-1). A SHA-1 digest of the
    document is a weak binding (two PDFs with one SHA-1 were published in 2017), so a
    ``adbe.pkcs7.sha1`` signature that checks out stays ``indeterminate`` (``algorithm_not_allowed``).
    """
    sha1 = signature.subfilter == PKCS7_SHA1
    try:
        signature.compute_integrity_info(diff_policy=ETSI_DIFF_POLICY)
        embedded = signature.signed_data["encap_content_info"]["content"].native
        if sha1:
            bound = embedded == signature.compute_digest("sha1")
        else:
            algorithm = signature.md_algorithm
            bound = hashlib.new(algorithm, embedded).digest() == signature.compute_digest(algorithm)
        status = await cms_basic_validation(
            signature.signed_data,
            raw_digest=None,  # the encapsulated content (the SHA-1 digest) is what is signed
            validation_context=material.context(),
            key_usage_settings=PdfSignatureStatus.default_usage_constraints(None),
        )
    except Exception as exc:
        if mode == "strict" and _read_error(exc):
            raise StrictReadRefused(str(exc)) from exc
        logger.warning("signature %s could not be validated", report.field, exc_info=True)
        describe_signer(report, _signer_cert_or_none(signature))
        _explain_failure(report, signature, exc)
        return report
    describe_signer(report, status["signing_cert"])
    report.signing_time = signature.self_reported_timestamp
    report.intact = bool(status["intact"]) and bound
    report.valid = bool(status["valid"])
    if not report.intact:
        report.fail(
            "digest_mismatch", "the signed bytes were altered (the signed content is not the byte range)"
        )
    if not report.valid:
        report.fail("signature_invalid", "the CMS signature does not verify")
    await judge_trust(report, status, material)
    if sha1:
        report.fail(
            "algorithm_not_allowed",
            "adbe.pkcs7.sha1 binds the signature to the document with SHA-1, which is no longer collision-resistant",
        )
    judge_modifications(report, _integrity_only(signature))
    return report


def _difference_analysis_failed(signature: LocatedSignature) -> bool:
    """pyHanko computed digest and coverage, then its difference analysis raised."""
    return (
        bool(signature.external_digests) and signature.coverage is not None and signature.diff_result is None
    )


async def _judge_signature_timestamp(
    report: SignatureReport,
    signature: LocatedSignature,
    status: PdfSignatureStatus,
    material: ValidationMaterial,
) -> None:
    timestamp = status.timestamp_validity
    report.timestamped = timestamp is not None or _claimed_timestamp_time(signature) is not None
    if timestamp is not None:
        report.tsa = _common_name(timestamp.signing_cert)
    if _timestamp_ok(timestamp):
        assert timestamp is not None
        tsa_revocation, _ = await revocation_status(timestamp.validation_path, material.context())
        if tsa_revocation == "revoked":
            report.fail("timestamp_invalid", "the timestamp authority's certificate is revoked")
        else:
            report.timestamp_valid = True
            report.timestamp_time = timestamp.timestamp
    elif report.timestamped:
        report.fail("timestamp_invalid", "the signature timestamp token is invalid or its TSA is not trusted")


async def _validate_signature(
    signature: LocatedSignature, material: ValidationMaterial, *, skip_diff: bool = False
) -> tuple[PdfSignatureStatus, datetime | None]:
    """Validate; judge the certificate at the timestamp's time when that time is proven.

    Returns the status and the moment the certificate was judged at (``None``: now).
    """
    claimed = _claimed_timestamp_time(signature)
    status = await async_validate_pdf_signature(
        signature,
        signer_validation_context=material.context(claimed),
        ts_validation_context=material.context(),
        diff_policy=ETSI_DIFF_POLICY,
        skip_diff=skip_diff,
    )
    timestamp = status.timestamp_validity
    proven = timestamp.timestamp if timestamp is not None and _timestamp_ok(timestamp) else None
    if proven == claimed:
        return status, claimed
    # The time we judged at is not the proven one (bad token, or another token won): judge again.
    status = await async_validate_pdf_signature(
        signature,
        signer_validation_context=material.context(proven),
        ts_validation_context=material.context(),
        diff_policy=ETSI_DIFF_POLICY,
        skip_diff=skip_diff,
    )
    return status, proven


def _explain_failure(report: SignatureReport, signature: LocatedSignature, exc: Exception) -> None:
    """Turn a validation that stopped half-way into reason codes, keeping what was established."""
    # The byte-range digest and the difference analysis run before the CMS checks: keep them.
    if signature.external_digests:
        try:
            embedded = extract_message_digest(signature.signer_info)
            report.intact = signature.compute_digest() == embedded
            if not report.intact:
                report.fail("digest_mismatch", "the signed bytes were altered (digest mismatch)")
        except Exception:
            report.intact = None
    if report.intact is None:
        report.fail("digest_not_computed", "the byte-range digest could not be checked")
    message = str(exc)
    if isinstance(exc, AlgorithmNotSupported):
        report.fail(
            "unsupported_algorithm",
            f"the signature algorithm {report.algorithm or '?'} is not supported; it was not checked",
        )
    elif isinstance(exc, SignatureValidationError) and "SubFilter" in message:
        report.fail("unsupported_subfilter", f"the signature format is not supported: {message}")
    elif isinstance(exc, SignatureValidationError) and "encapsulated data" in message:
        report.fail(
            "unsupported_cms_structure",
            "the detached signature also embeds content; such containers are not checked",
        )
    else:
        report.fail("validation_error", f"signature could not be validated: {message}")
    if signature.coverage is not None:
        try:
            judge_modifications(report, _integrity_only(signature))
        except Exception:
            logger.debug("no modification analysis for %s", report.field, exc_info=True)


def _integrity_only(signature: LocatedSignature) -> ModificationInfo:
    """The coverage and difference analysis pyHanko computed before (or without) the CMS checks."""
    return ModificationInfo(**signature.summarise_integrity_info())


async def verify_document_timestamp(
    timestamp: LocatedSignature, material: ValidationMaterial, mode: Mode
) -> DocumentTimestampReport:
    report = DocumentTimestampReport(field=str(timestamp.field_name))
    try:
        status: DocumentTimestampStatus = await async_validate_pdf_timestamp(
            timestamp, validation_context=material.context(), diff_policy=ETSI_DIFF_POLICY
        )
    except Exception as exc:
        if mode == "strict" and _read_error(exc):
            raise StrictReadRefused(str(exc)) from exc
        logger.warning("document timestamp %s could not be validated", report.field, exc_info=True)
        message = str(exc)
        if isinstance(exc, SignatureValidationError) and "SubFilter" in message:
            report.fail("unsupported_subfilter", f"the timestamp format is not supported: {message}")
        else:
            report.fail("validation_error", f"document timestamp could not be validated: {message}")
        return report
    report.time = status.timestamp
    report.intact = status.intact
    report.valid = status.valid
    report.tsa = _common_name(status.signing_cert)
    report.trusted = status.trusted
    if not status.intact:
        report.fail("digest_mismatch", "the document timestamp does not match the document (digest mismatch)")
    if not status.valid:
        report.fail("signature_invalid", "the document timestamp's signature does not verify")
    if status.intact and status.valid:
        if not status.trusted:
            report.fail("chain_not_trusted", "the timestamp authority is not trusted")
        else:
            revocation, _ = await revocation_status(status.validation_path, material.context())
            if revocation == "revoked":
                report.trusted = False
                report.fail("certificate_revoked", "the timestamp authority's certificate is revoked")
    judge_modifications(report, status)
    return report


# --- naming and certificates -----------------------------------------------------------------------


def _chain_der(path: ValidationPath | None) -> list[str]:
    """The validated path as base64 DER, signer first (pyHanko iterates from the trust anchor)."""
    if path is None:
        return []
    certs = list(path.iter_certs(include_root=True))
    return [base64.b64encode(cert.dump()).decode("ascii") for cert in reversed(certs)]


def _algorithm(signature: LocatedSignature) -> str:
    try:
        return algorithm_name(signature.signer_info["signature_algorithm"])
    except Exception:
        return ""


def _subject_values(cert: x509.Certificate, attribute: str) -> list[str]:
    return [
        str(attr["value"].native)
        for rdn in cert.subject.chosen
        for attr in rdn
        if attr["type"].native == attribute or attr["type"].dotted == attribute
    ]


def _common_name(cert: x509.Certificate | None) -> str:
    if cert is None:
        return ""
    names = _subject_values(cert, "common_name")
    return names[-1] if names else cert.subject.human_friendly


# ETSI EN 319 412-1 §5.1.4: a legal person's registration, e.g. NTRCN-<unified social credit code>.
ORGANIZATION_IDENTIFIER_OID = "2.5.4.97"


def _signer_cert_or_none(signature: LocatedSignature) -> x509.Certificate | None:
    try:
        return signature.signer_cert
    except Exception:
        return None


async def judge_trust(report: SignatureReport, status: dict[str, Any], material: ValidationMaterial) -> None:
    """Trust and revocation of a signature whose CMS signature verified: the path must reach a root
    and no certificate on it may be revoked (judged from the embedded data, decision 15)."""
    path, indic = status["validation_path"], status["trust_problem_indic"]
    if report.valid and path is not None and indic is None:
        revocation, detail = await revocation_status(path, material.context())
        report.revocation = revocation
        if revocation == "revoked":
            report.fail("certificate_revoked", detail)
        report.trusted = revocation != "revoked"
    elif report.valid:
        indication = getattr(indic, "name", str(indic)) if indic is not None else "no path"
        report.fail("chain_not_trusted", f"the signer's certificate is not trusted ({indication})")


def describe_signer(report: SignatureReport, cert: x509.Certificate | None) -> None:
    if cert is None:
        return
    report.signer = _common_name(cert)
    report.signer_subject = cert.subject.human_friendly
    identifiers = _subject_values(cert, ORGANIZATION_IDENTIFIER_OID)
    if identifiers:
        report.organization_identifier = identifiers[-1]
        organizations = _subject_values(cert, "organization_name")
        report.signer_organization = organizations[-1] if organizations else ""
    report.issuer = cert.issuer.human_friendly
    report.certificate_serial = str(cert.serial_number)
    report.certificate_sha256 = cert.sha256.hex()

"""Offline verification of signed PDFs: PAdES / ISO 32000 signatures and document timestamps.

One verb, ``verify_pdf()``, used by the ``verify`` management command (``econtract verify``) and by
anything else that has to judge a PDF. Nothing is fetched from the network: trust comes from the
caller's trust roots, revocation from the validation data carried by the PDF itself (its DSS and
the signatures' revocation-info-archival attributes).

Per signature, pyHanko checks the byte-range digest (``intact``), the CMS signature (``valid``), the
chain to a trust root (``trusted``), the signature timestamp token, and classifies every revision
appended after the signed one (difference analysis). On top of that we:

* judge the signer's certificate at the time proven by a valid signature timestamp (PAdES B-T and
  later), and at the current time when there is none;
* decide revocation ourselves ("good" / "revoked" / "unknown") from the embedded CRLs and OCSP
  responses, so that missing or stale data reads "unknown" instead of silently passing or failing;
* insist that a ``/ByteRange`` covers its whole revision (signature wrapping) and that every later
  revision is at most form filling or LTA maintenance (incremental saving and shadow attacks).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any, Literal

from asn1crypto import cms, x509
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.crypt import AuthStatus
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel, SuspiciousModification
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.general import (
    MultivaluedAttributeError,
    NonexistentAttributeError,
    find_unique_cms_attribute,
)
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    EmbeddedPdfSignature,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    ModificationInfo,
    PdfSignatureStatus,
    SignatureCoverageLevel,
    TimestampSignatureStatus,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import NO_REVOCATION, CertRevTrustPolicy
from pyhanko_certvalidator.revinfo.validate_crl import verify_crl
from pyhanko_certvalidator.revinfo.validate_ocsp import verify_ocsp_response

from econtract.verification.errors import UnreadablePdf

logger = logging.getLogger(__name__)

Revocation = Literal["good", "revoked", "unknown"]
Modification = Literal["none", "form_filling", "lta_updates", "other"]

PERMITTED_MODIFICATIONS: frozenset[str] = frozenset({"none", "form_filling", "lta_updates"})
FULL_COVERAGE = (SignatureCoverageLevel.ENTIRE_REVISION, SignatureCoverageLevel.ENTIRE_FILE)

_MODIFICATION_NAMES: dict[ModificationLevel, Modification] = {
    ModificationLevel.NONE: "none",
    ModificationLevel.LTA_UPDATES: "lta_updates",
    ModificationLevel.FORM_FILLING: "form_filling",
    ModificationLevel.ANNOTATIONS: "other",
    ModificationLevel.OTHER: "other",
}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass
class SignatureReport:
    """What we found out about one ``/Sig`` signature. ``problems`` lists every reason it fails."""

    field: str
    signer: str = ""
    certificate_serial: str = ""
    trusted: bool = False
    intact: bool = False
    valid: bool = False
    timestamped: bool = False
    timestamp_time: datetime | None = None
    timestamp_valid: bool = False
    revocation: Revocation = "unknown"
    modification: Modification = "other"
    signing_time: datetime | None = None
    coverage: str = "unclear"
    problems: list[str] = dataclasses.field(default_factory=list)
    signer_subject: str = ""
    issuer: str = ""
    certificate_sha256: str = ""
    validated_at: datetime | None = None
    changed_fields: list[str] = dataclasses.field(default_factory=list)
    tsa: str = ""

    @property
    def acceptable(self) -> bool:
        return (
            not self.problems
            and self.intact
            and self.valid
            and self.trusted
            and self.revocation != "revoked"
            and (self.timestamp_valid or not self.timestamped)
            and self.modification in PERMITTED_MODIFICATIONS
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "signer": self.signer,
            "certificate_serial": self.certificate_serial,
            "trusted": self.trusted,
            "intact": self.intact,
            "valid": self.valid,
            "timestamp_time": _iso(self.timestamp_time),
            "timestamp_valid": self.timestamp_valid,
            "revocation": self.revocation,
            "modification": self.modification,
            "signing_time": _iso(self.signing_time),
            "coverage": self.coverage,
            "problems": list(self.problems),
            # extra keys
            "timestamped": self.timestamped,
            "signer_subject": self.signer_subject,
            "issuer": self.issuer,
            "certificate_sha256": self.certificate_sha256,
            "validated_at": _iso(self.validated_at),
            "changed_fields": list(self.changed_fields),
            "tsa": self.tsa,
        }


@dataclass
class DocumentTimestampReport:
    """One ``/DocTimeStamp`` (PAdES B-LTA archive timestamp)."""

    field: str
    time: datetime | None = None
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    coverage: str = "unclear"
    modification: Modification = "other"
    tsa: str = ""
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def acceptable(self) -> bool:
        return (
            not self.problems
            and self.intact
            and self.valid
            and self.trusted
            and self.modification in PERMITTED_MODIFICATIONS
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": _iso(self.time),
            "intact": self.intact,
            "valid": self.valid,
            "trusted": self.trusted,
            # extra keys
            "field": self.field,
            "coverage": self.coverage,
            "modification": self.modification,
            "tsa": self.tsa,
            "problems": list(self.problems),
        }


@dataclass
class VerificationReport:
    valid: bool
    signatures: list[SignatureReport] = dataclasses.field(default_factory=list)
    document_timestamps: list[DocumentTimestampReport] = dataclasses.field(default_factory=list)
    error: str | None = None
    problems: list[str] = dataclasses.field(default_factory=list)  # about the file as a whole

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "signatures": [s.to_dict() for s in self.signatures],
            "document_timestamps": [t.to_dict() for t in self.document_timestamps],
            "error": self.error,
            "problems": list(self.problems),
        }


# --- entry points ---------------------------------------------------------------------------------


def verify_pdf(
    data: bytes,
    *,
    trust_roots: list[x509.Certificate],
    other_certs: list[x509.Certificate] | None = None,
) -> VerificationReport:
    """Verify every signature and document timestamp in ``data`` against ``trust_roots``, offline.

    Safe to call from synchronous code, from threads and from inside a running event loop (an
    ASGI view, a Playwright session): pyHanko's API is async, and ``asyncio.run`` refuses to nest,
    so inside a loop the work runs on a fresh loop in a worker thread.

    Raises ``UnreadablePdf`` when ``data`` cannot be parsed as a PDF.
    """

    def run() -> VerificationReport:
        return asyncio.run(async_verify_pdf(data, trust_roots=trust_roots, other_certs=other_certs))

    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    if not in_loop:
        return run()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-pdf") as pool:
        return pool.submit(run).result()


async def async_verify_pdf(
    data: bytes,
    *,
    trust_roots: list[x509.Certificate],
    other_certs: list[x509.Certificate] | None = None,
) -> VerificationReport:
    """The coroutine behind ``verify_pdf()``, for callers that already run an event loop."""
    reader = _open(data)
    signatures, timestamps, malformed = _collect_signatures(reader)
    material = _ValidationMaterial.gather(reader, [*signatures, *timestamps], trust_roots, other_certs or [])

    signature_reports = [await _verify_signature(sig, material) for sig in signatures]
    signature_reports += malformed
    timestamp_reports = [await _verify_document_timestamp(ts, material) for ts in timestamps]

    problems = []
    if not data.rstrip(b"\x00\t\n\r\f ").endswith(b"%%EOF"):
        # Bytes after the last revision belong to no signature's coverage and no xref, yet a
        # lenient viewer may still "repair" them into the document.
        problems.append("data after the last %%EOF is not part of any revision")
    error = None
    if not signature_reports:
        error = "the document carries no signature"
    valid = (
        bool(signature_reports)
        and not problems
        and all(s.acceptable for s in signature_reports)
        and all(t.acceptable for t in timestamp_reports)
    )
    return VerificationReport(
        valid=valid,
        signatures=signature_reports,
        document_timestamps=timestamp_reports,
        error=error,
        problems=problems,
    )


# --- reading --------------------------------------------------------------------------------------


def _open(data: bytes) -> PdfFileReader:
    # Hostile input: any parser failure, whatever its type, means "not a PDF we can judge".
    try:
        reader = PdfFileReader(BytesIO(data), strict=True)
        if reader.encrypted:
            # Only documents that open without a password (owner-password-only) can be judged.
            if reader.decrypt("").status == AuthStatus.FAILED:
                raise UnreadablePdf("the PDF is encrypted with a password")
        _ = reader.root, reader.xrefs.total_revisions
    except UnreadablePdf:
        raise
    except Exception as exc:
        raise UnreadablePdf(f"not a readable PDF: {exc}") from exc
    return reader


def _collect_signatures(
    reader: PdfFileReader,
) -> tuple[list[EmbeddedPdfSignature], list[EmbeddedPdfSignature], list[SignatureReport]]:
    """Every filled signature field: ``/Sig`` signatures, ``/DocTimeStamp``s, and unparseable ones.

    Unlike pyHanko's ``embedded_signatures`` we do not skip signatures with an unknown
    ``/SubFilter`` or a broken ``/Contents``: a signature we cannot check is reported as failing
    (Universal Signature Forgery plays with exactly these).
    """
    signatures: list[EmbeddedPdfSignature] = []
    timestamps: list[EmbeddedPdfSignature] = []
    malformed: list[SignatureReport] = []
    try:
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:
        raise UnreadablePdf(f"unreadable form fields: {exc}") from exc
    for fq_name, _sig_obj, sig_field in fields:
        try:
            embedded = EmbeddedPdfSignature(reader, sig_field, fq_name)
            kind = embedded.sig_object_type
        except Exception as exc:
            malformed.append(SignatureReport(field=str(fq_name), problems=[f"malformed signature: {exc}"]))
            continue
        if kind == "/DocTimeStamp":
            timestamps.append(embedded)
        elif kind == "/Sig":
            signatures.append(embedded)
        else:
            malformed.append(SignatureReport(field=str(fq_name), problems=[f"unknown signature type {kind}"]))
    signatures.sort(key=lambda s: s.signed_revision)
    timestamps.sort(key=lambda s: s.signed_revision)
    return signatures, timestamps, malformed


@dataclass
class _ValidationMaterial:
    """Trust roots plus the certificates and revocation data found in the document."""

    trust_roots: list[x509.Certificate]
    certs: list[x509.Certificate]
    crls: list[asn1_crl.CertificateList]
    ocsps: list[asn1_ocsp.OCSPResponse]

    @classmethod
    def gather(
        cls,
        reader: PdfFileReader,
        signatures: Iterable[EmbeddedPdfSignature],
        trust_roots: Sequence[x509.Certificate],
        other_certs: Sequence[x509.Certificate],
    ) -> _ValidationMaterial:
        certs = list(other_certs)
        crls: list[asn1_crl.CertificateList] = []
        ocsps: list[asn1_ocsp.OCSPResponse] = []
        try:
            dss = DocumentSecurityStore.read_dss(reader)
            certs.extend(dss.load_certs())
            crls.extend(
                asn1_crl.CertificateList.load(_stream_bytes(ref, DecodePurpose.CRL)) for ref in dss.crls
            )
            ocsps.extend(
                asn1_ocsp.OCSPResponse.load(_stream_bytes(ref, DecodePurpose.OCSP_RESPONSE))
                for ref in dss.ocsps
            )
        except NoDSSFoundError:
            pass
        except Exception:
            # A broken DSS only costs us revocation data: statuses then read "unknown".
            logger.warning("ignoring an unreadable DSS", exc_info=True)
        for signature in signatures:
            certs.extend(_embedded_certs(signature.signed_data))
            for tst_signed_data in extract_tst_data_iter(signature.signer_info, signed=False):
                certs.extend(_embedded_certs(tst_signed_data))
            sig_crls, sig_ocsps = _revocation_info_archival(signature)
            crls.extend(sig_crls)
            ocsps.extend(sig_ocsps)
        return cls(trust_roots=list(trust_roots), certs=certs, crls=crls, ocsps=ocsps)

    def context(self, moment: datetime | None = None) -> ValidationContext:
        """A fresh offline context judging at ``moment`` (now when ``None``).

        pyHanko is told not to check revocation at all: its soft-fail mode fails a chain on stale
        embedded data and skips certificates without a CRL distribution point. We decide revocation
        ourselves in ``_revocation_status()``. ``retroactive_revinfo`` accepts a CRL issued after the
        signing time (the usual B-LT case, where validation data is gathered after signing).
        """
        return ValidationContext(
            # never None: pyHanko would fall back to the operating system's TLS roots
            trust_roots=list(self.trust_roots),
            other_certs=list(self.certs),
            crls=list(self.crls),
            ocsps=list(self.ocsps),
            moment=moment,
            allow_fetching=False,
            revinfo_policy=CertRevTrustPolicy(NO_REVOCATION, retroactive_revinfo=True),
        )


def _stream_bytes(ref: generic.PdfObject, purpose: DecodePurpose) -> bytes:
    stream = ref.get_object()
    if not isinstance(stream, generic.StreamObject):
        raise ValueError("DSS entry is not a stream")
    return stream.read_data(purpose)


def _embedded_certs(signed_data: cms.SignedData) -> list[x509.Certificate]:
    """The X.509 certificates a CMS object carries (CRL issuers are looked up among them)."""
    try:
        return [c.chosen for c in signed_data["certificates"] or () if c.name == "certificate"]
    except Exception:
        logger.warning("ignoring unreadable embedded certificates", exc_info=True)
        return []


def _revocation_info_archival(
    signature: EmbeddedPdfSignature,
) -> tuple[list[asn1_crl.CertificateList], list[asn1_ocsp.OCSPResponse]]:
    """CRLs and OCSP responses in the signed ``adbe-revocationInfoArchival`` attribute, if any."""
    try:
        archival = find_unique_cms_attribute(
            signature.signer_info["signed_attrs"], "adobe_revocation_info_archival"
        )
        return list(archival["crl"]), list(archival["ocsp"])
    except (NonexistentAttributeError, MultivaluedAttributeError):
        return [], []
    except Exception:
        logger.warning("ignoring an unreadable revocation-info-archival attribute", exc_info=True)
        return [], []


# --- judging --------------------------------------------------------------------------------------


def _claimed_timestamp_time(signature: EmbeddedPdfSignature) -> datetime | None:
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


async def _verify_signature(
    signature: EmbeddedPdfSignature, material: _ValidationMaterial
) -> SignatureReport:
    report = SignatureReport(field=str(signature.field_name))
    try:
        status, judged_at = await _validate_signature(signature, material)
    except Exception as exc:
        logger.warning("signature %s could not be validated", report.field, exc_info=True)
        report.problems.append(f"signature could not be validated: {exc}")
        _describe_signer(report, _signer_cert_or_none(signature))
        return report

    _describe_signer(report, status.signing_cert)
    report.intact = status.intact
    report.valid = status.valid
    report.validated_at = judged_at
    report.signing_time = status.signer_reported_dt
    if not status.intact:
        report.problems.append("the signed bytes were altered (digest mismatch)")
    if not status.valid:
        report.problems.append("the CMS signature does not verify")

    timestamp = status.timestamp_validity
    report.timestamped = timestamp is not None or _claimed_timestamp_time(signature) is not None
    if timestamp is not None:
        report.tsa = _common_name(timestamp.signing_cert)
    if _timestamp_ok(timestamp):
        assert timestamp is not None
        tsa_revocation, _ = await _revocation_status(timestamp.validation_path, material.context())
        if tsa_revocation == "revoked":
            report.problems.append("the timestamp authority's certificate is revoked")
        else:
            report.timestamp_valid = True
            report.timestamp_time = timestamp.timestamp
    elif report.timestamped:
        report.problems.append("the signature timestamp token is invalid or its TSA is not trusted")

    # "trusted" judges the certificate only (chain, validity period, key usage, revocation), so a
    # tampered document still tells who signed it; pyHanko's own flag also folds in "intact".
    chain_ok = status.validation_path is not None and status.trust_problem_indic is None
    if chain_ok:
        revocation, detail = await _revocation_status(status.validation_path, material.context(judged_at))
        report.revocation = revocation
        if revocation == "revoked":
            report.problems.append(detail)
        report.trusted = revocation != "revoked"
    elif status.valid:
        indic = status.trust_problem_indic
        indication = getattr(indic, "name", str(indic)) if indic is not None else "no path"
        report.problems.append(f"the signer's certificate is not trusted ({indication})")

    _judge_modifications(report, status)
    return report


async def _validate_signature(
    signature: EmbeddedPdfSignature, material: _ValidationMaterial
) -> tuple[PdfSignatureStatus, datetime | None]:
    """Validate; judge the certificate at the timestamp's time when that time is proven.

    Returns the status and the moment the certificate was judged at (``None``: now).
    """
    claimed = _claimed_timestamp_time(signature)
    status = await async_validate_pdf_signature(
        signature,
        signer_validation_context=material.context(claimed),
        ts_validation_context=material.context(),
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
    )
    return status, proven


def _judge_modifications(report: SignatureReport | DocumentTimestampReport, status: ModificationInfo) -> None:
    coverage = status.coverage
    report.coverage = coverage.name.lower() if coverage is not None else "unclear"
    if coverage not in FULL_COVERAGE:
        # Signature wrapping: the /ByteRange must span its whole revision (all but /Contents).
        report.problems.append("the /ByteRange does not cover its whole revision")
        report.modification = "other"
        return
    diff = status.diff_result
    if isinstance(diff, SuspiciousModification):
        report.modification = "other"
        first_line = str(diff).strip().splitlines()[0] if str(diff).strip() else "unexplained changes"
        report.problems.append(f"the document was changed after signing: {first_line}")
        return
    level = status.modification_level
    report.modification = _MODIFICATION_NAMES.get(level, "other") if level is not None else "other"
    if isinstance(report, SignatureReport) and isinstance(diff, DiffResult):
        report.changed_fields = sorted(diff.changed_form_fields)
    if report.modification not in PERMITTED_MODIFICATIONS:
        level_name = level.name if level is not None else "unknown"
        report.problems.append(f"the document was changed after signing ({level_name})")
    elif isinstance(status, PdfSignatureStatus) and status.docmdp_ok is False:
        report.modification = "other"
        report.problems.append("changes after signing violate the signature's DocMDP/FieldMDP permissions")


async def _verify_document_timestamp(
    timestamp: EmbeddedPdfSignature, material: _ValidationMaterial
) -> DocumentTimestampReport:
    report = DocumentTimestampReport(field=str(timestamp.field_name))
    try:
        status: DocumentTimestampStatus = await async_validate_pdf_timestamp(
            timestamp, validation_context=material.context()
        )
    except Exception as exc:
        logger.warning("document timestamp %s could not be validated", report.field, exc_info=True)
        report.problems.append(f"document timestamp could not be validated: {exc}")
        return report
    report.time = status.timestamp
    report.intact = status.intact
    report.valid = status.valid
    report.tsa = _common_name(status.signing_cert)
    report.trusted = status.trusted
    if not (status.intact and status.valid):
        report.problems.append("the document timestamp does not verify")
    elif not status.trusted:
        report.problems.append("the timestamp authority is not trusted")
    else:
        revocation, _ = await _revocation_status(status.validation_path, material.context())
        if revocation == "revoked":
            report.trusted = False
            report.problems.append("the timestamp authority's certificate is revoked")
    _judge_modifications(report, status)
    return report


async def _revocation_status(
    path: ValidationPath | None, context: ValidationContext
) -> tuple[Revocation, str]:
    """Revocation of a path's leaf (and, if revoked, of its CAs) from the embedded data only.

    "good": a CRL or OCSP response valid at the context's time covers the leaf and none says it
    was revoked before that time. "revoked": one does (or a CA above it is revoked). "unknown":
    nothing usable; never guessed to be "good".
    """
    if path is None:
        return "unknown", ""
    certs = list(path.iter_certs(include_root=False))
    if not certs:
        return "unknown", ""  # the leaf is itself a trust anchor
    leaf, authorities = certs[-1], certs[:-1]
    status, detail = await _certificate_status(leaf, path, context)
    if status == "revoked":
        return status, f"the signer's certificate was revoked ({detail})"
    for ca_cert in authorities:
        ca_status, ca_detail = await _certificate_status(ca_cert, path, context)
        if ca_status == "revoked":
            name = ca_cert.subject.human_friendly
            return "revoked", f"the issuing CA certificate {name} was revoked ({ca_detail})"
    return status, detail


async def _certificate_status(
    cert: x509.Certificate, path: ValidationPath, context: ValidationContext
) -> tuple[Revocation, str]:
    found_good = False
    for check in (verify_ocsp_response, verify_crl):
        try:
            await check(cert, path, context)
            found_good = True
        except RevokedError as exc:
            reason = exc.reason.native if exc.reason is not None else "unspecified"
            return "revoked", f"on {_iso(exc.revocation_dt)}, reason {reason}"
        except Exception as exc:
            # no matching data, stale data, bad signature on it...: no evidence either way
            logger.debug("no usable %s for %s: %s", check.__name__, cert.subject.human_friendly, exc)
    return ("good", "") if found_good else ("unknown", "")


# --- naming ---------------------------------------------------------------------------------------


def _common_name(cert: x509.Certificate | None) -> str:
    if cert is None:
        return ""
    names = [
        attr["value"].native
        for rdn in cert.subject.chosen
        for attr in rdn
        if attr["type"].native == "common_name"
    ]
    return str(names[-1]) if names else cert.subject.human_friendly


def _signer_cert_or_none(signature: EmbeddedPdfSignature) -> x509.Certificate | None:
    try:
        return signature.signer_cert
    except Exception:
        return None


def _describe_signer(report: SignatureReport, cert: x509.Certificate | None) -> None:
    if cert is None:
        return
    report.signer = _common_name(cert)
    report.signer_subject = cert.subject.human_friendly
    report.issuer = cert.issuer.human_friendly
    report.certificate_serial = str(cert.serial_number)
    report.certificate_sha256 = cert.sha256.hex()


__all__ = [
    "DocumentTimestampReport",
    "SignatureReport",
    "UnreadablePdf",
    "VerificationReport",
    "async_verify_pdf",
    "verify_pdf",
]

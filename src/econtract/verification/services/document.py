"""The document as a whole: read it (strict, else lenient), judge each signature, give the verdict."""

from __future__ import annotations

import asyncio
import concurrent.futures

from asn1crypto import x509

from econtract.verification.errors import UnreadablePdf
from econtract.verification.services.activecontent import active_content_warnings
from econtract.verification.services.material import ValidationMaterial
from econtract.verification.services.reading import StrictReadRefused, locate_signatures, open_pdf
from econtract.verification.services.reports import Mode, VerificationReport
from econtract.verification.services.scanning import scan_signatures, verify_scanned
from econtract.verification.services.signatures import verify_document_timestamp, verify_signature
from econtract.verification.services.visual import review_appearance


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

    Raises ``UnreadablePdf`` when no signature can be located in ``data`` because it cannot be
    parsed as a PDF, even leniently.
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
    roots, others = list(trust_roots), list(other_certs or [])
    try:
        return await _verify(data, "strict", roots, others)
    except (StrictReadRefused, UnreadablePdf) as strict_failure:
        if isinstance(strict_failure, UnreadablePdf) and "password" in str(strict_failure):
            raise
        try:
            report = await _verify(data, "lenient", roots, others)
        except UnreadablePdf as lenient_failure:
            scanned = await _verify_scanned(data, roots, others)
            if scanned is None:
                if isinstance(strict_failure, UnreadablePdf):
                    raise strict_failure from None
                raise
            text = str(lenient_failure).removeprefix("not a readable PDF: ")
            scanned.mode_reason = (
                f"no reader opens the file ({text}); signatures were located by scanning its bytes"
            )
            return scanned
        if isinstance(strict_failure, UnreadablePdf) and not (
            report.signatures or report.document_timestamps
        ):
            # A file only the lenient reader opens, and in which it finds no signature, is damaged
            # rather than unsigned: "cannot be judged" (exit 2), as before.
            raise strict_failure from None
        report.mode_reason = _reason_text(strict_failure)
        return report


async def _verify_scanned(
    data: bytes, trust_roots: list[x509.Certificate], other_certs: list[x509.Certificate]
) -> VerificationReport | None:
    """The last resort when no reader opens the file; ``None`` when no signature is found either."""
    found = scan_signatures(data)
    if not found:
        return None
    material = ValidationMaterial(trust_roots=trust_roots, certs=other_certs, crls=[], ocsps=[])
    reports = [await verify_scanned(item, data, material) for item in found]
    return VerificationReport(valid=False, signatures=reports, mode="lenient")


def _reason_text(failure: Exception) -> str:
    text = str(failure).removeprefix("not a readable PDF: ")
    return f"the strict reader refused the file: {text}"[:300]


async def _verify(
    data: bytes, mode: Mode, trust_roots: list[x509.Certificate], other_certs: list[x509.Certificate]
) -> VerificationReport:
    reader = open_pdf(data, mode)
    located = locate_signatures(reader, data, mode)
    material = ValidationMaterial.gather(
        reader, [*located.signatures, *located.timestamps], trust_roots, other_certs
    )

    signature_reports = [await verify_signature(sig, material, mode) for sig in located.signatures]
    signature_reports += located.refused
    timestamp_reports = [await verify_document_timestamp(ts, material, mode) for ts in located.timestamps]
    timestamp_reports += located.refused_timestamps
    # what the signer saw against what the file shows now (may make signatures invalid)
    judged = list(zip(located.signatures, signature_reports[: len(located.signatures)], strict=True))
    appearance_warnings = review_appearance(data, judged)

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
        mode=mode,
        warnings=active_content_warnings(reader, data) + appearance_warnings,
    )

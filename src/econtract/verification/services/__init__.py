"""Offline verification of signed PDFs: PAdES / ISO 32000 signatures and document timestamps.

One verb, ``verify_pdf()``, used by the ``verify`` management command (``econtract verify``), the
public verification page and API, and anything else that has to judge a PDF. Nothing is fetched
from the network: trust comes from the caller's trust roots, revocation from the validation data
carried by the PDF itself.

Split by topic: ``reports`` (what the verifier says: statuses and reason codes), ``reading`` (strict
or lenient reader, locating signatures, byte-range sanity), ``material`` (certificates and revocation
data, revocation decisions), ``algorithms`` (mechanisms beyond pyHanko's: plain ECDSA),
``signatures`` (judging one signature or document timestamp), ``modifications`` (coverage and
changes after signing) and ``document`` (the whole file and its verdict).
"""

from __future__ import annotations

from econtract.verification.errors import UnreadablePdf
from econtract.verification.services.document import async_verify_pdf, verify_pdf
from econtract.verification.services.reports import (
    PERMITTED_MODIFICATIONS,
    REASON_STATUS,
    DocumentTimestampReport,
    Modification,
    Revocation,
    SignatureReport,
    Status,
    VerificationReport,
)

__all__ = [
    "PERMITTED_MODIFICATIONS",
    "REASON_STATUS",
    "DocumentTimestampReport",
    "Modification",
    "Revocation",
    "SignatureReport",
    "Status",
    "UnreadablePdf",
    "VerificationReport",
    "async_verify_pdf",
    "verify_pdf",
]

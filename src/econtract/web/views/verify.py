"""The public verification page: anyone uploads a signed PDF (or an evidence package) and reads a report.

Nothing is stored. The page answers first in one plain sentence (verification/plain_language.py),
then gives the details.
"""

from __future__ import annotations

import hashlib
import importlib
import zipfile
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods

from econtract.client_address import client_address, limit_bucket
from econtract.documents.errors import DocumentError
from econtract.pki.services import ensure_platform_pki, root_certificate
from econtract.ratelimit import hit
from econtract.verification import plain_language
from econtract.verification.errors import UnreadablePdf, VerificationRateLimited
from econtract.verification.platform import VERIFICATIONS_PER_MINUTE, verify_pdf_with_platform_roots
from econtract.web.errors import DOMAIN_ERRORS, error_message, with_retry_after
from econtract.web.forms import VerifyForm


def _moment(value: Any) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


def _readable(report: dict[str, Any]) -> dict[str, Any]:
    """The report with its ISO times parsed, so templates print them in the reader's time zone."""
    signatures = []
    for signature in report.get("signatures", []):
        signatures.append(
            {
                **signature,
                "signing_time_value": _moment(signature.get("signing_time")),
                "timestamp_time_value": _moment(signature.get("timestamp_time")),
                "validated_at_value": _moment(signature.get("validated_at")),
                "ok": signature.get("status") == "valid",
            }
        )
    timestamps = [
        {
            **stamp,
            "time_value": _moment(stamp.get("time")),
            "ok": stamp.get("status") == "valid",
        }
        for stamp in report.get("document_timestamps", [])
    ]
    return {**report, "signatures": signatures, "document_timestamps": timestamps}


ZIP_MAGIC = b"PK\x03\x04"
PACKAGE_MODULE = "econtract.evidence.package_verify"


def _package_keys() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The log's verifier key and the configured witnesses' keys ("URL VKEY", comma-separated)."""
    from econtract.evidence.log import log_verifier_key

    witnesses = tuple(
        entry.split()[-1] for entry in (settings.ECONTRACT_WITNESSES or "").split(",") if entry.strip()
    )
    return (log_verifier_key(),), witnesses


def _verify_package(data: bytes, address: str | None, context: dict[str, Any]) -> int:
    """Check an evidence package; fills the context, returns the HTTP status."""
    try:
        module = importlib.import_module(PACKAGE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != PACKAGE_MODULE:
            raise  # the module is there but something it needs is missing: a real fault
        context["verdict"] = plain_language.package_unsupported_verdict()
        return 400
    if address is not None:
        # the same public budget as PDFs: a package holds PDFs and proofs to check
        counted = hit(f"verify:{limit_bucket(address)}", VERIFICATIONS_PER_MINUTE, 60)
        if not counted.allowed:
            raise VerificationRateLimited(
                "too many verifications from your address; wait a minute", retry_after=counted.retry_after
            )
    log_keys, witness_keys = _package_keys()
    # Judged against this platform's root (as PDFs are, verification/platform.py), never the package's own.
    ensure_platform_pki()
    root = root_certificate()
    trust_roots = (root,) if root is not None else ()
    try:
        package = module.verify_package(
            data, log_keys=log_keys, witness_keys=witness_keys, trust_roots=trust_roots
        )
    except zipfile.BadZipFile:
        context["verdict"] = plain_language.package_unreadable_verdict()
        return 400
    context["package"] = package
    context["verdict"] = plain_language.package_verdict(package)
    return 200


@require_http_methods(["GET", "POST"])
def verify_page(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {}
    refusal: Exception | None = None
    status = 200
    if request.method == "POST":
        form = VerifyForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["document"]
            data = upload.read()
            context["filename"] = upload.name
            context["sha256"] = hashlib.sha256(data).hexdigest()
            try:
                if data.startswith(ZIP_MAGIC):
                    status = _verify_package(data, client_address(request), context)
                else:
                    report = verify_pdf_with_platform_roots(data, client_address=client_address(request))
                    context["verdict"] = plain_language.verdict_sentence(report)
                    context["report"] = _readable(report.to_dict())
            except DOMAIN_ERRORS as exc:
                refusal = exc
                form.add_error("document", error_message(exc))
                if isinstance(exc, UnreadablePdf | DocumentError):
                    context["verdict"] = plain_language.unreadable_verdict(exc)
    else:
        form = VerifyForm()
    context["form"] = form
    response = render(request, "web/verify.html", context, status=400 if form.errors else status)
    return with_retry_after(response, refusal)

"""The public verification page: anyone uploads a signed PDF and reads a report. Nothing is stored."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods

from econtract.client_address import client_address
from econtract.verification.platform import verify_pdf_with_platform_roots
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


@require_http_methods(["GET", "POST"])
def verify_page(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {}
    refusal: Exception | None = None
    if request.method == "POST":
        form = VerifyForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["document"]
            data = upload.read()
            context["filename"] = upload.name
            context["sha256"] = hashlib.sha256(data).hexdigest()
            try:
                report = verify_pdf_with_platform_roots(data, client_address=client_address(request))
                context["report"] = _readable(report.to_dict())
            except DOMAIN_ERRORS as exc:
                refusal = exc
                form.add_error("document", error_message(exc))
    else:
        form = VerifyForm()
    context["form"] = form
    response = render(request, "web/verify.html", context, status=400 if form.errors else 200)
    return with_retry_after(response, refusal)

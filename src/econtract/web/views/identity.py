"""The identity page: the person's assurance level and verified identity, and the checks that raise it.

2 elements answer at once; 3 elements and bank 4 elements text a code to the phone first and ask the
provider once the code is confirmed. identity.verification does the work; this module only renders.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from econtract.identity import assurance, verification
from econtract.identity.models import IdentityVerification
from econtract.identity.providers import identity_provider_is_sandbox
from econtract.web.errors import DOMAIN_ERRORS, error_message, with_retry_after
from econtract.web.identity_forms import (
    ID_TYPE_CHOICES,
    PHONE_METHODS,
    IdentityConfirmForm,
    IdentityRevokeForm,
    IdentityVerificationForm,
)
from econtract.web.views.common import request_context, safe_next

LEVEL_LABELS = {
    "L0": gettext_lazy("L0: nothing verified"),
    "L1": gettext_lazy("L1: contact verified (email or phone)"),
    "L2": gettext_lazy("L2: identity document checked by a provider"),
    "L3": gettext_lazy("L3: strong verification (bank card, face, eID or manual review)"),
}

METHOD_LABELS = {
    "id_2el": gettext_lazy("name and ID number"),
    "id_3el": gettext_lazy("name, ID number and phone"),
    "bank_4el": gettext_lazy("bank card (4 elements)"),
    "face": gettext_lazy("face check"),
    "oidc": gettext_lazy("external identity provider"),
    "manual": gettext_lazy("manual review of document images"),
}

STATUS_LABELS = {
    "pending": gettext_lazy("pending"),
    "verified": gettext_lazy("verified"),
    "rejected": gettext_lazy("rejected"),
    "revoked": gettext_lazy("revoked"),
}

# Why a check was rejected, by the provider's answer; the row's own reason is kept for the rest.
REJECTIONS = {
    "mismatch": gettext_lazy(
        "The details do not match: the identity provider knows this document number with another name "
        "(or another phone or bank card). Enter them exactly as on the document."
    ),
    "not_found": gettext_lazy(
        "The identity provider has no record of this document number. Check the number and the document type."
    ),
    "unavailable": gettext_lazy(
        "The identity provider could not be reached, so nothing was decided. Please try again in a few minutes."
    ),
}

HISTORY_LENGTH = 20


def identity_url(next_url: str | None = None) -> str:
    """The identity page, coming back to ``next_url`` once the identity is verified."""
    url = reverse("web:identity")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def needs_identity(user: Any) -> bool:
    """Whether a signing certificate would be refused for want of identity verification."""
    return not assurance.meets(assurance.level_of(user), assurance.min_signing_assurance())


def rejection_message(row: IdentityVerification) -> str:
    message = REJECTIONS.get(row.outcome)
    if message is not None:
        return str(message)
    return _("The verification was rejected: %(reason)s") % {"reason": row.reason or row.outcome or "—"}


def _next(request: HttpRequest) -> str:
    return safe_next(request, request.POST.get("next") or request.GET.get("next"), "")


def _done_url(request: HttpRequest) -> str:
    return _next(request) or reverse("web:identity")


def _here(request: HttpRequest) -> str:
    return identity_url(_next(request) or None)


def _own(request: HttpRequest, pk: object) -> IdentityVerification:
    row = verification.verifications_of(request.user).filter(pk=pk).first()
    if row is None:
        raise Http404
    return row


def _pending(user: Any) -> IdentityVerification | None:
    """The newest verification waiting for its SMS code, if the newest attempt is one."""
    newest = (
        verification.verifications_of(user)
        .filter(purpose__in=[IdentityVerification.Purpose.IDENTITY, IdentityVerification.Purpose.PIN_RESET])
        .first()
    )
    if newest is not None and newest.status == newest.Status.PENDING and newest.method in PHONE_METHODS:
        return newest
    return None


def _render(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    user = request.user
    level = assurance.level_of(user)
    required = assurance.min_signing_assurance()
    summary = assurance.summary(user)
    history = verification.verifications_of(user)[:HISTORY_LENGTH]
    id_types = dict(ID_TYPE_CHOICES)
    context: dict[str, Any] = {
        "level": level,
        "level_label": LEVEL_LABELS.get(level, level),
        "required": required,
        "meets_required": assurance.meets(level, required),
        "identity": summary,
        "identity_method": METHOD_LABELS.get(summary["method"], summary["method"]) if summary else "",
        "identity_id_type": id_types.get(summary["id_type"], summary["id_type"]) if summary else "",
        "current": assurance.current_identity(user),
        "sandbox": identity_provider_is_sandbox(),
        "form": IdentityVerificationForm(
            initial={"name": user.full_name, "reset_pin": request.GET.get("reset_pin") == "1"},
            has_key=hasattr(user, "signer_key"),
        ),
        "confirm_form": IdentityConfirmForm(),
        "revoke_form": IdentityRevokeForm(),
        "pending": _pending(user),
        "history": [
            {
                "row": row,
                "method": METHOD_LABELS.get(row.method, row.method),
                "status": STATUS_LABELS.get(row.status, row.status),
            }
            for row in history
        ],
        "next": _next(request),
    }
    context.update(extra)
    return render(request, "web/identity.html", context, status=status)


def _failed(request: HttpRequest, exc: Exception, **forms: Any) -> HttpResponse:
    status = 503 if getattr(exc, "code", "") == "provider_unavailable" else 400
    response = _render(request, status=status, error=error_message(exc), **forms)
    return with_retry_after(response, exc)


@login_required
@require_GET
def identity_page(request: HttpRequest) -> HttpResponse:
    return _render(request)


@login_required
@require_POST
def identity_start(request: HttpRequest) -> HttpResponse:
    form = IdentityVerificationForm(request.POST, has_key=hasattr(request.user, "signer_key"))
    if not form.is_valid():
        return _render(request, status=400, form=form)
    data = form.cleaned_data
    try:
        row = verification.start_verification(
            request.user,
            method=data["method"],
            name=data["name"],
            id_type=data["id_type"],
            id_number=data["id_number"],
            phone=data.get("phone") or None,
            bank_card=data.get("bank_card") or None,
            purpose=(
                IdentityVerification.Purpose.PIN_RESET
                if data.get("reset_pin")
                else IdentityVerification.Purpose.IDENTITY
            ),
            context=request_context(request),
            client=request,
        )
    except DOMAIN_ERRORS as exc:
        return _failed(request, exc, form=form)
    return _after(request, row, form=form)


@login_required
@require_POST
def identity_confirm(request: HttpRequest, pk: object) -> HttpResponse:
    row = _own(request, pk)
    form = IdentityConfirmForm(request.POST)
    if not form.is_valid():
        return _render(request, status=400, confirm_form=form)
    try:
        row = verification.confirm_verification(
            row, form.cleaned_data["otp"], context=request_context(request)
        )
    except DOMAIN_ERRORS as exc:
        return _failed(request, exc, confirm_form=form)
    return _after(request, row)


@login_required
@require_POST
def identity_revoke(request: HttpRequest, pk: object) -> HttpResponse:
    row = _own(request, pk)
    form = IdentityRevokeForm(request.POST)
    if not form.is_valid():
        return _render(request, status=400, revoke_form=form)
    try:
        verification.revoke_verification(
            row,
            reason=form.cleaned_data.get("reason") or "withdrawn by the holder",
            context=request_context(request),
        )
    except DOMAIN_ERRORS as exc:
        return _failed(request, exc)
    messages.success(request, _("The verification was revoked."))
    return redirect(_here(request))


def _after(request: HttpRequest, row: IdentityVerification, **forms: Any) -> HttpResponse:
    if row.status == row.Status.VERIFIED:
        request.user.refresh_from_db()
        messages.success(
            request,
            _("Your identity is verified: %(name)s, level %(level)s.")
            % {"name": row.name, "level": assurance.level_of(request.user)},
        )
        return redirect(_done_url(request))
    if row.status == row.Status.PENDING:
        messages.info(
            request,
            _("We sent a 6-digit code to %(phone)s. Enter it below to finish.") % {"phone": row.phone_masked},
        )
        return redirect(_here(request))
    return _render(request, status=400, error=rejection_message(row), **forms)

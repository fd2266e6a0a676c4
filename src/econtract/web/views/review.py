"""Pictures for a manual review, the operators' queue, and the person's own data (reveal, export).

identity.review, identity.reauth and identity.export do the work; this module renders. Pages that
show personal data in full, and the pictures, are sent with ``Cache-Control: no-store``.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from econtract.evidence.services import record_event
from econtract.identity import export, reauth, review
from econtract.identity.errors import SelfReviewRefused
from econtract.identity.face import submit_face_check
from econtract.identity.idnumbers import IdType
from econtract.identity.images import max_image_bytes
from econtract.identity.models import IdentityDocumentImage, IdentityVerification
from econtract.identity.providers import identity_provider_is_sandbox
from econtract.identity.review_api import ID_NUMBER_PURPOSE, NO_STORE, image_response
from econtract.identity.vault import unseal_text
from econtract.textinput import MultiLineField, SingleLineField
from econtract.web.errors import DOMAIN_ERRORS, error_message, with_retry_after
from econtract.web.identity_forms import ID_TYPE_CHOICES
from econtract.web.views.common import request_context, safe_next

IMAGE_ACCEPT = "image/jpeg,image/png"


class ManualReviewForm(forms.Form):
    name = SingleLineField(
        label=gettext_lazy("Full name, as on the document"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    id_type = forms.ChoiceField(
        label=gettext_lazy("Document"), choices=ID_TYPE_CHOICES, initial=IdType.CN_RESIDENT
    )
    id_number = SingleLineField(label=gettext_lazy("Document number"), max_length=64)
    front = forms.FileField(
        label=gettext_lazy("Front of the document"),
        widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}),
    )
    back = forms.FileField(
        label=gettext_lazy("Back of the document (if it has one)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}),
    )
    selfie = forms.FileField(
        label=gettext_lazy("A photo of you holding the document"),
        widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}),
    )


class FaceCheckForm(forms.Form):
    name = SingleLineField(
        label=gettext_lazy("Full name, as on the document"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    id_type = forms.ChoiceField(
        label=gettext_lazy("Document"), choices=ID_TYPE_CHOICES, initial=IdType.CN_RESIDENT
    )
    id_number = SingleLineField(label=gettext_lazy("Document number"), max_length=64)
    selfie = forms.FileField(
        label=gettext_lazy("A photo of your face"),
        widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT, "capture": "user"}),
    )


class RejectForm(forms.Form):
    reason = MultiLineField(
        label=gettext_lazy("Reason, shown to the person"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReauthForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Password"),
        required=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label=gettext_lazy("Or a code from your authenticator app"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("password") and not cleaned.get("code"):
            raise forms.ValidationError(_("Enter your password (or a code from your authenticator app)."))
        return cleaned


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = NO_STORE
    response["Pragma"] = "no-cache"
    return response


def _read(upload: Any) -> bytes | None:
    if upload is None:
        return None
    return bytes(upload.read(max_image_bytes() + 1))


# --- the person: send pictures ----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def identity_manual(request: HttpRequest) -> HttpResponse:
    pending = IdentityVerification.objects.filter(
        user=request.user,
        method=IdentityVerification.Method.MANUAL,
        status=IdentityVerification.Status.PENDING,
    ).first()
    form = ManualReviewForm(request.POST or None, request.FILES or None)
    status = 200
    error = None
    if request.method == "POST":
        if form.is_valid():
            images = {kind: _read(form.cleaned_data.get(kind)) for kind in ("front", "back", "selfie")}
            try:
                review.submit_manual_review(
                    request.user,
                    name=form.cleaned_data["name"],
                    id_type=form.cleaned_data["id_type"],
                    id_number=form.cleaned_data["id_number"],
                    images={kind: data for kind, data in images.items() if data is not None},
                    context=request_context(request),
                )
            except DOMAIN_ERRORS as exc:
                error = error_message(exc)
            else:
                messages.success(request, _("Your documents were sent. An operator will review them."))
                return redirect("web:identity_manual")
        status = 400
    context = {"form": form, "pending": pending, "error": error, "max_mb": max_image_bytes() // (1024 * 1024)}
    return render(request, "web/identity_manual.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def identity_face(request: HttpRequest) -> HttpResponse:
    form = FaceCheckForm(request.POST or None, request.FILES or None)
    status = 200
    error = None
    caught: Exception | None = None
    if request.method == "POST":
        if form.is_valid():
            try:
                row = submit_face_check(
                    request.user,
                    name=form.cleaned_data["name"],
                    id_type=form.cleaned_data["id_type"],
                    id_number=form.cleaned_data["id_number"],
                    selfie=_read(form.cleaned_data["selfie"]) or b"",
                    context=request_context(request),
                    client=request,
                )
            except DOMAIN_ERRORS as exc:
                error, caught = error_message(exc), exc
                status = 503 if getattr(exc, "code", "") == "provider_unavailable" else 400
            else:
                if row.status == IdentityVerification.Status.VERIFIED:
                    messages.success(request, _("Face check passed: your identity is verified at L3."))
                else:
                    messages.error(
                        request, _("The face check did not match: %(reason)s") % {"reason": row.reason}
                    )
                return redirect("web:identity")
        else:
            status = 400
    context = {
        "form": form,
        "error": error,
        "sandbox": identity_provider_is_sandbox(),
        "max_mb": max_image_bytes() // (1024 * 1024),
    }
    response = render(request, "web/identity_face.html", context, status=status)
    return with_retry_after(response, caught)


# --- operators ---------------------------------------------------------------------------------


def _operator(request: HttpRequest) -> Any:
    if not review.is_operator(request.user):
        raise PermissionDenied(_("Reviewing identity documents is for operators."))
    return request.user


def _review(request: HttpRequest, pk: UUID) -> IdentityVerification:
    operator = _operator(request)
    try:
        return review.review_for(operator, pk)
    except IdentityVerification.DoesNotExist:
        raise Http404 from None
    except SelfReviewRefused as exc:
        raise PermissionDenied(error_message(exc)) from exc


@login_required
@require_GET
@never_cache
def review_queue(request: HttpRequest) -> HttpResponse:
    operator = _operator(request)
    rows = list(review.pending_reviews(operator)[:200])
    return _no_store(render(request, "web/review_queue.html", {"rows": rows}))


@login_required
@require_GET
@never_cache
def review_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    row = _review(request, pk)
    context = {
        "row": row,
        "images": list(row.images.order_by("kind")),
        "reject_form": RejectForm(),
        "pending": row.status == IdentityVerification.Status.PENDING,
    }
    return _no_store(render(request, "web/review_detail.html", context))


@login_required
@require_GET
def review_image(request: HttpRequest, pk: UUID, image_id: UUID) -> HttpResponse:
    row = _review(request, pk)
    try:
        image, data = review.open_image(request.user, row, image_id, context=request_context(request))
    except IdentityDocumentImage.DoesNotExist:
        raise Http404 from None
    return image_response(image.content_type, data, f"{image.kind}.{image.content_type.rsplit('/', 1)[1]}")


@login_required
@require_POST
def review_approve(request: HttpRequest, pk: UUID) -> HttpResponse:
    row = _review(request, pk)
    try:
        review.approve(request.user, row, context=request_context(request))
    except DOMAIN_ERRORS as exc:
        messages.error(request, error_message(exc))
        return redirect("web:review_detail", pk=row.pk)
    messages.success(request, _("Approved: %(name)s is verified at L3.") % {"name": row.name})
    return redirect("web:review_queue")


@login_required
@require_POST
def review_reject(request: HttpRequest, pk: UUID) -> HttpResponse:
    row = _review(request, pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        context = {
            "row": row,
            "images": list(row.images.order_by("kind")),
            "reject_form": form,
            "pending": True,
        }
        return _no_store(render(request, "web/review_detail.html", context, status=400))
    try:
        review.reject(request.user, row, reason=form.cleaned_data["reason"], context=request_context(request))
    except DOMAIN_ERRORS as exc:
        messages.error(request, error_message(exc))
        return redirect("web:review_detail", pk=row.pk)
    messages.success(request, _("Rejected: %(name)s was told why.") % {"name": row.name})
    return redirect("web:review_queue")


# --- the person's own data: re-authenticate, reveal, export ------------------------------------


def _reauth_url(request: HttpRequest) -> str:
    return f"{reverse('web:reauth')}?next={request.get_full_path()}"


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def reauth_view(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"), reverse("web:profile"))
    form = ReauthForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                reauth.reauthenticate(
                    request,
                    password=form.cleaned_data.get("password") or None,
                    code=form.cleaned_data.get("code") or None,
                    context=request_context(request),
                )
            except DOMAIN_ERRORS as exc:
                form.add_error(None, error_message(exc))
                response = render(request, "web/reauth.html", {"form": form, "next": next_url}, status=403)
                return with_retry_after(response, exc)
            return redirect(next_url)
        status = 400
    return render(request, "web/reauth.html", {"form": form, "next": next_url}, status=status)


@login_required
@require_GET
@never_cache
def identity_reveal(request: HttpRequest, pk: UUID) -> HttpResponse:
    row = IdentityVerification.objects.filter(user=request.user, pk=pk).first()
    if row is None or not row.id_number_sealed:
        raise Http404
    if reauth.fresh_until(request) is None:
        return redirect(_reauth_url(request))
    number = unseal_text(bytes(row.id_number_sealed), purpose=ID_NUMBER_PURPOSE)
    record_event("id_number_revealed", row, request_context(request), payload={"to": "holder"})
    context = {"row": row, "id_number": number, "until": reauth.fresh_until(request)}
    return _no_store(render(request, "web/identity_reveal.html", context))


@login_required
@require_GET
@never_cache
def profile_export(request: HttpRequest) -> HttpResponse:
    if reauth.fresh_until(request) is None:
        return redirect(_reauth_url(request))
    document = export.export_personal_data(request.user, context=request_context(request))
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, indent=1), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="econtract-my-data.json"'
    return _no_store(response)

"""Second factors in the browser: the security page (enrol, remove, recovery codes) and the login step."""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from econtract.evidence.services import RequestContext
from econtract.identity import factors, passkeys
from econtract.identity.errors import (
    FactorError,
    FactorMissing,
    IdentityError,
    OtpInvalid,
    OtpRateLimited,
    WebAuthnFailed,
)
from econtract.jsoninput import JsonRefused, load_json
from econtract.textinput import SingleLineField
from econtract.web import mfa
from econtract.web.errors import error_message

RECOVERY_SESSION_KEY = "mfa_new_recovery_codes"  # shown once on the next page, then dropped
LOGIN_PURPOSE = "login"


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text"}),
        help_text=gettext_lazy("6 digits from your authenticator app, or one of your recovery codes."),
    )


class TotpConfirmForm(forms.Form):
    device = forms.UUIDField(widget=forms.HiddenInput)
    code = forms.CharField(
        label=gettext_lazy("Code from the app"),
        max_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class TotpBeginForm(forms.Form):
    name = SingleLineField(label=gettext_lazy("Name"), max_length=100, required=False)


class ProofForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Password"), widget=forms.PasswordInput, max_length=256, required=False
    )
    code = forms.CharField(
        label=gettext_lazy("or a code from your app"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )


def factor_message(exc: Exception) -> str:
    if isinstance(exc, OtpRateLimited):
        minutes = max(1, math.ceil((exc.retry_after or 60) / 60))
        return _("Too many wrong codes. Try again in %(minutes)d minutes.") % {"minutes": minutes}
    if isinstance(exc, OtpInvalid):
        if "already used" in str(exc):
            return _("This code was already used. Wait for the next code of your app.")
        if exc.remaining_attempts <= 0:
            return _("The code is wrong. No attempts are left: codes are locked for 15 minutes.")
    messages_by_code = {
        "factor_missing": _("No such second factor is set up."),
        "factor_not_found": _("No such second factor."),
        "factor_required": _(
            "Owners and admins must keep a second factor: add another one before removing this."
        ),
        "factor_already_enrolled": _("An authenticator app is already set up; remove it first."),
        "reauthentication_required": _("Enter your password or a current code to confirm."),
        "webauthn_unavailable": _(
            "Passkeys cannot be used at this address: the site must be reached by a host name, not an IP address."
        ),
        "webauthn_failed": _("The passkey could not be checked. Try again."),
    }
    code = getattr(exc, "code", "")
    if code in messages_by_code:
        return messages_by_code[code]
    return error_message(exc)


# --- the security page ----------------------------------------------------------------------


def _render(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    user = request.user
    context: dict[str, Any] = {
        "factors": factors.list_factors(user),
        "has_totp": factors.has_factor(user, "totp"),
        "recovery_left": factors.recovery_codes_left(user),
        "required": factors.factor_required(user),
        "enrol_required": request.session.get(mfa.STATE_KEY) == "enrol",
        "passkeys_available": passkeys.available(),
        "begin_form": TotpBeginForm(),
        "proof_form": ProofForm(),
        "new_recovery_codes": request.session.pop(RECOVERY_SESSION_KEY, None),
    }
    context.update(extra)
    return render(request, "web/security.html", context, status=status)


def _show_recovery_codes(request: HttpRequest, codes: list[str] | None) -> None:
    if codes:
        request.session[RECOVERY_SESSION_KEY] = codes


@login_required
@require_GET
def security(request: HttpRequest) -> HttpResponse:
    return _render(request)


@login_required
@require_POST
def totp_begin(request: HttpRequest) -> HttpResponse:
    form = TotpBeginForm(request.POST)
    if not form.is_valid():
        return _render(request, status=400, begin_form=form)
    try:
        enrolment = factors.begin_totp_enrolment(
            request.user, name=form.cleaned_data["name"], context=RequestContext.from_request(request)
        )
    except IdentityError as exc:
        messages.error(request, factor_message(exc))
        return redirect("web:security")
    return _render(
        request,
        enrolment=enrolment,
        confirm_form=TotpConfirmForm(initial={"device": enrolment.device.pk}),
    )


@login_required
@require_POST
def totp_confirm(request: HttpRequest) -> HttpResponse:
    form = TotpConfirmForm(request.POST)
    if form.is_valid():
        try:
            _device, codes = factors.confirm_totp_enrolment(
                request.user,
                form.cleaned_data["code"],
                device_id=str(form.cleaned_data["device"]),
                context=RequestContext.from_request(request),
            )
        except IdentityError as exc:
            form.add_error("code", factor_message(exc))
        else:
            mfa.factor_enrolled(request)
            _show_recovery_codes(request, codes)
            messages.success(request, _("Your authenticator app is set up."))
            return redirect("web:security")
    return _render(request, status=400, confirm_form=form, confirm_failed=True)


@login_required
@require_POST
def factor_remove(request: HttpRequest, pk: str) -> HttpResponse:
    form = ProofForm(request.POST)
    form.is_valid()
    try:
        factors.remove_factor(
            request.user,
            str(pk),
            code=form.cleaned_data.get("code") or None,
            password=form.cleaned_data.get("password") or None,
            context=RequestContext.from_request(request),
        )
    except IdentityError as exc:
        messages.error(request, factor_message(exc))
    else:
        messages.success(request, _("The second factor was removed."))
    return redirect("web:security")


@login_required
@require_POST
def recovery_codes_renew(request: HttpRequest) -> HttpResponse:
    form = ProofForm(request.POST)
    form.is_valid()
    context = RequestContext.from_request(request)
    try:
        if not factors.has_any_factor(request.user):
            raise FactorMissing("recovery codes come with a second factor")
        factors.check_fresh_proof(
            request.user,
            code=form.cleaned_data.get("code") or None,
            password=form.cleaned_data.get("password") or None,
            context=context,
        )
    except IdentityError as exc:
        messages.error(request, factor_message(exc))
    else:
        _show_recovery_codes(request, factors.generate_recovery_codes(request.user, context=context))
    return redirect("web:security")


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = load_json(request.body, max_bytes=64 * 1024)
    except JsonRefused as exc:
        raise WebAuthnFailed("the request body is not JSON") from exc
    if not isinstance(body, dict):
        raise WebAuthnFailed("the request body is not a JSON object")
    return body


def _json_error(exc: IdentityError) -> JsonResponse:
    status = {"webauthn_unavailable": 409, "factor_missing": 409}.get(exc.code, 400)
    return JsonResponse({"error": exc.code, "detail": factor_message(exc)}, status=status)


@login_required
@require_POST
def passkey_options(request: HttpRequest) -> JsonResponse:
    try:
        return JsonResponse(passkeys.begin_registration(request.user))
    except IdentityError as exc:
        return _json_error(exc)


@login_required
@require_POST
def passkey_register(request: HttpRequest) -> JsonResponse:
    try:
        body = _json_body(request)
        name = SingleLineField(max_length=100, required=False).clean(str(body.get("name") or ""))
        _credential, codes = passkeys.finish_registration(
            request.user,
            body.get("credential") or {},
            name=name,
            context=RequestContext.from_request(request),
        )
    except IdentityError as exc:
        return _json_error(exc)
    except forms.ValidationError:
        return JsonResponse({"error": "invalid_text", "detail": _("The name is not valid.")}, status=400)
    mfa.factor_enrolled(request)
    _show_recovery_codes(request, codes)
    messages.success(request, _("Your passkey is registered."))
    return JsonResponse({"redirect": reverse("web:security")})


# --- the second step of logging in ------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def login_factor(request: HttpRequest) -> HttpResponse:
    user = mfa.pending_user(request)
    if user is None:
        messages.info(request, _("Please log in again."))
        return redirect("web:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        context = RequestContext.from_request(request, actor=user)
        try:
            if factors.looks_like_recovery_code(code):
                factors.use_recovery_code(user, code, purpose=LOGIN_PURPOSE, context=context)
                used = "recovery_code"
            else:
                factors.check_totp(user, code, purpose=LOGIN_PURPOSE, context=context)
                used = "totp"
        except IdentityError as exc:
            form.add_error("code", factor_message(exc))
        else:
            return redirect(mfa.second_factor_passed(request, user, factor=used))
    return render(
        request,
        "web/login_factor.html",
        {
            "form": form,
            "has_totp": factors.has_factor(user, "totp"),
            "has_passkey": factors.has_factor(user, "webauthn") and passkeys.available(),
        },
        status=400 if form.errors else 200,
    )


@require_POST
def login_passkey_options(request: HttpRequest) -> JsonResponse:
    user = mfa.pending_user(request)
    if user is None:
        return JsonResponse({"error": "login_required", "detail": _("Please log in again.")}, status=401)
    try:
        return JsonResponse(
            factors.begin_webauthn_assertion(user, purpose=LOGIN_PURPOSE, subject=str(user.pk))
        )
    except IdentityError as exc:
        return _json_error(exc)


@require_POST
def login_passkey_verify(request: HttpRequest) -> JsonResponse:
    user = mfa.pending_user(request)
    if user is None:
        return JsonResponse({"error": "login_required", "detail": _("Please log in again.")}, status=401)
    try:
        body = _json_body(request)
        factors.finish_webauthn_assertion(
            user,
            body.get("credential") or {},
            purpose=LOGIN_PURPOSE,
            subject=str(user.pk),
            context=RequestContext.from_request(request, actor=user),
        )
    except FactorError as exc:
        return _json_error(exc)
    return JsonResponse({"redirect": mfa.second_factor_passed(request, user, factor="webauthn")})

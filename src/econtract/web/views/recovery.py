"""Account recovery: "Forgot password?" mails a one-time link that sets a new password."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from econtract.accounts.errors import PasswordResetLinkInvalid, PasswordResetThrottled
from econtract.accounts.password_reset import request_password_reset, reset_link_user, reset_password
from econtract.client_address import client_address
from econtract.evidence.services import RequestContext
from econtract.web.errors import with_retry_after
from econtract.web.forms import LoginLinkForm, NewPasswordForm

TEMPLATE = "web/password_reset.html"


@require_http_methods(["GET", "POST"])
def password_reset_request(request: HttpRequest) -> HttpResponse:
    """Email me a reset link: the same answer whether or not the address has an account."""
    form = LoginLinkForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    sent = False
    throttled: PasswordResetThrottled | None = None
    if request.method == "POST" and form.is_valid():
        try:
            request_password_reset(
                form.cleaned_data["email"], client_address(request), RequestContext.from_request(request)
            )
        except PasswordResetThrottled as exc:
            throttled = exc
            form.add_error(
                None, _("Too many password resets were requested from your address; try again later.")
            )
        else:
            sent = True
    response = render(request, TEMPLATE, {"form": form, "sent": sent, "stage": "request"})
    return with_retry_after(response, throttled)


@require_http_methods(["GET", "POST"])
def password_reset_use(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """GET only shows the form: mail scanners that follow links must not spend the link."""
    try:
        user = reset_link_user(uidb64, token)
    except PasswordResetLinkInvalid:
        return render(request, TEMPLATE, {"stage": "invalid"}, status=404)
    form = NewPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            user = reset_password(
                uidb64, token, form.cleaned_data["password"], RequestContext.from_request(request)
            )
        except PasswordResetLinkInvalid:
            return render(request, TEMPLATE, {"stage": "invalid"}, status=404)
        except ValidationError as exc:
            form.add_error("password", exc)
        else:
            messages.success(request, _("Your password was changed. Every other session was logged out."))
            if request.user.is_authenticated and request.user.pk == user.pk:
                update_session_auth_hash(request, user)  # this browser stays logged in, the others do not
                return redirect("web:dashboard")
            return redirect(reverse("web:login") + "?" + urlencode({"email": user.email}))
    return render(request, TEMPLATE, {"form": form, "stage": "choose", "email": user.email})

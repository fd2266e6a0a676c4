"""Log in (password, or a one-time link by email), log out, and register with an emailed code."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import login, logout
from django.core.cache import cache
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from econtract.accounts.errors import LoginLinkInvalid, LoginLinkThrottled, LoginThrottled
from econtract.accounts.login_links import request_login_link, use_login_link
from econtract.accounts.models import User
from econtract.accounts.services import create_personal_account
from econtract.accounts.throttle import authenticate_password
from econtract.client_address import client_address
from econtract.evidence.services import RequestContext
from econtract.identity import services as otp_service
from econtract.identity.errors import IdentityError
from econtract.identity.models import OtpChallenge
from econtract.notifications.services import send_email
from econtract.web import mfa
from econtract.web.errors import error_message, login_wait_message, with_retry_after
from econtract.web.forms import (
    LoginForm,
    LoginLinkForm,
    RegisterAccountForm,
    RegisterCodeForm,
    RegisterEmailForm,
)
from econtract.web.views.common import safe_next

REGISTER_SESSION_KEY = "web_register"
# A proven email must be turned into an account within this time, or proven again.
REGISTER_PROOF_LIFETIME = timedelta(minutes=30)


def _first_factor_passed(request: HttpRequest, user: User, next_url: str, *, via: str) -> HttpResponse:
    """Password or login link: either proves the first factor only; web.mfa asks for the second."""
    return mfa.first_factor_passed(request, user, next_url, via=via)


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(
        request, request.POST.get("next") or request.GET.get("next"), reverse("web:dashboard")
    )
    if request.user.is_authenticated and request.method == "GET":
        return redirect(next_url)
    throttled: LoginThrottled | None = None
    if request.method == "POST":
        form = LoginForm(request.POST)
        if form.is_valid():
            email, password = form.cleaned_data["email"], form.cleaned_data["password"]
            try:
                user = authenticate_password(request, email, password)
            except LoginThrottled as exc:
                throttled = exc
                form.add_error(None, login_wait_message(exc))
            else:
                if user is not None:
                    return _first_factor_passed(request, user, next_url, via="password")
                form.add_error(None, _("Email or password is wrong."))
    else:
        form = LoginForm(initial={"email": request.GET.get("email", "")})
    response = render(
        request,
        "web/login.html",
        {
            "form": form,
            "next": next_url,
            "register_url": reverse("web:register"),
            "link_url": reverse("web:login_link"),
        },
    )
    return with_retry_after(response, throttled)


@require_http_methods(["GET", "POST"])
def login_link_request(request: HttpRequest) -> HttpResponse:
    """Email me a login link: the same answer whether or not the address has an account."""
    form = LoginLinkForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    sent = False
    throttled: LoginLinkThrottled | None = None
    if request.method == "POST" and form.is_valid():
        try:
            request_login_link(
                form.cleaned_data["email"], client_address(request), RequestContext.from_request(request)
            )
        except LoginLinkThrottled as exc:
            throttled = exc
            form.add_error(None, _("Too many login links were requested from your address; try again later."))
        else:
            sent = True
    response = render(request, "web/login_link.html", {"form": form, "sent": sent, "stage": "request"})
    return with_retry_after(response, throttled)


@require_http_methods(["GET", "POST"])
def login_link_use(request: HttpRequest, token: str) -> HttpResponse:
    """GET only shows a button: mail scanners that follow links must not spend the link."""
    if request.method == "POST":
        try:
            user = use_login_link(token, RequestContext.from_request(request))
        except LoginLinkInvalid:
            return render(request, "web/login_link.html", {"stage": "invalid"}, status=404)
        return _first_factor_passed(request, user, reverse("web:dashboard"), via="login_link")
    return render(request, "web/login_link.html", {"stage": "confirm"})


@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        logout(request)
        messages.info(request, _("You have logged out."))
        return redirect("web:login")
    return redirect("web:dashboard")


def _start_registration(request: HttpRequest, email: str) -> None:
    if User.objects.filter(email__iexact=email).exists():
        # Same answer on the page as for a new address, so the form does not reveal who has an account.
        # At most one notice per address every ten minutes, so the form cannot be used to flood an inbox.
        notice_key = "web:register-notice:" + hashlib.sha256(email.encode()).hexdigest()[:32]
        if not cache.add(notice_key, 1, timeout=600):
            return
        send_email(
            [email],
            "Registration attempt / 注册尝试",
            "Someone (perhaps you) tried to register a new econtract account with this email address, which "
            "already has an account. Log in instead; if it was not you, ignore this message.\n\n"
            "有人（也许是您）尝试用此邮箱注册新账户，但该邮箱已有账户。请直接登录；如非本人操作，请忽略此邮件。\n",
        )
        return
    otp_service.issue_otp(
        purpose=OtpChallenge.Purpose.VERIFY_EMAIL,
        subject=email,
        destination=email,
        user=None,
        # Emails are bilingual like every other platform email: the reader's language is not known yet.
        subject_line="Your econtract registration code / 注册验证码",
        intro="Your code to confirm this email address for econtract is / 您的邮箱验证码是:",
    )


def _proof_is_fresh(state: dict) -> bool:
    verified_at = state.get("verified_at")
    if not state.get("verified") or not verified_at:
        return False
    return timezone.now().timestamp() - float(verified_at) < REGISTER_PROOF_LIFETIME.total_seconds()


@require_http_methods(["GET", "POST"])
def register_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("web:dashboard")
    state: dict = request.session.get(REGISTER_SESSION_KEY) or {}
    if request.method == "GET" and (request.GET.get("restart") or request.GET.get("email")):
        state = {}
    if request.GET.get("next"):
        state["next"] = safe_next(request, request.GET.get("next"), "")
    email_form = RegisterEmailForm(initial={"email": request.GET.get("email", "")})
    code_form = RegisterCodeForm()
    account_form = RegisterAccountForm()

    step = request.POST.get("step") if request.method == "POST" else None
    if step in ("email", "resend"):
        email_form = RegisterEmailForm(request.POST if step == "email" else {"email": state.get("email", "")})
        if email_form.is_valid():
            email = email_form.cleaned_data["email"]
            state = {"email": email, "verified": False, "next": state.get("next", "")}
            try:
                _start_registration(request, email)
                messages.info(request, _("We sent a 6-digit code to %(email)s.") % {"email": email})
            except IdentityError as exc:
                messages.error(request, error_message(exc))
    elif step == "code" and state.get("email"):
        code_form = RegisterCodeForm(request.POST)
        if code_form.is_valid():
            try:
                otp_service.check_otp(
                    purpose=OtpChallenge.Purpose.VERIFY_EMAIL,
                    subject=state["email"],
                    code=code_form.cleaned_data["code"],
                )
            except IdentityError as exc:
                code_form.add_error("code", error_message(exc))
            else:
                state.update(verified=True, verified_at=timezone.now().timestamp())
    elif step == "account" and state.get("email"):
        if not _proof_is_fresh(state):
            state = {"next": state.get("next", "")}
            messages.error(request, _("Confirming your email took too long; please start again."))
        else:
            account_form = RegisterAccountForm(request.POST)
            if account_form.is_valid():
                try:
                    user = create_personal_account(
                        state["email"],
                        account_form.cleaned_data["password"],
                        account_form.cleaned_data["full_name"],
                        email_verified=True,
                        context=RequestContext.from_request(request),
                    )
                except IntegrityError:
                    account_form.add_error(
                        None, _("An account with this email already exists. Log in instead.")
                    )
                else:
                    request.session.pop(REGISTER_SESSION_KEY, None)
                    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                    messages.success(
                        request, _("Welcome, %(name)s. Your account is ready.") % {"name": user.full_name}
                    )
                    return redirect(safe_next(request, state.get("next"), reverse("web:dashboard")))

    request.session[REGISTER_SESSION_KEY] = state
    if state.get("verified") and _proof_is_fresh(state):
        stage = "account"
    elif state.get("email"):
        stage = "code"
    else:
        stage = "email"
    return render(
        request,
        "web/register.html",
        {
            "stage": stage,
            "email": state.get("email", ""),
            "email_form": email_form,
            "code_form": code_form,
            "account_form": account_form,
            "login_url": reverse("web:login"),
        },
    )

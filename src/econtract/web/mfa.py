"""MFA at login: the second step after the password (or a login link), and enrolment forced on owners.

Every way in that proves the first factor (password, emailed login link; any future one such as
OIDC) ends in ``first_factor_passed``: nobody is logged in until a factor she has is passed, and a
member whom ECONTRACT_MFA_REQUIRED_ROLES names is logged in only into the enrolment page until she
has one. ``MfaEnrolmentMiddleware`` is the one place that holds such a session to the enrolment
pages, for the web and for the API's session authentication alike (API keys are not affected).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from econtract.accounts.models import User
from econtract.evidence.services import RequestContext, record_event
from econtract.identity import factors

PENDING_KEY = "mfa_pending"  # {"user", "next", "at", "via"}: the password was right, a factor is due
STATE_KEY = "mfa"  # "passed" | "enrol" | "not_required" | "unchecked" (admin login form)
PENDING_LIFETIME_SECONDS = 600


def first_factor_passed(request: HttpRequest, user: User, next_url: str, *, via: str) -> HttpResponse:
    """The password or login link was right: ask for the second factor, or lead to enrolment."""
    if request.user.is_authenticated and request.user.pk != user.pk:
        logout(request)  # someone else's session: nothing of it carries over to this login
    request.session.pop(PENDING_KEY, None)
    if factors.has_any_factor(user):
        request.session[PENDING_KEY] = {"user": str(user.pk), "next": next_url, "at": time.time(), "via": via}
        return redirect("web:login_factor")
    if factors.factor_required(user):
        _log_in(request, user, state="enrol", via=via, factor="")
        messages.warning(
            request,
            _("Owners and admins must protect their account with a second factor. Set one up to continue."),
        )
        return redirect("web:security")
    _log_in(request, user, state="not_required", via=via, factor="")
    return redirect(next_url)


def pending_user(request: HttpRequest) -> User | None:
    """The account whose password was just proven, while its second factor is due."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_LIFETIME_SECONDS:
        return None
    user_id = pending.get("user")
    if not isinstance(user_id, str):
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


def pending_next(request: HttpRequest) -> str:
    pending = request.session.get(PENDING_KEY) or {}
    return str(pending.get("next") or reverse("web:dashboard"))


def second_factor_passed(request: HttpRequest, user: User, *, factor: str) -> str:
    """Log the pending account in; returns where to go next."""
    pending = request.session.get(PENDING_KEY) or {}
    next_url = pending_next(request)
    request.session.pop(PENDING_KEY, None)
    _log_in(request, user, state="passed", via=str(pending.get("via", "")), factor=factor)
    return next_url


def factor_enrolled(request: HttpRequest) -> None:
    """A session held to enrolment is free once the account has a factor."""
    if request.session.get(STATE_KEY) == "enrol":
        request.session[STATE_KEY] = "passed"


def _log_in(request: HttpRequest, user: User, *, state: str, via: str, factor: str) -> None:
    request._econtract_mfa_login = True  # type: ignore[attr-defined]  # seen by mark_other_logins
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[STATE_KEY] = state
    record_event(
        "logged_in",
        user,
        RequestContext.from_request(request, actor=user),
        payload={"via": via, "second_factor": factor or None, "mfa": state},
    )


def mark_other_logins(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    """user_logged_in: a password login that did not come through here (Django's admin login form).

    Such a session is marked; on its next request the middleware logs it out again and sends it
    through ``first_factor_passed``, so the admin's own login cannot skip the second factor.
    """
    if request is None or getattr(request, "_econtract_mfa_login", False):
        return
    if not getattr(request, "path", "").startswith("/admin/"):
        return  # the test client's force_login, or a command: no browser is logging in here
    request.session[STATE_KEY] = "unchecked"


def _allowed_during_enrolment(path: str) -> bool:
    prefixes = (
        reverse("web:security"),
        reverse("web:logout"),
        "/static/",
        "/i18n/",
        "/favicon.ico",
        "/api/v1/me/factors",
    )
    return path.startswith(prefixes)


class MfaEnrolmentMiddleware:
    """Holds a session that must enrol a factor to the enrolment pages; everything else is refused."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._refusal(request)
        return refusal if refusal is not None else self.get_response(request)

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        session: Any = getattr(request, "session", None)
        if session is None or session.get(STATE_KEY) not in ("enrol", "unchecked"):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if session.get(STATE_KEY) == "unchecked":
            if not (factors.has_any_factor(user) or factors.factor_required(user)):
                session[STATE_KEY] = "not_required"
                return None
            logout(request)  # the password alone was checked: start the second step properly
            return first_factor_passed(request, user, request.get_full_path(), via="admin_login")
        if request.path.startswith("/api/") and request.headers.get("Authorization", "").startswith(
            "Bearer "
        ):
            return None  # an API key authenticates on its own, whatever the browser's session says
        if _allowed_during_enrolment(request.path):
            return None
        if factors.has_any_factor(user):  # enrolled elsewhere (e.g. through the API)
            session[STATE_KEY] = "passed"
            return None
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "error": "mfa_enrolment_required",
                    "detail": "set up a second factor first (POST /api/v1/me/factors/totp)",
                },
                status=403,
            )
        return redirect("web:security")

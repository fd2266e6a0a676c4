"""Log in with, and verify identity through, the OpenID Connect provider (identity.oidc holds the verbs).

The flow state (state, nonce, PKCE verifier) lives in the server-side session from the start until
the callback, which takes it out: a callback URL replayed, or opened in another browser, finds none.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from econtract.accounts.models import User
from econtract.identity import oidc, vault
from econtract.identity.errors import IdentityError, OidcError
from econtract.web import mfa
from econtract.web.views.common import request_context, safe_next

FLOW_SESSION_KEY = "oidc_flow"
LINK_SESSION_KEY = "oidc_pending_link"
LINK_LIFETIME_SECONDS = 600  # the confirmation must follow the provider's answer closely
ID_NUMBER_PURPOSE = "identity.oidc_link"


def _redirect_uri() -> str:
    return settings.BASE_URL + reverse("web:oidc_callback")


def _current_user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


@require_POST
def oidc_login(request: HttpRequest) -> HttpResponse:
    if not oidc.login_enabled():
        raise Http404
    next_url = safe_next(request, request.POST.get("next"), reverse("web:dashboard"))
    return _begin(request, oidc.Purpose.LOGIN, next_url=next_url)


@login_required
@require_POST
def oidc_verify(request: HttpRequest) -> HttpResponse:
    if oidc.config() is None:
        raise Http404
    next_url = safe_next(request, request.POST.get("next"), reverse("web:identity"))
    return _begin(request, oidc.Purpose.VERIFY, next_url=next_url)


def _begin(request: HttpRequest, purpose: oidc.Purpose, *, next_url: str) -> HttpResponse:
    user = _current_user(request)
    try:
        url, flow = oidc.begin(
            purpose, redirect_uri=_redirect_uri(), user_id=str(user.pk) if user else "", next_url=next_url
        )
    except OidcError as exc:
        return _refused(request, str(exc), status=503)
    request.session[FLOW_SESSION_KEY] = flow
    return redirect(url)


@require_GET
def oidc_callback(request: HttpRequest) -> HttpResponse:
    flow = request.session.pop(FLOW_SESSION_KEY, None)
    user = _current_user(request)
    context = request_context(request)
    cfg = oidc.config()
    issuer = cfg.issuer if cfg else ""
    try:
        identity = oidc.finish(flow, request.GET)
    except OidcError as exc:
        oidc.record_refusal(user, str(exc), context, issuer=issuer, step=exc.step)
        return _refused(request, str(exc))
    assert flow is not None  # finish() refuses a callback without one
    next_url = str(flow.get("next") or reverse("web:dashboard"))
    if flow.get("purpose") == oidc.Purpose.VERIFY:
        return _verified(request, identity, flow, next_url)
    return _logged_in(request, identity, next_url)


def _verified(
    request: HttpRequest, identity: oidc.OidcIdentity, flow: dict[str, Any], next_url: str
) -> HttpResponse:
    user = _current_user(request)
    context = request_context(request)
    if user is None or str(user.pk) != flow.get("user_id"):
        oidc.record_refusal(
            user,
            "verification callback for another account",
            context,
            issuer=identity.issuer,
            step="verification for another account",
        )
        return _refused(request, _("This verification was started by another account. Please start again."))
    try:
        record = oidc.verify_identity(user, identity, context)
    except IdentityError as exc:
        oidc.record_refusal(user, str(exc), context, issuer=identity.issuer, step=getattr(exc, "step", ""))
        return _refused(request, str(exc))
    messages.success(
        request,
        _("Your identity was verified by %(provider)s: %(name)s, level %(level)s.")
        % {"provider": _label(), "name": record.name, "level": record.assurance_level},
    )
    return redirect(next_url)


def _logged_in(request: HttpRequest, identity: oidc.OidcIdentity, next_url: str) -> HttpResponse:
    current = _current_user(request)
    context = request_context(request)
    decision = oidc.login_decision(identity, current)
    if decision.decision is oidc.Decision.LOG_IN and decision.user is not None:
        oidc.record_login(decision.user, identity, context)
        # The provider proves a first factor only: an account that needs a second one is asked for it.
        return mfa.first_factor_passed(request, decision.user, next_url, via="oidc")
    if decision.decision is oidc.Decision.CREATE:
        try:
            user = oidc.create_account(identity, context)
        except IdentityError as exc:
            return _refused(request, str(exc))
        except IntegrityError:  # the address was registered in the meantime
            return _refused(request, _reason(oidc.Decision.EMAIL_IN_USE), status=403)
        return mfa.first_factor_passed(request, user, next_url, via="oidc")
    if decision.decision is oidc.Decision.CONFIRM_LINK and current is not None:
        request.session[LINK_SESSION_KEY] = _pending_link(identity, current, next_url)
        return redirect("web:oidc_link")
    message = _reason(decision.decision, identity.problem)
    oidc.record_refusal(
        decision.user or current,
        f"login refused: {decision.decision}",
        context,
        issuer=identity.issuer,
        step=f"login refused: {decision.decision}",
    )
    return _refused(request, message, status=403)


def _reason(decision: oidc.Decision, problem: str = "") -> str:
    reason = {
        oidc.Decision.EMAIL_IN_USE: _(
            "An econtract account already uses this email address. Log in to it (with your password or an "
            "emailed login link) and then use “Log in with %(label)s” again to link the two."
        ),
        oidc.Decision.EMAIL_UNVERIFIED: _(
            "The identity provider did not confirm your email address, so no account can be opened with it. "
            "Register with your email first, then link the provider."
        ),
        oidc.Decision.NO_NAME: _("The identity provider's answer cannot be used: %(problem)s"),
        oidc.Decision.LINKED_ELSEWHERE: _(
            "This %(label)s account is linked to another econtract account. Log out first to use it."
        ),
    }.get(decision, _("The sign-in cannot be completed."))
    return reason % {"label": _label(), "problem": problem}


def _pending_link(identity: oidc.OidcIdentity, user: User, next_url: str) -> dict[str, Any]:
    sealed = vault.seal_text(identity.id_number, purpose=ID_NUMBER_PURPOSE) if identity.id_number else b""
    return {
        "issuer": identity.issuer,
        "subject": identity.subject,
        "name": identity.name,
        "email": identity.email,
        "email_verified": identity.email_verified,
        # the session table is no place for an ID number in clear
        "id_number_sealed": base64.b64encode(sealed).decode(),
        "user_id": str(user.pk),
        "next": next_url,
        "at": time.time(),
    }


@login_required
@require_http_methods(["GET", "POST"])
def oidc_link(request: HttpRequest) -> HttpResponse:
    """Confirm linking the provider account to the logged-in account (which verifies her identity)."""
    pending = request.session.get(LINK_SESSION_KEY)
    user = _current_user(request)
    cfg = oidc.config()
    if (
        not pending
        or cfg is None
        or user is None
        or pending.get("user_id") != str(user.pk)
        or pending.get("issuer") != cfg.issuer
        or time.time() - float(pending.get("at", 0)) > LINK_LIFETIME_SECONDS
    ):
        request.session.pop(LINK_SESSION_KEY, None)
        return _refused(
            request, _("Nothing to link, or the link request expired. Please start again."), status=400
        )
    if request.method == "GET":
        return render(request, "web/oidc.html", {"stage": "confirm", "pending": pending, "label": cfg.label})
    request.session.pop(LINK_SESSION_KEY, None)
    if request.POST.get("confirm") != "yes":
        messages.info(request, _("Nothing was linked."))
        return redirect("web:identity")
    sealed = base64.b64decode(pending.get("id_number_sealed") or "")
    identity = oidc.OidcIdentity(
        issuer=pending["issuer"],
        subject=pending["subject"],
        name=pending["name"],
        email=pending["email"],
        email_verified=bool(pending["email_verified"]),
        id_number=vault.unseal_text(sealed, purpose=ID_NUMBER_PURPOSE) if sealed else "",
    )
    context = request_context(request)
    try:
        oidc.link_account(user, identity, context)
    except IdentityError as exc:
        oidc.record_refusal(user, str(exc), context, issuer=identity.issuer, step=getattr(exc, "step", ""))
        return _refused(request, str(exc))
    messages.success(
        request,
        _("Your %(label)s account is linked: you can log in with it from now on.") % {"label": cfg.label},
    )
    return redirect(str(pending.get("next") or reverse("web:identity")))


def _label() -> str:
    cfg = oidc.config()
    return cfg.label if cfg else ""


def _refused(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    return render(
        request, "web/oidc.html", {"stage": "refused", "message": message, "label": _label()}, status=status
    )

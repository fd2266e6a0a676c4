"""The user's own settings: signing PIN and API keys."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from econtract.accounts.models import ApiKey
from econtract.accounts.services import create_api_key, primary_organization, revoke_api_key
from econtract.identity import assurance
from econtract.identity.assurance import summary as identity_summary
from econtract.pki import custody
from econtract.web.errors import DOMAIN_ERRORS, error_message
from econtract.web.forms import ApiKeyForm, PinSetupForm
from econtract.web.views.identity import identity_url, needs_identity


def _has_signing_key(user: Any) -> bool:
    return hasattr(user, "signer_key")


def _render(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    user = request.user
    has_key = _has_signing_key(user)
    context = {
        "has_key": has_key,
        "pin_form": PinSetupForm(needs_current=has_key),
        "key_form": ApiKeyForm(user=user, initial={"organization": primary_organization(user)}),
        "api_keys": ApiKey.objects.filter(user=user).select_related("organization").order_by("-created_at"),
        "memberships": user.memberships.select_related("organization").order_by("created_at"),
        "assurance_level": assurance.level_of(user),
        "identity": identity_summary(user),
        "identity_needed": needs_identity(user),
        "required_level": assurance.min_signing_assurance(),
        "identity_url": identity_url(reverse("web:profile") + "#pin"),
    }
    context.update(extra)
    return render(request, "web/profile.html", context, status=status)


@login_required
@require_GET
def profile(request: HttpRequest) -> HttpResponse:
    return _render(request)


@login_required
@require_POST
def profile_pin(request: HttpRequest) -> HttpResponse:
    user = request.user
    has_key = _has_signing_key(user)
    form = PinSetupForm(request.POST, needs_current=has_key)
    if form.is_valid():
        try:
            custody.set_signing_pin(
                user, form.cleaned_data["pin"], current_pin=form.cleaned_data.get("current_pin") or None
            )
        except DOMAIN_ERRORS as exc:
            form.add_error(None, error_message(exc))
        else:
            messages.success(
                request, _("Your signing PIN was changed.") if has_key else _("Your signing PIN is set.")
            )
            return redirect("web:profile")
    return _render(request, status=400, pin_form=form)


@login_required
@require_POST
def apikey_create(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST, user=request.user)
    if not form.is_valid():
        return _render(request, status=400, key_form=form)
    key, secret = create_api_key(
        request.user, form.cleaned_data["organization"], name=form.cleaned_data["name"]
    )
    # Shown in this answer only: the secret is stored nowhere but as a hash.
    return _render(request, new_key=key, new_secret=secret)


@login_required
@require_POST
def apikey_revoke(request: HttpRequest, pk: object) -> HttpResponse:
    key = ApiKey.objects.filter(user=request.user, pk=pk).first()
    if key is None:
        raise Http404
    if key.revoked_at is None:
        revoke_api_key(key)
        messages.success(request, _("The API key %(prefix)s… was revoked.") % {"prefix": key.prefix})
    return redirect("web:profile")

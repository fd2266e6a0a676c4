"""The signer's page, reached by the personal link: read the document, then the signing ceremony.

The ceremony panel is one template; htmx swaps it after each step, and without JavaScript the same
forms post and get the whole page back.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from econtract.client_address import client_address
from econtract.identity import assurance, factors, passkeys
from econtract.identity.assurance import min_signing_assurance
from econtract.pki import custody
from econtract.signing import services
from econtract.signing.errors import LinkInvalid
from econtract.signing.models import Envelope, Party
from econtract.signing.services import willingness
from econtract.web import editor, fillable
from econtract.web.errors import DOMAIN_ERRORS, error_message
from econtract.web.forms import DeclineForm, PinSetupForm, SignForm
from econtract.web.views import seal_signing, signing_accountless
from econtract.web.views.common import htmx_redirect, is_htmx, request_context
from econtract.web.views.identity import identity_url, needs_identity
from econtract.web.views.seals import SEAL_ERRORS, seal_error_message


def _party(token: str) -> Party | None:
    try:
        return services.party_for_link(token)
    except LinkInvalid:
        return None


OPENED_SESSION_KEY = "signing_links_opened"
OPENED_SESSION_MAX = 50
# A client that keeps no cookie (a mail scanner, curl) is counted once per address and browser per hour.
OPENED_CLIENT_WINDOW_SECONDS = 3600


def _record_first_open(request: HttpRequest, party: Party) -> None:
    """One link_opened event per party and browser session, not one per reload.

    The session is written even for an anonymous visitor, so it persists (cookie) across reloads.
    """
    opened = [value for value in request.session.get(OPENED_SESSION_KEY, []) if isinstance(value, str)]
    if str(party.pk) in opened:
        return
    request.session[OPENED_SESSION_KEY] = [*opened, str(party.pk)][-OPENED_SESSION_MAX:]
    client = "|".join((str(party.pk), client_address(request), request.META.get("HTTP_USER_AGENT") or ""))
    client_key = "link-opened:" + hashlib.sha256(client.encode()).hexdigest()
    if cache.add(client_key, 1, timeout=OPENED_CLIENT_WINDOW_SECONDS):
        services.record_link_opened(party, request_context(request))


def _invalid_link(request: HttpRequest) -> HttpResponse:
    return render(request, "web/sign_invalid.html", status=404)


def _stage(envelope: Envelope, party: Party, user: Any) -> str:
    if party.status == Party.Status.SIGNED:
        return "signed"
    if party.status == Party.Status.DECLINED:
        return "declined"
    if envelope.status != Envelope.Status.SENT:
        return "closed"
    if party.status != Party.Status.READY:
        return "waiting"
    if not hasattr(user, "signer_key"):
        return "set_pin"
    # the sender may ask more than the platform's minimum, which the signing key already meets
    if not assurance.meets(assurance.level_of(user), willingness.effective_level(party)):
        return "verify_identity"
    return "sign"


def _ceremony(request: HttpRequest, token: str, party: Party, **extra: Any) -> dict[str, Any]:
    party = Party.objects.select_related("envelope", "envelope__organization", "envelope__created_by").get(
        pk=party.pk
    )
    user = request.user
    if user.is_authenticated:
        user.refresh_from_db()  # a signing key created a moment ago must show
    context = {
        "token": token,
        "party": party,
        "envelope": party.envelope,
        "stage": _stage(party.envelope, party, user),
        "pin_form": PinSetupForm(),
        "sign_form": SignForm(),
        "fill_fields": fillable.fields_to_fill(party, extra.pop("posted", None)),
        "decline_form": DeclineForm(),
        "willingness": willingness.party_willingness(party),
        "party_required_level": str(willingness.effective_level(party)),
        "current_level": str(assurance.level_of(user)),
        "party_identity_url": identity_url(reverse("web:sign", args=[token])),
    }
    if context["stage"] == "sign":  # her signature to show, or the seal to apply
        context.update(seal_signing.signing_choices(party, user, extra.pop("chosen", None)))
    if willingness.WEBAUTHN in context["willingness"]:
        context["passkey_available"] = passkeys.available()
        context["passkey_registered"] = user.is_authenticated and factors.has_factor(user, "webauthn")
    if user.is_authenticated and not hasattr(user, "signer_key"):
        # a PIN makes a certificate, and a certificate is issued only to a verified identity
        context["identity_needed"] = needs_identity(user)
        context["identity_url"] = identity_url(reverse("web:sign", args=[token]))
        context["required_level"] = min_signing_assurance()
    context.update(extra)
    return context


def _page_context(request: HttpRequest, token: str, party: Party, **extra: Any) -> dict[str, Any]:
    envelope = party.envelope
    may_act = services.user_may_act_as(party, request.user)
    here = reverse("web:sign", args=[token])
    context: dict[str, Any] = {
        "token": token,
        "party": party,
        "envelope": envelope,
        "may_act": may_act,
        "login_url": reverse("web:login") + "?" + urlencode({"next": here, "email": party.email}),
        "register_url": reverse("web:register") + "?" + urlencode({"next": here, "email": party.email}),
    }
    if not may_act:
        context.update(signing_accountless.page_context(request, token, party))
        context.update(extra)
    if may_act:
        overlays = editor.field_overlays(envelope, party.fields.select_related("party"))
        context["pages"] = [
            {
                **page,
                "src": reverse(
                    "web:page_image", args=[envelope.pk, envelope.current_version, page["number"]]
                ),
                "fields": overlays.get(page["number"], []),
            }
            for page in editor.page_dimensions(envelope)
        ]
        context.update(_ceremony(request, token, party, **extra))
    return context


def _answer(request: HttpRequest, token: str, party: Party, status: int = 200, **extra: Any) -> HttpResponse:
    """The ceremony panel for htmx, the whole page otherwise."""
    if is_htmx(request):
        # htmx leaves 4xx answers unswapped; the panel itself says what went wrong.
        return render(request, "web/_ceremony.html", _ceremony(request, token, party, **extra))
    return render(request, "web/sign.html", _page_context(request, token, party, **extra), status=status)


def render_sign_page(
    request: HttpRequest, token: str, party: Party, status: int = 200, **extra: Any
) -> HttpResponse:
    """The whole signing page (the account-less steps post here and redirect back)."""
    return render(request, "web/sign.html", _page_context(request, token, party, **extra), status=status)


def _sign_error(exc: Exception) -> str:
    """The refusal of a signature in words; a passkey's faults say what to do next."""
    code = getattr(exc, "code", "")
    if code == "webauthn_required":
        return _("This signature asks for your passkey: confirm with your passkey, then sign.")
    if code == "webauthn_failed":
        return _("The passkey could not be checked, so nothing was signed. Confirm with your passkey again.")
    if code == "factor_missing":
        return _(
            "This signature asks for a passkey or an authenticator app that your account does not have. "
            "Add one on your security page, then come back."
        )
    if code == "webauthn_unavailable":
        return _(
            "Passkeys cannot be used at this address: the site must be reached by a host name, not an IP address."
        )
    if code == "approval_required":
        return _(
            "Each use of this seal needs an approval. Request one below; you can sign once it is approved."
        )
    if isinstance(exc, SEAL_ERRORS) and not isinstance(exc, DOMAIN_ERRORS):
        return seal_error_message(exc)
    return error_message(exc)


def _acting_party(request: HttpRequest, token: str) -> Party:
    party = _party(token)
    if party is None or not services.user_may_act_as(party, request.user):
        raise PermissionDenied
    return party


@require_GET
def sign_page(request: HttpRequest, token: str) -> HttpResponse:
    party = _party(token)
    if party is None:
        return _invalid_link(request)
    _record_first_open(request, party)
    return render(request, "web/sign.html", _page_context(request, token, party))


@require_POST
def sign_pin(request: HttpRequest, token: str) -> HttpResponse:
    party = _acting_party(request, token)
    form = PinSetupForm(request.POST)
    if not form.is_valid():
        return _answer(request, token, party, status=400, pin_form=form)
    if hasattr(request.user, "signer_key"):
        return _answer(request, token, party, notice=_("You already have a signing PIN."))
    try:
        custody.set_signing_pin(request.user, form.cleaned_data["pin"])
    except DOMAIN_ERRORS as exc:
        form.add_error("pin", error_message(exc))
        return _answer(request, token, party, status=400, pin_form=form)
    return _answer(
        request,
        token,
        party,
        notice=_("Your signing PIN is set. Keep it secret: nobody can sign for you without it."),
    )


@require_POST
def sign_passkey_options(request: HttpRequest, token: str) -> JsonResponse:
    """WebAuthn request options for the party's willingness, bound to purpose "sign" and the party."""
    party = _acting_party(request, token)
    refused = None
    if willingness.WEBAUTHN not in willingness.party_willingness(party):
        refused = _("This signature does not ask for a passkey.")
    elif _stage(party.envelope, party, request.user) != "sign":
        refused = _("This envelope cannot be signed now.")
    if refused is not None:
        return JsonResponse({"error": "not_signable", "detail": refused}, status=409)
    try:
        options = factors.begin_webauthn_assertion(request.user, purpose="sign", subject=str(party.pk))
    except DOMAIN_ERRORS as exc:
        return JsonResponse({"error": getattr(exc, "code", ""), "detail": _sign_error(exc)}, status=409)
    return JsonResponse(options)


@require_POST
def sign_code(request: HttpRequest, token: str) -> HttpResponse:
    party = _acting_party(request, token)
    try:
        challenge = services.request_signing_code(
            party.envelope_id, party.pk, request.user, request_context(request), request
        )
    except DOMAIN_ERRORS as exc:
        return _answer(request, token, party, status=400, error=error_message(exc))
    if challenge is None:  # an authenticator app only: nothing to send
        return _answer(request, token, party, code_sent=True)
    return _answer(
        request,
        token,
        party,
        code_sent=True,
        notice=_("We emailed a 6-digit code to %(email)s. It is valid for 5 minutes.")
        % {"email": challenge.destination}
        if challenge.channel == "email"
        else _("We sent a 6-digit code by text message. It is valid for 5 minutes."),
    )


@require_POST
def sign_submit(request: HttpRequest, token: str) -> HttpResponse:
    party = _acting_party(request, token)
    form = SignForm(request.POST)
    chosen = seal_signing.chosen_id(request.POST.get("seal_id") or request.POST.get("signature_id"))
    if not form.is_valid():
        return _answer(
            request,
            token,
            party,
            status=400,
            sign_form=form,
            code_sent=True,
            chosen=chosen,
            posted=request.POST,
        )
    by_seal = party.kind == Party.Kind.ORGANIZATION
    try:
        envelope = services.sign(
            party.envelope_id,
            party.pk,
            request.user,
            otp=form.cleaned_data["code"],
            pin=form.cleaned_data["pin"],
            sms_otp=(form.cleaned_data.get("sms_code") or "").strip(),
            totp=(form.cleaned_data.get("totp") or "").strip(),
            webauthn=form.cleaned_data.get("webauthn"),
            context=request_context(request),
            seal_id=chosen if by_seal else None,
            signature_id=None if by_seal else chosen,
            values=fillable.values_from(party, request.POST),
        )
    except SEAL_ERRORS as exc:
        approval = chosen if getattr(exc, "code", "") == "approval_required" else None
        return _answer(
            request,
            token,
            party,
            status=400,
            error=_sign_error(exc),
            code_sent=True,
            chosen=chosen,
            approval_seal=approval,
            posted=request.POST,
        )
    if envelope.status == Envelope.Status.COMPLETED:
        messages.success(request, _("You signed. All parties have signed: the contract is complete."))
    else:
        messages.success(request, _("You signed. The remaining parties have been notified."))
    return htmx_redirect(request, reverse("web:envelope_detail", args=[envelope.pk]))


@require_POST
def sign_decline(request: HttpRequest, token: str) -> HttpResponse:
    party = _acting_party(request, token)
    form = DeclineForm(request.POST)
    if not form.is_valid():
        return _answer(request, token, party, status=400, decline_form=form, show_decline=True)
    try:
        envelope = services.decline(
            party.envelope_id,
            party.pk,
            request.user,
            reason=form.cleaned_data["reason"],
            context=request_context(request),
        )
    except DOMAIN_ERRORS as exc:
        return _answer(request, token, party, status=400, error=error_message(exc))
    messages.info(request, _("You declined to sign. The sender has been told."))
    return htmx_redirect(request, reverse("web:envelope_detail", args=[envelope.pk]))


@require_POST
def sign_request_approval(request: HttpRequest, token: str) -> HttpResponse:
    """The seal's grant needs an approval for each use: ask the seal's managers for this document."""
    party = _acting_party(request, token)
    seal_id = seal_signing.chosen_id(request.POST.get("seal_id"))
    note = (request.POST.get("note") or "").strip()[:500]
    if party.kind != Party.Kind.ORGANIZATION or seal_id is None:
        return _answer(request, token, party, status=400, error=_("Choose the seal to ask for."))
    if _stage(party.envelope, party, request.user) != "sign":
        return _answer(request, token, party, status=400, error=_("This envelope cannot be signed now."))
    try:
        seal_signing.request_seal_approval(
            party, request.user, seal_id, note=note, context=request_context(request)
        )
    except SEAL_ERRORS as exc:
        return _answer(request, token, party, status=400, error=_sign_error(exc), chosen=seal_id)
    return _answer(
        request,
        token,
        party,
        chosen=seal_id,
        notice=_(
            "Your request was sent to the seal's managers. Once it is approved, sign here with your code and PIN."
        ),
    )

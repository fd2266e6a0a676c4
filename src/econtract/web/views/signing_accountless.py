"""Signing without an account, from the personal link: prove the email (and phone) by code, read the
document, verify who you are, then sign with a one-time event certificate.

Plain forms that post and redirect back to the signing page (no JavaScript needed); the proof of
the email is a secret in this browser's session, bound to the party (signing.PartyAccess).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from econtract.evidence.services import RequestContext
from econtract.identity import assurance
from econtract.identity.idnumbers import IdType
from econtract.identity.models import IdentityVerification
from econtract.identity.providers import identity_provider_is_sandbox
from econtract.signing import services
from econtract.signing.errors import LinkInvalid
from econtract.signing.models import Envelope, Party, PartyAccess
from econtract.signing.services import accountless, willingness
from econtract.textinput import SingleLineField
from econtract.web import editor
from econtract.web.errors import DOMAIN_ERRORS, error_message
from econtract.web.forms import DeclineForm
from econtract.web.pageimages import page_png
from econtract.web.views.common import request_context

SESSION_KEY = "party_access"
PENDING_KEY = "party_verification"


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )

    def clean_code(self) -> str:
        value = (self.cleaned_data["code"] or "").strip()
        if not (value.isdigit() and len(value) == 6):
            raise forms.ValidationError(_("The code has 6 digits."))
        return value


ID_TYPES = [
    (IdType.CN_RESIDENT.value, gettext_lazy("Resident identity card (mainland China)")),
    (IdType.HKMT_RESIDENCE.value, gettext_lazy("Residence permit for Hong Kong, Macao and Taiwan residents")),
    (IdType.HK_MACAO_PERMIT.value, gettext_lazy("Mainland travel permit for Hong Kong and Macao residents")),
    (IdType.TAIWAN_PERMIT.value, gettext_lazy("Mainland travel permit for Taiwan residents")),
    (IdType.FOREIGN_PERMANENT.value, gettext_lazy("Foreign permanent resident ID card")),
    (IdType.PASSPORT.value, gettext_lazy("Passport")),
]
METHODS = [
    ("id_2el", gettext_lazy("Name and ID number (2 elements)")),
    ("id_3el", gettext_lazy("Name, ID number and mobile phone (3 elements)")),
    ("bank_4el", gettext_lazy("Bank card: name, ID number, card number and phone (4 elements)")),
]


class IdentityForm(forms.Form):
    method = forms.ChoiceField(label=gettext_lazy("Method"), choices=METHODS, initial="id_2el")
    name = SingleLineField(label=gettext_lazy("Full name, as on the document"), max_length=200)
    id_type = forms.ChoiceField(label=gettext_lazy("Document"), choices=ID_TYPES, initial="cn_resident")
    id_number = SingleLineField(label=gettext_lazy("Document number"), max_length=40)
    phone = SingleLineField(
        label=gettext_lazy("Mobile phone (3 and 4 elements)"), max_length=40, required=False
    )
    bank_card = SingleLineField(
        label=gettext_lazy("Bank card number (4 elements)"), max_length=32, required=False
    )


class SignCodesForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code from the email"),
        max_length=6,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
    sms_code = forms.CharField(
        label=gettext_lazy("Code from the text message"),
        max_length=6,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


# --- the access proof in this browser's session ---------------------------------------------------


def _secrets(request: HttpRequest) -> dict[str, str]:
    stored = request.session.get(SESSION_KEY, {})
    return (
        {k: v for k, v in stored.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(stored, dict)
        else {}
    )


def current_access(request: HttpRequest, party: Party) -> PartyAccess | None:
    return accountless.load_access(party, _secrets(request).get(str(party.pk), ""))


def _keep_access(request: HttpRequest, party: Party, secret: str) -> None:
    stored = _secrets(request)
    stored[str(party.pk)] = secret
    request.session[SESSION_KEY] = dict(list(stored.items())[-20:])
    request.session.cycle_key()  # a fresh session id once it holds a proof


def _context(request: HttpRequest, party: Party) -> RequestContext:
    return accountless.party_context(request_context(request), party)


def _party(token: str) -> Party:
    try:
        return services.party_for_link(token)
    except LinkInvalid:
        raise Http404 from None


def _acting(request: HttpRequest, token: str) -> Party:
    """The party of this link, for a visitor without an account who may sign without one."""
    party = _party(token)
    if request.user.is_authenticated or not accountless.accountless_allowed(party):
        raise PermissionDenied
    return party


def _back(token: str) -> HttpResponse:
    return redirect(reverse("web:sign", args=[token]) + "#ceremony")


# --- what the signing page shows ------------------------------------------------------------------


def page_context(request: HttpRequest, token: str, party: Party) -> dict[str, Any]:
    """The account-less part of the signing page (empty when it does not apply)."""
    if request.user.is_authenticated or not accountless.accountless_allowed(party):
        return {"accountless": False}
    envelope = party.envelope
    access = current_access(request, party)
    here = reverse("web:sign", args=[token])
    context: dict[str, Any] = {
        "accountless": True,
        "access": access,
        "identity_form": IdentityForm(initial={"name": party.name}),
        "code_form": CodeForm(),
        "sign_codes_form": SignCodesForm(),
        "decline_form": DeclineForm(),
        "willingness": willingness.party_willingness(party),
        "required_level": str(willingness.effective_level(party)),
        "sandbox_idp": identity_provider_is_sandbox(),
        "create_account_url": reverse("web:register") + "?" + urlencode({"email": party.email}),
        "login_url_accountless": reverse("web:login") + "?" + urlencode({"next": here, "email": party.email}),
    }
    if party.status == Party.Status.SIGNED:
        context["a_stage"] = "signed"
    elif party.status == Party.Status.DECLINED:
        context["a_stage"] = "declined"
    elif envelope.status != Envelope.Status.SENT or party.status != Party.Status.READY:
        context["a_stage"] = "unavailable"
    elif access is None:
        context["a_stage"] = "email"
    elif not accountless.access_complete(access):
        context["a_stage"] = "phone"
    else:
        level = accountless.party_level(party)
        context["party_level"] = str(level)
        pending = _pending_verification(request, party)
        if not assurance.meets(level, willingness.effective_level(party)):
            context["a_stage"] = "confirm_identity" if pending is not None else "identity"
            context["pending_verification"] = pending
        else:
            context["a_stage"] = "sign"
    if access is not None and accountless.access_complete(access):
        overlays = editor.field_overlays(envelope, party.fields.select_related("party"))
        context["pages"] = [
            {
                **page,
                "src": reverse("web:sign_page_image", args=[token, envelope.current_version, page["number"]]),
                "fields": overlays.get(page["number"], []),
            }
            for page in editor.page_dimensions(envelope)
        ]
    return context


def _pending_verification(request: HttpRequest, party: Party) -> IdentityVerification | None:
    pending = request.session.get(PENDING_KEY, {})
    verification_id = pending.get(str(party.pk)) if isinstance(pending, dict) else None
    if not verification_id:
        return None
    return IdentityVerification.objects.filter(
        pk=verification_id, user__isnull=True, status=IdentityVerification.Status.PENDING
    ).first()


def _fail(request: HttpRequest, token: str, party: Party, exc: Exception, **forms_: Any) -> HttpResponse:
    from econtract.web.views.signing import render_sign_page

    return render_sign_page(request, token, party, status=400, a_error=error_message(exc), **forms_)


def _invalid(request: HttpRequest, token: str, party: Party, **forms_: Any) -> HttpResponse:
    from econtract.web.views.signing import render_sign_page

    return render_sign_page(request, token, party, status=400, **forms_)


# --- the steps ------------------------------------------------------------------------------------


@require_POST
def access_code(request: HttpRequest, token: str) -> HttpResponse:
    party = _acting(request, token)
    try:
        challenge = accountless.send_access_code(party, _context(request, party))
    except DOMAIN_ERRORS as exc:
        return _fail(request, token, party, exc)
    messages.info(
        request,
        _("We emailed a 6-digit code to %(email)s. It is valid for 5 minutes.")
        % {"email": challenge.destination},
    )
    return _back(token)


@require_POST
def access_email(request: HttpRequest, token: str) -> HttpResponse:
    party = _acting(request, token)
    form = CodeForm(request.POST)
    if not form.is_valid():
        return _invalid(request, token, party, code_form=form)
    try:
        access, secret = accountless.prove_email(party, form.cleaned_data["code"], _context(request, party))
    except DOMAIN_ERRORS as exc:
        return _fail(request, token, party, exc)
    _keep_access(request, party, secret)
    if party.phone:
        try:
            accountless.send_access_phone_code(access, _context(request, party), request)
        except DOMAIN_ERRORS as exc:  # the email stays proved; she asks for the text again
            messages.error(request, error_message(exc))
        else:
            messages.info(
                request, _("Email confirmed. We sent a code by text message to the phone the sender gave.")
            )
    return _back(token)


def _access(request: HttpRequest, party: Party) -> PartyAccess:
    access = current_access(request, party)
    if access is None:
        raise PermissionDenied
    return access


@require_POST
def access_phone_code(request: HttpRequest, token: str) -> HttpResponse:
    party = _acting(request, token)
    try:
        accountless.send_access_phone_code(_access(request, party), _context(request, party), request)
    except DOMAIN_ERRORS as exc:
        return _fail(request, token, party, exc)
    messages.info(request, _("We sent a new code by text message."))
    return _back(token)


@require_POST
def access_phone(request: HttpRequest, token: str) -> HttpResponse:
    party = _acting(request, token)
    form = CodeForm(request.POST)
    if not form.is_valid():
        return _invalid(request, token, party, code_form=form)
    try:
        accountless.prove_phone(_access(request, party), form.cleaned_data["code"], _context(request, party))
    except DOMAIN_ERRORS as exc:
        return _fail(request, token, party, exc)
    return _back(token)


@require_POST
def identity(request: HttpRequest, token: str) -> HttpResponse:
    party = _acting(request, token)
    access = _access(request, party)
    form = IdentityForm(request.POST)
    if not form.is_valid():
        return _invalid(request, token, party, identity_form=form)
    data = form.cleaned_data
    try:
        verification = accountless.verify_identity(
            access,
            method=data["method"],
            name=data["name"],
            id_type=data["id_type"],
            id_number=data["id_number"],
            phone=data.get("phone") or "",
            bank_card=data.get("bank_card") or "",
            context=_context(request, party),
            client=request,
        )
    except DOMAIN_ERRORS as exc:
        return _fail(request, token, party, exc, identity_form=form)
    if verification.status == IdentityVerification.Status.PENDING:
        pending = request.session.get(PENDING_KEY, {})
        pending = pending if isinstance(pending, dict) else {}
        pending[str(party.pk)] = str(verification.pk)
        request.session[PENDING_KEY] = pending
        messages.info(request, _("We sent a code by text message to confirm the phone number."))
    elif verification.status == IdentityVerification.Status.VERIFIED:
        messages.success(request, _("Your identity is verified: %(name)s.") % {"name": verification.name})
    else:
        messages.error(
            request,
            _("The identity could not be verified: %(reason)s")
            % {"reason": verification.reason or verification.outcome},
        )
    return _back(token)


@require_POST
def identity_confirm(request: HttpRequest, token: str) -> HttpResponse:
    party = _acting(request, token)
    access = _access(request, party)
    pending = _pending_verification(request, party)
    form = CodeForm(request.POST)
    if pending is None:
        return _back(token)
    if not form.is_valid():
        return _invalid(request, token, party, code_form=form)
    try:
        verification = accountless.confirm_identity(
            access, pending.pk, form.cleaned_data["code"], context=_context(request, party)
        )
    except DOMAIN_ERRORS as exc:
        return _fail(request, token, party, exc)
    if verification.status != IdentityVerification.Status.PENDING:
        stored = request.session.get(PENDING_KEY, {})
        if isinstance(stored, dict):
            stored.pop(str(party.pk), None)
            request.session[PENDING_KEY] = stored
    return _back(token)


@require_POST
def sign_codes(request: HttpRequest, token: str) -> HttpResponse:
    party = _acting(request, token)
    try:
        sent = accountless.send_signing_codes(_access(request, party), _context(request, party), request)
    except DOMAIN_ERRORS as exc:
        return _fail(request, token, party, exc)
    messages.info(
        request,
        _("We sent your signing code to %(where)s. It is valid for 5 minutes.")
        % {"where": ", ".join(c.destination for c in sent)},
    )
    request.session["party_codes_sent"] = str(party.pk)
    return _back(token)


@require_POST
def sign_event(request: HttpRequest, token: str) -> HttpResponse:
    party = _acting(request, token)
    form = SignCodesForm(request.POST)
    if not form.is_valid():
        return _invalid(request, token, party, sign_codes_form=form)
    try:
        envelope = accountless.sign_with_event_certificate(
            _access(request, party),
            otp=(form.cleaned_data.get("code") or "").strip(),
            sms_otp=(form.cleaned_data.get("sms_code") or "").strip(),
            context=_context(request, party),
        )
    except DOMAIN_ERRORS as exc:
        return _fail(request, token, party, exc)
    if envelope.status == Envelope.Status.COMPLETED:
        messages.success(request, _("You signed. All parties have signed: the contract is complete."))
    else:
        messages.success(request, _("You signed. The remaining parties have been notified."))
    return _back(token)


@require_GET
def page_image(request: HttpRequest, token: str, version: int, page: int) -> HttpResponse:
    party = _party(token)
    access = current_access(request, party)
    if access is None or not accountless.access_complete(access):
        raise PermissionDenied
    envelope = party.envelope
    revision = envelope.revisions.filter(version=version).first()
    if revision is None or not 1 <= page <= envelope.page_count:
        raise Http404
    response = HttpResponse(page_png(revision, page), content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400, immutable"
    return response


@require_GET
def document(request: HttpRequest, token: str) -> FileResponse:
    party = _party(token)
    access = current_access(request, party)
    if access is None or not accountless.access_complete(access):
        raise PermissionDenied
    revision = services.document_for_download(party.envelope, _context(request, party))
    response = FileResponse(revision.file.open("rb"), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{party.envelope_id}-v{revision.version}.pdf"'
    response["X-Document-SHA256"] = revision.sha256
    return response


@require_POST
def decline(request: HttpRequest, token: str) -> HttpResponse:
    party = _acting(request, token)
    form = DeclineForm(request.POST)
    if not form.is_valid():
        return _invalid(request, token, party, decline_form=form)
    try:
        accountless.decline_without_account(
            _access(request, party), reason=form.cleaned_data["reason"], context=_context(request, party)
        )
    except DOMAIN_ERRORS as exc:
        return _fail(request, token, party, exc)
    messages.info(request, _("You declined to sign. The sender has been told."))
    return _back(token)

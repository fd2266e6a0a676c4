"""Organisation seals in the browser: the list, a new seal (with a live preview), a seal's page with
its certificate, lifecycle, grants, approvals and usage log. seals.services decides everything;
these views only show, ask and answer.

Rights (accounts.permissions): members see their organisation's seals; managers (owner, admin,
seal keeper) create, grant and change them; auditors (legal, auditor) read the usage log.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any, cast
from uuid import UUID

from cryptography import x509 as crypto_x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from econtract.accounts import org_members, organizations
from econtract.accounts.errors import NotPermitted
from econtract.accounts.models import Organization, User
from econtract.accounts.permissions import SEAL_MANAGE_ROLES, may_audit_seals, may_manage_seals, role_in
from econtract.seals import drawing
from econtract.seals import services as seal_services
from econtract.seals.approvals import approval_visible_to
from econtract.seals.errors import SealsError
from econtract.seals.grants import grants_for_user
from econtract.seals.models import ApprovalRequest, Seal, SealGrant
from econtract.web.errors import DOMAIN_ERRORS, error_message
from econtract.web.seal_forms import (
    MAX_SCAN_BYTES,
    AutomaticGrantForm,
    GrantForm,
    PreviewForm,
    ReasonForm,
    SealForm,
    UsageFilterForm,
)
from econtract.web.views.common import request_context, safe_next

SEAL_ERRORS: tuple[type[Exception], ...] = (*DOMAIN_ERRORS, SealsError)
USAGE_PAGE_ROWS = 200
APPROVAL_HISTORY_ROWS = 20
LIFECYCLE_ACTIONS = ("suspend", "resume", "revoke", "retire", "renew")
CERTIFICATE_WARNING_DAYS = 60  # the seal page warns when its certificate ends within this

SEAL_MESSAGES = {
    "not_permitted": gettext_lazy("Only the organisation's owner, admins and seal keepers may do this."),
    "organization_unverified": gettext_lazy(
        "Only a verified organisation can have seals: verify the organisation first."
    ),
    "organization_not_verified": gettext_lazy(
        "Only a verified organisation can have seals: verify the organisation first."
    ),
    "invalid_seal": gettext_lazy("The seal cannot be made this way"),
    "seal_not_active": gettext_lazy("This seal is suspended, revoked or retired."),
    "seal_not_authorized": gettext_lazy("You hold no live grant of this seal that covers this document."),
    "approval_required": gettext_lazy("Each use of this seal needs an approval: request one first."),
    "approval_not_pending": gettext_lazy("This request has been decided already."),
    "invalid_grant": gettext_lazy("The grant cannot be made this way"),
    "seal_rights_separated": gettext_lazy(
        "Rights are separated: nobody grants a seal to herself or decides her own request."
    ),
}
# Codes whose service text names the exact problem (which glyph, which field).
WITH_DETAIL = frozenset({"invalid_seal", "invalid_grant"})


def seal_error_message(exc: Exception) -> str:
    code = getattr(exc, "code", "")
    message = SEAL_MESSAGES.get(code)
    if message is None:
        return error_message(exc)
    if code in WITH_DETAIL:
        return f"{message}: {exc}" if str(exc) else f"{message}."
    return str(message)


# --- lookups ------------------------------------------------------------------------------------


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)  # every view here is login_required: never anonymous


def _seal(request: HttpRequest, seal_id: UUID) -> Seal:
    """The seal when the user is a member of its organisation; 404 otherwise (never 403)."""
    try:
        return seal_services.seal_visible_to(_actor(request), seal_id)
    except Seal.DoesNotExist:
        raise Http404("no such seal") from None


def _members(org: Organization) -> list[Any]:
    return list(org_members.members_of(org).order_by("created_at"))


def _grantee_choices(org: Organization, actor: Any) -> list[Any]:
    members = [
        (f"user:{m.user_id}", f"{m.user.full_name or m.user.email} <{m.user.email}> ({m.get_role_display()})")
        for m in _members(org)
        if m.user_id != actor.pk  # a manager never grants herself (the service refuses it too)
    ]
    departments = [(f"department:{d.pk}", d.name) for d in org_members.departments_of(org)]
    choices: list[Any] = [(_("Members"), members)]
    if departments:
        choices.append((_("Departments"), departments))
    return choices


def _seal_type_text(seal: Seal) -> str:
    return seal.type_text or drawing.type_text_for(seal.seal_type)


# --- the list and a new seal --------------------------------------------------------------------


@login_required
@require_GET
def seal_list(request: HttpRequest, pk: UUID) -> HttpResponse:
    org = organizations.organization_for_member(_actor(request), pk)
    seals = list(seal_services.seals_of(org, _actor(request)).select_related("certificate"))
    for seal in seals:  # the seals she may apply herself, marked in the list
        seal.usable_by_me = grants_for_user(seal, _actor(request)).exists()  # type: ignore[attr-defined]
    return render(
        request,
        "web/seals.html",
        {
            "org": org,
            "seals": seals,
            "manager": may_manage_seals(_actor(request), org.pk),
            "role": role_in(org.pk, _actor(request)),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def seal_new(request: HttpRequest, pk: UUID) -> HttpResponse:
    org = organizations.organization_for_member(_actor(request), pk)
    if not may_manage_seals(_actor(request), org.pk):
        return render(request, "web/seal_new.html", {"org": org, "refused": True}, status=403)
    form = SealForm(request.POST or None, request.FILES or None)
    error = None
    if request.method == "POST" and org.is_verified and form.is_valid():
        data = form.cleaned_data
        scan = data.get("scan")
        try:
            seal = seal_services.create_seal(
                org,
                _actor(request),
                name=data["name"],
                seal_type=data["seal_type"],
                shape=data["shape"],
                code=data["code"],
                type_text=data["type_text"],
                scan=scan.read(MAX_SCAN_BYTES + 1) if scan else None,
                context=request_context(request),
            )
        except SEAL_ERRORS as exc:
            error = seal_error_message(exc)
        else:
            messages.success(
                request,
                _("The seal was made, with its own certificate. Grant its use to members who will apply it."),
            )
            return redirect("web:seal_detail", seal_id=seal.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "web/seal_new.html",
        {"org": org, "form": form, "error": error, "verified": org.is_verified},
        status=status,
    )


@login_required
@require_GET
def seal_preview(request: HttpRequest, pk: UUID) -> HttpResponse:
    """The picture the form would make, drawn and not stored (htmx swaps it under the form)."""
    org = organizations.organization_for_member(_actor(request), pk)
    if not may_manage_seals(_actor(request), org.pk):
        return HttpResponse(status=403)
    form = PreviewForm(request.GET)
    context: dict[str, Any] = {}
    if not form.is_valid():
        context["error"] = _("Fill in the form to see the seal.")
    else:
        data = form.cleaned_data
        # what create_seal draws: the organisation's name, or the legal representative's on a square seal
        text = org.legal_rep_name if data["shape"] == Seal.Shape.SQUARE else org.name
        try:
            picture = drawing.draw_seal(
                text=text,
                type_text=data["type_text"] or drawing.type_text_for(data["seal_type"]),
                shape=data["shape"],
                code=data["code"],
            )
            png = drawing.render_png(picture, dpi=150)
        except SealsError as exc:
            context["error"] = seal_error_message(exc)
        else:
            context["src"] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return render(request, "web/_seal_preview.html", context)


# --- one seal -----------------------------------------------------------------------------------


def _usage(request: HttpRequest, seal: Seal, members: list[Any]) -> dict[str, Any]:
    form = UsageFilterForm(
        request.GET or None,
        members=[(str(m.user_id), m.user.full_name or m.user.email) for m in members],
    )
    filters = form.cleaned_data if form.is_valid() else {}
    rows = seal_services.usage_for(seal, _actor(request), **_usage_filters(filters))
    return {"usage_form": form, "usage": rows.select_related("used_by")[:USAGE_PAGE_ROWS]}


def _usage_filters(data: dict[str, Any]) -> dict[str, Any]:
    """The filter form's values as usage_for reads them: dates are whole days in local time."""
    filters: dict[str, Any] = {}
    zone = timezone.get_current_timezone()
    if data.get("since"):
        filters["since"] = datetime.combine(data["since"], time.min, tzinfo=zone)
    if data.get("until"):
        filters["until"] = datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=zone)
    if data.get("user"):
        filters["user_id"] = data["user"]
    if data.get("envelope"):
        filters["envelope_id"] = data["envelope"]
    return filters


def _detail(request: HttpRequest, seal: Seal, status: int = 200, **extra: Any) -> HttpResponse:
    org = seal.organization
    manager = may_manage_seals(_actor(request), org.pk)
    auditor = may_audit_seals(_actor(request), org.pk)
    members = _members(org)
    grants = seal_services.grants_of(seal, _actor(request)).select_related("granted_by")
    now = timezone.now()
    not_after = seal.certificate.not_after
    context: dict[str, Any] = {
        "seal": seal,
        "org": org,
        "certificate": seal.certificate,
        "type_text": _seal_type_text(seal),
        "manager": manager,
        "auditor": auditor,
        "now": now,
        "certificate_expired": not_after <= now,
        "certificate_expires_soon": now < not_after <= now + timedelta(days=CERTIFICATE_WARNING_DAYS),
        "certificate_days_left": max((not_after - now).days, 0),
        "grants": [g for g in grants if g.grantee != SealGrant.Grantee.AUTOMATIC],
        "automatic_grants": [g for g in grants if g.grantee == SealGrant.Grantee.AUTOMATIC],
        "pending": seal_services.approvals_of(seal, _actor(request), status=ApprovalRequest.Status.PENDING),
        "decided": seal_services.approvals_of(seal, _actor(request))
        .exclude(status=ApprovalRequest.Status.PENDING)
        .select_related("decided_by")[:APPROVAL_HISTORY_ROWS],
        "reason_form": ReasonForm(),
        "error": None,
    }
    if manager:
        context["grant_form"] = extra.pop("grant_form", None) or GrantForm(
            grantees=_grantee_choices(org, _actor(request)),
            initial={
                "valid_until": (timezone.localtime() + timedelta(days=365)).replace(second=0, microsecond=0)
            },
        )
        context["automatic_form"] = extra.pop("automatic_form", None) or AutomaticGrantForm(
            initial={
                "valid_until": (timezone.localtime() + timedelta(days=90)).replace(second=0, microsecond=0)
            }
        )
    if auditor:
        context.update(_usage(request, seal, members))
    context.update(extra)
    return render(request, "web/seal_detail.html", context, status=status)


@login_required
@require_GET
def seal_detail(request: HttpRequest, seal_id: UUID) -> HttpResponse:
    return _detail(request, _seal(request, seal_id))


@never_cache
@login_required
@require_GET
def seal_image(request: HttpRequest, seal_id: UUID) -> HttpResponse:
    seal = _seal(request, seal_id)
    response = HttpResponse(bytes(seal.image_png), content_type="image/png")
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def seal_certificate(request: HttpRequest, seal_id: UUID, fmt: str) -> HttpResponse:
    seal = _seal(request, seal_id)
    der = bytes(seal.certificate.certificate_der)
    serial = seal.certificate.serial_number
    if fmt == "der":
        response = HttpResponse(der, content_type="application/pkix-cert")
    elif fmt == "pem":
        pem = crypto_x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)
        response = HttpResponse(pem, content_type="application/x-pem-file")
    else:
        raise Http404("no such format")
    response["Content-Disposition"] = (
        f'attachment; filename="seal-{serial}.{"cer" if fmt == "der" else "pem"}"'
    )
    return response


def _act(
    request: HttpRequest, seal: Seal, action: Callable[[], Any], success: str, **forms: Any
) -> HttpResponse:
    try:
        action()
    except SEAL_ERRORS as exc:
        seal.refresh_from_db()
        status = 403 if isinstance(exc, NotPermitted) else 400
        return _detail(request, seal, status=status, error=seal_error_message(exc), **forms)
    messages.success(request, success)
    return redirect("web:seal_detail", seal_id=seal.pk)


@login_required
@require_POST
def seal_lifecycle(request: HttpRequest, seal_id: UUID, action: str) -> HttpResponse:
    seal = _seal(request, seal_id)
    if action not in LIFECYCLE_ACTIONS:
        raise Http404("no such action")
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return _detail(request, seal, status=400, error=_("The reason is not valid."))
    reason = form.cleaned_data["reason"]
    context = request_context(request)

    def change() -> None:
        if action == "suspend":
            seal_services.suspend(seal, _actor(request), reason=reason, context=context)
        elif action == "resume":
            seal_services.resume(seal, _actor(request), reason=reason, context=context)
        elif action == "revoke":
            seal_services.revoke(
                seal,
                _actor(request),
                reason=reason,
                key_compromise=form.cleaned_data["key_compromise"],
                context=context,
            )
        elif action == "renew":
            seal_services.renew_certificate(seal, _actor(request), reason=reason, context=context)
        else:
            seal_services.retire(seal, _actor(request), reason=reason, context=context)

    done = {
        "suspend": _("The seal is suspended: nobody can use it until it is resumed."),
        "resume": _("The seal is active again."),
        "revoke": _("The seal and its certificate are revoked. Earlier signatures stay verifiable."),
        "retire": _("The seal is retired: it can no longer be used. Earlier signatures stay verifiable."),
        "renew": _(
            "The seal has a new certificate for the same key; the old one is revoked as superseded. "
            "Earlier signatures stay verifiable."
        ),
    }[action]
    return _act(request, seal, change, done)


def _grantee(org: Organization, value: str) -> dict[str, Any]:
    kind, _sep, ident = value.partition(":")
    if kind == "user":
        return {"user": org_members.membership_of(org, ident).user}
    if kind == "department":
        department = org_members.department_of(org, ident)
        if department is not None:
            return {"department": department}
    raise Http404("no such member or department")


@login_required
@require_POST
def seal_grant(request: HttpRequest, seal_id: UUID) -> HttpResponse:
    seal = _seal(request, seal_id)
    org = seal.organization
    form = GrantForm(request.POST, grantees=_grantee_choices(org, _actor(request)))
    if not form.is_valid():
        return _detail(request, seal, status=400, grant_form=form)
    data = form.cleaned_data

    def grant() -> None:
        seal_services.grant_use(
            seal,
            _actor(request),
            **_grantee(org, data["grantee"]),
            valid_until=data["valid_until"],
            scope=form.scope(),
            requires_approval=data["requires_approval"],
            note=data["note"],
            context=request_context(request),
        )

    return _act(request, seal, grant, _("The grant was made."), grant_form=form)


@login_required
@require_POST
def seal_grant_automatic(request: HttpRequest, seal_id: UUID) -> HttpResponse:
    seal = _seal(request, seal_id)
    form = AutomaticGrantForm(request.POST)
    if not form.is_valid():
        return _detail(request, seal, status=400, automatic_form=form)
    data = form.cleaned_data

    def grant() -> None:
        seal_services.grant_use(
            seal,
            _actor(request),
            automatic=True,
            valid_until=data["valid_until"],
            scope=form.scope(),
            note=data["note"],
            context=request_context(request),
        )

    return _act(
        request,
        seal,
        grant,
        _("Automatic signing is granted for envelopes sent by API."),
        automatic_form=form,
    )


@login_required
@require_POST
def seal_grant_revoke(request: HttpRequest, seal_id: UUID, grant_id: UUID) -> HttpResponse:
    seal = _seal(request, seal_id)
    try:
        grant = seal_services.grant_of(seal, grant_id)
    except SealGrant.DoesNotExist:
        raise Http404("no such grant") from None
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""

    def revoke() -> None:
        seal_services.revoke_grant(grant, _actor(request), reason=reason, context=request_context(request))

    return _act(request, seal, revoke, _("The grant is revoked, from now on."))


@login_required
@require_GET
def seal_usage_csv(request: HttpRequest, seal_id: UUID) -> HttpResponse:
    seal = _seal(request, seal_id)
    if not may_audit_seals(_actor(request), seal.organization_id):
        return HttpResponse(status=403)
    form = UsageFilterForm(
        request.GET or None,
        members=[(str(m.user_id), "") for m in _members(seal.organization)],
    )
    filters = form.cleaned_data if form.is_valid() else {}
    rows = seal_services.usage_for(seal, _actor(request), **_usage_filters(filters))
    response = HttpResponse(seal_services.usage_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="seal-usage-{seal.pk}.csv"'
    return response


# --- approvals ----------------------------------------------------------------------------------


@login_required
@require_GET
def approvals(request: HttpRequest) -> HttpResponse:
    """The approvals inbox: pending requests for the seals of organisations the user manages."""
    managed = [
        m.organization
        for m in _actor(request).memberships.select_related("organization")
        if m.organization.kind == Organization.Kind.ENTERPRISE and m.role in SEAL_MANAGE_ROLES
    ]
    pending = (
        ApprovalRequest.objects.filter(seal__organization__in=managed, status=ApprovalRequest.Status.PENDING)
        .select_related("seal", "seal__organization", "requested_by", "grant")
        .order_by("created_at")
    )
    return render(
        request,
        "web/approvals.html",
        {"pending": pending, "manages_any": bool(managed), "reason_form": ReasonForm()},
    )


@login_required
@require_POST
def approval_decide(request: HttpRequest, approval_id: UUID) -> HttpResponse:
    try:
        approval = approval_visible_to(_actor(request), approval_id)
    except ApprovalRequest.DoesNotExist:
        raise Http404("no such approval request") from None
    approve = request.POST.get("decision") == "approve"
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    back = safe_next(request, request.POST.get("next"), reverse("web:approvals"))
    try:
        seal_services.decide_approval(
            approval, _actor(request), approve=approve, reason=reason, context=request_context(request)
        )
    except SEAL_ERRORS as exc:
        messages.error(request, seal_error_message(exc))
    else:
        messages.success(request, _("Approved.") if approve else _("Rejected."))
    return redirect(back)

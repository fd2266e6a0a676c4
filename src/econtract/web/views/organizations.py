"""Enterprise organisations in the browser: create, verify, members, invitations, departments, and
the operators' queue of business licences. accounts.organizations and accounts.org_members decide."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from econtract.accounts import org_members, organizations
from econtract.accounts.errors import TransferMismatch
from econtract.accounts.models import Membership, Organization, OrganizationVerification
from econtract.accounts.permissions import may_manage_organization, role_in
from econtract.identity.providers import identity_provider_is_sandbox
from econtract.identity.review_api import NO_STORE
from econtract.textinput import MultiLineField, SingleLineField
from econtract.web.errors import DOMAIN_ERRORS, error_message
from econtract.web.identity_forms import ID_TYPE_CHOICES
from econtract.web.views.common import request_context

ROLE_CHOICES = Membership.Role.choices
MAX_LICENCE_BYTES = 10 * 1024 * 1024


class OrganizationForm(forms.Form):
    name = SingleLineField(label=gettext_lazy("Registered name"), max_length=200)
    uscc = forms.CharField(label=gettext_lazy("Unified social credit code"), max_length=64)
    rep_name = SingleLineField(label=gettext_lazy("Legal representative"), max_length=200)
    rep_id_type = forms.ChoiceField(label=gettext_lazy("Document type"), choices=ID_TYPE_CHOICES)
    rep_id_number = forms.CharField(label=gettext_lazy("Document number"), max_length=64)


class BankAccountForm(forms.Form):
    account_name = SingleLineField(label=gettext_lazy("Account holder"), max_length=200)
    account_number = forms.CharField(label=gettext_lazy("Account number"), max_length=40)
    bank = SingleLineField(label=gettext_lazy("Bank"), max_length=200)


class ConfirmForm(forms.Form):
    amount = forms.CharField(label=gettext_lazy("Amount received (CNY)"), max_length=16)
    code = forms.CharField(label=gettext_lazy("Code in the remark"), max_length=16)


class LicenceForm(forms.Form):
    licence = forms.FileField(
        label=gettext_lazy("Business licence (JPEG or PNG)"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
    )


class InviteForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Email"))
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=ROLE_CHOICES, initial="member")
    department = forms.ChoiceField(label=gettext_lazy("Department"), required=False)


class MemberForm(forms.Form):
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=ROLE_CHOICES)
    department = forms.ChoiceField(label=gettext_lazy("Department"), required=False)


class DepartmentForm(forms.Form):
    name = SingleLineField(label=gettext_lazy("Department name"), max_length=200)
    parent = forms.ChoiceField(label=gettext_lazy("Parent department"), required=False)


class DecisionForm(forms.Form):
    reason = MultiLineField(label=gettext_lazy("Reason (required to reject)"), max_length=500, required=False)


ORG_MESSAGES = {
    "not_permitted": gettext_lazy("Only the organisation's owner and admins may do this."),
    "legal_representative_not_verified": gettext_lazy(
        "The legal representative must be a member of the organisation whose own identity is verified "
        "(level L2 or above) with the name and document number registered."
    ),
    "uscc_taken": gettext_lazy("An organisation with this unified social credit code is verified already."),
    "bank_account_name_mismatch": gettext_lazy(
        "The account must be held in the organisation's registered name, with its bank and number."
    ),
    "organization_verification_not_pending": gettext_lazy("This verification is no longer pending."),
    "organization_verification_rate_limited": gettext_lazy(
        "Too many verification attempts today; please try again tomorrow."
    ),
    "invalid_licence": gettext_lazy("The business licence must be a readable JPEG or PNG image."),
    "invalid_department": gettext_lazy("This department is not valid here (or exists already)."),
    "invitation_invalid": gettext_lazy("This invitation is unknown, expired or used already."),
    "invitation_email_mismatch": gettext_lazy(
        "This invitation was sent to another address: log in with that address to accept it."
    ),
    "last_owner": gettext_lazy("The organisation's last owner cannot give up the role."),
    "bank_unavailable": gettext_lazy("The bank could not be reached; please try again later."),
}


def _message(exc: Exception) -> str:
    if isinstance(exc, TransferMismatch):
        if exc.remaining_attempts <= 0:
            return _("The amount or code is wrong and no attempts are left; start a new verification.")
        return ngettext(
            "The amount or code is wrong. %(count)d attempt left.",
            "The amount or code is wrong. %(count)d attempts left.",
            exc.remaining_attempts,
        ) % {"count": exc.remaining_attempts}
    message = ORG_MESSAGES.get(getattr(exc, "code", ""))
    return str(message) if message is not None else error_message(exc)


def _department_choices(org: Organization) -> list[tuple[str, str]]:
    return [("", "—")] + [(str(d.pk), d.name) for d in org_members.departments_of(org)]


def _with_departments(form: forms.Form, org: Organization, field: str) -> forms.Form:
    form.fields[field].choices = _department_choices(org)  # type: ignore[attr-defined]
    return form


@login_required
@require_http_methods(["GET", "POST"])
def organization_list(request: HttpRequest) -> HttpResponse:
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            org = organizations.create_organization(
                request.user,  # type: ignore[arg-type]
                name=data["name"],
                uscc=data["uscc"],
                legal_rep_name=data["rep_name"],
                legal_rep_id_type=data["rep_id_type"],
                legal_rep_id_number=data["rep_id_number"],
                context=request_context(request),
            )
        except DOMAIN_ERRORS as exc:
            form.add_error(None, _message(exc))
        else:
            messages.success(request, _("The organisation was created. Verify it to use seals."))
            return redirect("web:organization_detail", pk=org.pk)
    memberships = (
        Membership.objects.filter(
            user_id=request.user.pk,  # type: ignore[misc]  # login_required: never anonymous
            organization__kind=Organization.Kind.ENTERPRISE,
        )
        .select_related("organization")
        .order_by("created_at")
    )
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "web/organizations.html",
        {"form": form, "memberships": memberships, "sandbox": identity_provider_is_sandbox()},
        status=status,
    )


def _detail(request: HttpRequest, org: Organization, status: int = 200, **forms_: Any) -> HttpResponse:
    manager = may_manage_organization(request.user, org.pk)
    pending = org.verifications.filter(status=OrganizationVerification.Status.PENDING).first()
    context = {
        "org": org,
        "role": role_in(org.pk, request.user),
        "manager": manager,
        "sandbox": identity_provider_is_sandbox(),
        "pending": pending,
        "verifications": org.verifications.all()[:10],
        "members": org_members.members_of(org).order_by("created_at"),
        "departments": org_members.departments_of(org),
        "invitations": org.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True)[:50],
        "bank_form": forms_.get("bank_form") or BankAccountForm(initial={"account_name": org.name}),
        "confirm_form": forms_.get("confirm_form") or ConfirmForm(),
        "licence_form": forms_.get("licence_form") or LicenceForm(),
        "invite_form": forms_.get("invite_form") or _with_departments(InviteForm(), org, "department"),
        "department_form": forms_.get("department_form")
        or _with_departments(DepartmentForm(), org, "parent"),
        "role_choices": ROLE_CHOICES,
        "department_choices": _department_choices(org),
        "error": forms_.get("error"),
    }
    return render(request, "web/organization_detail.html", context, status=status)


@login_required
@require_GET
def organization_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    org = organizations.organization_for_member(request.user, pk)
    organizations.refresh_pending(org, request_context(request))
    return _detail(request, org)


def _act(request: HttpRequest, org: Organization, action: Any, success: str, **form: Any) -> HttpResponse:
    try:
        action()
    except DOMAIN_ERRORS as exc:
        return _detail(request, org, status=400, error=_message(exc), **form)
    messages.success(request, success)
    return redirect("web:organization_detail", pk=org.pk)


@login_required
@require_POST
def organization_verify_bank(request: HttpRequest, pk: UUID) -> HttpResponse:
    org = organizations.organization_for_member(request.user, pk)
    form = BankAccountForm(request.POST)
    if not form.is_valid():
        return _detail(request, org, status=400, bank_form=form)
    data = form.cleaned_data
    account = {"name": data["account_name"], "number": data["account_number"], "bank": data["bank"]}

    def start() -> None:
        result = organizations.start_verification(
            org,
            request.user,  # type: ignore[arg-type]
            method="bank_transfer",
            bank_account=account,
            context=request_context(request),
        )
        if result.status == OrganizationVerification.Status.REJECTED:
            messages.error(request, _("The enterprise check failed: %(reason)s") % {"reason": result.reason})

    return _act(
        request, org, start, _("A small transfer is on its way; confirm its amount and code."), bank_form=form
    )


@login_required
@require_POST
def organization_verify_letter(request: HttpRequest, pk: UUID) -> HttpResponse:
    org = organizations.organization_for_member(request.user, pk)

    def start() -> None:
        result = organizations.start_verification(
            org,
            request.user,  # type: ignore[arg-type]
            method="authorization_letter",
            context=request_context(request),
        )
        if result.status == OrganizationVerification.Status.REJECTED:
            messages.error(request, _("The enterprise check failed: %(reason)s") % {"reason": result.reason})

    return _act(
        request, org, start, _("The authorisation letter was sent to the legal representative to sign.")
    )


@login_required
@require_POST
def organization_confirm(request: HttpRequest, pk: UUID, vid: UUID) -> HttpResponse:
    org = organizations.organization_for_member(request.user, pk)
    verification = organizations.verification_of(org, vid)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return _detail(request, org, status=400, confirm_form=form)

    def confirm() -> None:
        organizations.confirm_transfer(
            verification,
            request.user,  # type: ignore[arg-type]
            amount=form.cleaned_data["amount"],
            code=form.cleaned_data["code"],
            context=request_context(request),
        )

    return _act(request, org, confirm, _("The organisation is verified."), confirm_form=form)


@login_required
@require_POST
def organization_licence(request: HttpRequest, pk: UUID) -> HttpResponse:
    org = organizations.organization_for_member(request.user, pk)
    form = LicenceForm(request.POST, request.FILES)
    if not form.is_valid():
        return _detail(request, org, status=400, licence_form=form)
    upload = form.cleaned_data["licence"]

    def submit() -> None:
        organizations.start_verification(
            org,
            request.user,  # type: ignore[arg-type]
            method="operator_review",
            licence=upload.read(MAX_LICENCE_BYTES + 1),
            context=request_context(request),
        )

    return _act(request, org, submit, _("The business licence was sent for review."), licence_form=form)


@login_required
@require_POST
def organization_invite(request: HttpRequest, pk: UUID) -> HttpResponse:
    org = organizations.organization_for_member(request.user, pk)
    form = _with_departments(InviteForm(request.POST), org, "department")
    if not form.is_valid():
        return _detail(request, org, status=400, invite_form=form)
    data = form.cleaned_data

    def send() -> None:
        org_members.invite(
            org,
            request.user,  # type: ignore[arg-type]
            email=data["email"],
            role=data["role"],
            department_id=data["department"] or None,
            context=request_context(request),
        )

    return _act(request, org, send, _("The invitation was sent."), invite_form=form)


@login_required
@require_POST
def organization_member(request: HttpRequest, pk: UUID, user_id: UUID) -> HttpResponse:
    org = organizations.organization_for_member(request.user, pk)
    form = _with_departments(MemberForm(request.POST), org, "department")
    if not form.is_valid():
        return _detail(request, org, status=400, error=_("Choose a role."))
    data = form.cleaned_data

    def change() -> None:
        org_members.change_member(
            org,
            request.user,  # type: ignore[arg-type]
            user_id,
            role=data["role"],
            department_id=data["department"] or None,
            set_department=True,
            context=request_context(request),
        )

    return _act(request, org, change, _("The member was updated."))


@login_required
@require_POST
def organization_department(request: HttpRequest, pk: UUID) -> HttpResponse:
    org = organizations.organization_for_member(request.user, pk)
    form = _with_departments(DepartmentForm(request.POST), org, "parent")
    if not form.is_valid():
        return _detail(request, org, status=400, department_form=form)

    def create() -> None:
        org_members.create_department(
            org,
            request.user,  # type: ignore[arg-type]
            name=form.cleaned_data["name"],
            parent_id=form.cleaned_data["parent"] or None,
            context=request_context(request),
        )

    return _act(request, org, create, _("The department was created."), department_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    error = None
    try:
        invitation = org_members.invitation_for_token(token)
    except DOMAIN_ERRORS as exc:
        return render(request, "web/invitation.html", {"error": _message(exc)}, status=404)
    if request.method == "POST":
        try:
            membership = org_members.accept_invitation(
                token,
                request.user,  # type: ignore[arg-type]
                context=request_context(request),
            )
        except DOMAIN_ERRORS as exc:
            error = _message(exc)
        else:
            messages.success(request, _("You joined %(org)s.") % {"org": membership.organization.name})
            return redirect("web:organization_detail", pk=membership.organization_id)
    return render(
        request,
        "web/invitation.html",
        {"invitation": invitation, "error": error},
        status=403 if error else 200,
    )


def _operator(request: HttpRequest) -> None:
    if not (request.user.is_staff and request.user.is_active):
        raise PermissionDenied


@login_required
@require_GET
def licence_reviews(request: HttpRequest) -> HttpResponse:
    _operator(request)
    return render(
        request,
        "web/organization_reviews.html",
        {"reviews": organizations.pending_licence_reviews(), "form": DecisionForm()},
    )


@never_cache
@login_required
@require_GET
def licence_image(request: HttpRequest, vid: UUID) -> HttpResponse:
    _operator(request)
    verification = organizations.pending_licence_reviews().filter(pk=vid).first()
    if verification is None:
        return HttpResponse(status=404)
    response = HttpResponse(
        organizations.licence_image(verification), content_type=verification.licence_content_type
    )
    response["Cache-Control"] = NO_STORE
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def licence_decide(request: HttpRequest, vid: UUID) -> HttpResponse:
    _operator(request)
    verification = organizations.pending_licence_reviews().filter(pk=vid).first()
    if verification is None:
        return HttpResponse(status=404)
    form = DecisionForm(request.POST)
    approve = request.POST.get("decision") == "approve"
    if form.is_valid():
        try:
            organizations.decide_licence_review(
                verification,
                request.user,  # type: ignore[arg-type]
                approve=approve,
                reason=form.cleaned_data["reason"],
                context=request_context(request),
            )
        except DOMAIN_ERRORS as exc:
            messages.error(request, _message(exc))
        else:
            messages.success(request, _("Approved.") if approve else _("Rejected."))
    return redirect("web:organization_reviews")

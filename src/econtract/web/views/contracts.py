"""The contract archive's pages: the list (filters, search as you type, saved views, filing in bulk),
archiving an already-signed PDF, and a contract's page (its record and verdict, files, amendments,
the timeline of everything that happened to it, and the forms that change it).

Every contract is read through contracts.services / contracts.listing, so through her visibility
(anything else is a 404); every change is a service call, which records its own evidence event.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import quote, urlencode
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from econtract.accounts.models import User
from econtract.accounts.services import primary_organization
from econtract.api.pagination import MAX_CURSOR_LENGTH, InvalidCursor
from econtract.contracts import listing, services
from econtract.contracts.errors import ContractError, ContractNotPermitted
from econtract.contracts.models import Contract, ContractFile, CustomField, SavedView
from econtract.contracts.packages import build_package
from econtract.documents.errors import UnsafePdf
from econtract.evidence.models import Event
from econtract.verification.errors import VerificationError
from econtract.web.contract_forms import (
    FILTER_NAMES,
    AmendmentForm,
    ArchiveForm,
    AttachmentForm,
    BulkFileForm,
    ContractDetailsForm,
    ContractFilterForm,
    ContractShareForm,
    HoldForm,
    SaveViewForm,
    tag_names,
)
from econtract.web.errors import error_message
from econtract.web.views.common import is_htmx, request_context

LIST_LIMIT = 50
TIMELINE_LIMIT = 500
MAX_SAVED_VIEWS = 100
BULK_LIMIT = 500
# Archive errors whose service text names what to correct (the field, the date kept until).
WITH_DETAIL = frozenset({"invalid_contract", "retention"})
# A PDF that is hostile or cannot be read is refused before anything is stored.
REFUSED_PDF = (UnsafePdf, VerificationError)

EVENT_NAMES = {
    "contract_archived": gettext_lazy("archived"),
    "contract_viewed": gettext_lazy("viewed"),
    "contract_downloaded": gettext_lazy("file downloaded"),
    "contract_package_downloaded": gettext_lazy("package downloaded"),
    "contract_exported": gettext_lazy("exported"),
    "contract_updated": gettext_lazy("details changed"),
    "contract_attachment_added": gettext_lazy("attachment added"),
    "contract_amended": gettext_lazy("amendment added"),
    "contract_hold_placed": gettext_lazy("legal hold placed"),
    "contract_hold_lifted": gettext_lazy("legal hold lifted"),
    "contract_deleted": gettext_lazy("deleted"),
    "contract_restored": gettext_lazy("restored"),
    "contract_shared": gettext_lazy("shared"),
    "contract_reverified": gettext_lazy("signatures checked again"),
    "status_changed": gettext_lazy("status changed"),
    "expiry_reminder_sent": gettext_lazy("expiry reminder sent"),
}

VERDICT_NOTES: dict[str, Any] = {
    Contract.Verdict.VALID: gettext_lazy("Its signatures are valid and it is unchanged since signing."),
    Contract.Verdict.ALTERED: gettext_lazy("Its signatures show it was altered after signing."),
    Contract.Verdict.UNTRUSTED: gettext_lazy(
        "Its signatures are not from a trusted certificate authority, or could not be fully checked."
    ),
    Contract.Verdict.REVOKED: gettext_lazy("A signer's certificate was revoked."),
    Contract.Verdict.UNSIGNED: gettext_lazy("The PDF has no signatures."),
}


def _message(exc: Exception) -> str:
    """error_message, with what the archive's own errors need: which field was refused, and a refusal
    that is about the contract (web/errors.py's not_permitted speaks of envelopes)."""
    if isinstance(exc, ContractNotPermitted):
        return _("You may not do this with this contract.")
    message = error_message(exc)
    detail = getattr(exc, "detail", "")
    if isinstance(exc, ContractError) and exc.code in WITH_DETAIL and detail:
        return f"{message} ({detail})"
    return message


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)  # every view here is behind login_required


def _contract(request: HttpRequest, pk: UUID) -> Contract:
    try:
        return services.visible_contract(request.user, pk)
    except Contract.DoesNotExist as exc:
        raise Http404 from exc


def _upload(file: Any) -> services.Upload:
    return services.Upload(name=file.name or "", data=file.read(), content_type=file.content_type or "")


def _to_contract(contract: Contract, anchor: str = "") -> HttpResponse:
    return redirect(reverse("web:contract_detail", args=[contract.pk]) + anchor)


def _say_verdict(request: HttpRequest, contract: Contract) -> None:
    """The verdict of a PDF just archived; a tampered one is said plainly, as a warning."""
    if contract.verdict == Contract.Verdict.ALTERED:
        messages.warning(
            request,
            _("%(number)s was archived, but its signatures show it was altered after signing.")
            % {"number": contract.number},
        )
        return
    messages.success(
        request,
        _("Archived as %(number)s. %(verdict)s")
        % {"number": contract.number, "verdict": VERDICT_NOTES.get(contract.verdict, "")},
    )


# --- the list ------------------------------------------------------------------------------------


def _list_url(query: dict[str, str], **extra: str) -> str:
    params = {**query, **extra}
    return reverse("web:contracts") + (f"?{urlencode(params)}" if params else "")


def _counterparty_names(contract: Contract) -> str:
    names = [str(p.get("name", "")) for p in contract.counterparties or [] if isinstance(p, dict)]
    return _(", ").join(name for name in names if name)


def _list_page(
    request: HttpRequest,
    data: QueryDict,
    *,
    status: int = 200,
    save_form: SaveViewForm | None = None,
    bulk_form: BulkFileForm | None = None,
) -> HttpResponse:
    user = _user(request)
    filters = ContractFilterForm(data, user=user)
    page: listing.Page | None = None
    problem = ""
    query: dict[str, str] = {}
    if filters.is_valid():
        query = filters.query()
        cursor = data.get("cursor") or None
        try:
            if cursor is not None and len(cursor) > MAX_CURSOR_LENGTH:
                raise InvalidCursor("too long")
            page = listing.find(
                user, filters.filters(), sort=filters.ordering(), limit=LIST_LIMIT, cursor=cursor
            )
        except InvalidCursor:
            problem = _("This page link is no longer valid: the list starts again from its first page.")
            page = listing.find(user, filters.filters(), sort=filters.ordering(), limit=LIST_LIMIT)
    else:
        problem = _("Correct the filters marked below.")
    rows = [
        {"contract": contract, "snippet": snippet, "counterparties": _counterparty_names(contract)}
        for contract, snippet in (page.items if page else [])
    ]
    context = {
        "filters": filters,
        "rows": rows,
        "problem": problem,
        "query": query,
        "query_items": sorted(query.items()),
        "export_query": urlencode(sorted((k, v) for k, v in query.items() if k != "sort")),
        "next_url": _list_url(query, cursor=page.next_cursor) if page and page.next_cursor else "",
    }
    # search as you type swaps only the rows in; a history restore (back button) needs the whole page
    partial = is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"
    context["partial"] = partial
    if not partial:
        views = SavedView.objects.filter(user=user).order_by("name", "id")[:MAX_SAVED_VIEWS]
        context.update(
            {
                "saved_views": [{"view": view, "url": _list_url(_known(view.query))} for view in views],
                "save_form": save_form or SaveViewForm(),
                "bulk_form": bulk_form or BulkFileForm(user=user),
                "tag_names": tag_names(user),
            }
        )
    response = render(
        request, "web/contract_rows.html" if partial else "web/contracts.html", context, status=status
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


def _known(query: Any) -> dict[str, str]:
    """Only the list's own filter names (a stored view is read back, never trusted to hold others)."""
    if not isinstance(query, dict):
        return {}
    return {name: str(query[name])[:200] for name in FILTER_NAMES if query.get(name) not in (None, "")}


@login_required
@require_GET
def contract_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request, request.GET)


def _filters_of(request: HttpRequest) -> dict[str, str]:
    """The list's filters a form posted along (hidden inputs), checked like the list checks them."""
    filters = ContractFilterForm(request.POST, user=request.user)
    return filters.query() if filters.is_valid() else {}


def _ids(values: list[str]) -> list[UUID]:
    try:
        return list(dict.fromkeys(UUID(value) for value in values))
    except ValueError as exc:
        raise Http404 from exc


@login_required
@require_POST
def contract_bulk(request: HttpRequest) -> HttpResponse:
    """Move the ticked contracts to a category and/or tag them; every one must be hers to see (else
    404) and to edit (else nothing changes)."""
    user = _user(request)
    ids = _ids(request.POST.getlist("ids"))
    if len(ids) > BULK_LIMIT:
        raise Http404
    found = list(Contract.objects.visible_to(user).alive().filter(pk__in=ids))
    if len(found) != len(ids):
        raise Http404
    form = BulkFileForm(request.POST, user=user)
    if not ids:
        messages.error(request, _("Tick the contracts to file first."))
        return _list_page(request, request.POST, status=400, bulk_form=form)
    if not form.is_valid():
        return _list_page(request, request.POST, status=400, bulk_form=form)
    try:
        count = services.bulk_file(
            found,
            user,
            category=form.cleaned_data["category"] or None,
            department=None,
            add_tags=form.tags(),
            context=request_context(request),
        )
    except ContractError as exc:
        messages.error(request, _message(exc))
        return _list_page(request, request.POST, status=400, bulk_form=form)
    messages.success(
        request,
        ngettext("%(count)d contract filed.", "%(count)d contracts filed.", count) % {"count": count},
    )
    return redirect(_list_url(_filters_of(request)))


@login_required
@require_POST
def contract_view_save(request: HttpRequest) -> HttpResponse:
    """Keep the list's current filters under a name (the same name again replaces them)."""
    user = _user(request)
    form = SaveViewForm(request.POST)
    filters = ContractFilterForm(request.POST, user=user)
    if not form.is_valid() or not filters.is_valid():
        return _list_page(request, request.POST, status=400, save_form=form)
    name = form.cleaned_data["name"]
    mine = SavedView.objects.filter(user=user)
    if mine.count() >= MAX_SAVED_VIEWS and not mine.filter(name=name).exists():
        form.add_error(
            "name", _("You have %(count)d saved views: delete one first.") % {"count": MAX_SAVED_VIEWS}
        )
        return _list_page(request, request.POST, status=400, save_form=form)
    query = filters.query()
    with transaction.atomic():
        existing = mine.select_for_update().filter(name=name).first()
        if existing is not None:
            existing.query = query
            existing.save(update_fields=["query"])
        else:
            SavedView.objects.create(
                user=user, organization=primary_organization(user), name=name, query=query
            )
    messages.success(request, _("The view “%(name)s” was saved.") % {"name": name})
    return redirect(_list_url(query))


@login_required
@require_POST
def contract_view_delete(request: HttpRequest, view_id: UUID) -> HttpResponse:
    view = get_object_or_404(SavedView, pk=view_id, user=request.user)
    name = view.name
    view.delete()
    messages.success(request, _("The view “%(name)s” was deleted.") % {"name": name})
    return redirect("web:contracts")


# --- archiving -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def contract_archive(request: HttpRequest) -> HttpResponse:
    """An already-signed PDF from elsewhere: its signatures are checked and the verdict kept (a tampered
    file is archived as altered and said so, not refused); a hostile or unreadable file is refused."""
    user = _user(request)
    if request.method != "POST":
        form = ArchiveForm(user=user)
        return render(request, "web/contract_archive.html", {"form": form, "tag_names": tag_names(user)})
    form = ArchiveForm(request.POST, request.FILES, user=user)
    if form.is_valid():
        try:
            contract = services.archive_upload(
                user,
                form.cleaned_data["organization"],
                document=_upload(form.cleaned_data["document"]),
                metadata=form.metadata(),
                context=request_context(request),
            )
        except REFUSED_PDF as exc:
            form.add_error("document", error_message(exc))
        except ContractError as exc:
            form.add_error(None, _message(exc))
        else:
            _say_verdict(request, contract)
            return _to_contract(contract)
    return render(
        request, "web/contract_archive.html", {"form": form, "tag_names": tag_names(user)}, status=400
    )


# --- one contract --------------------------------------------------------------------------------


def _event_detail(event: Event) -> str:
    payload = event.payload if isinstance(event.payload, dict) else {}
    statuses, verdicts, relations = (
        {str(value): label for value, label in choices.choices}
        for choices in (Contract.Status, Contract.Verdict, Contract.Relation)
    )
    parts: list[str] = []
    if payload.get("number") and event.kind in ("contract_archived", "contract_amended"):
        parts.append(str(payload["number"]))
    if payload.get("relation"):
        parts.append(str(relations.get(payload["relation"], payload["relation"])))
    if event.kind == "contract_archived" and payload.get("verdict"):
        parts.append(str(verdicts.get(payload["verdict"], payload["verdict"])))
    if event.kind in ("contract_reverified", "status_changed"):
        labels = verdicts if event.kind == "contract_reverified" else statuses
        before, after = str(payload.get("from", "")), str(payload.get("to", ""))
        parts.append(f"{labels.get(before, before)} → {labels.get(after, after)}")
    if isinstance(payload.get("fields"), list):
        parts.append(", ".join(str(name) for name in payload["fields"][:20]))
    if payload.get("name"):
        parts.append(str(payload["name"]))
    if payload.get("reason"):
        parts.append(str(payload["reason"]))
    if payload.get("expires_on") and event.kind == "expiry_reminder_sent":
        parts.append(str(payload["expires_on"]))
    return " · ".join(parts)


def _timeline(contract: Contract) -> list[dict[str, Any]]:
    events = Event.objects.for_subject(contract).select_related("actor").order_by("-sequence")
    return [
        {
            "kind": event.kind,
            "name": EVENT_NAMES.get(event.kind, event.kind),
            "occurred_at": event.occurred_at,
            "actor": event.actor_label or (event.actor.email if event.actor_id else "—"),
            "detail": _event_detail(event),
        }
        for event in events[:TIMELINE_LIMIT]
    ]


def _plain_verdict(contract: Contract) -> str:
    """The verification page's sentence for the report kept at archiving (none for a contract signed
    on the platform: its record says so instead)."""
    report = contract.verification or {}
    if not isinstance(report, dict) or "signatures" not in report:
        return ""
    from econtract.verification.plain_language import verdict_sentence
    from econtract.verification.services.reports import VerificationReport

    try:
        return verdict_sentence(VerificationReport.from_dict(report)).sentence
    except (TypeError, KeyError, ValueError):
        return ""


def _detail_page(
    request: HttpRequest,
    contract: Contract,
    *,
    status: int = 200,
    details_form: ContractDetailsForm | None = None,
    attachment_form: AttachmentForm | None = None,
    amendment_form: AmendmentForm | None = None,
    hold_form: HoldForm | None = None,
    share_form: ContractShareForm | None = None,
) -> HttpResponse:
    user = _user(request)
    may_edit = services.may_edit(user, contract)
    may_manage = services.may_manage(user, contract)
    chain = services.amendment_chain(contract, user)
    report = contract.verification if isinstance(contract.verification, dict) else {}
    warnings = [str(item) for item in report.get("warnings", []) if item][:50]
    signers = [
        str(signature.get("signer") or signature.get("signer_organization") or "")
        for signature in report.get("signatures", [])
        if isinstance(signature, dict)
    ]
    parent = next((item for item in chain if item.pk == contract.amends_id), None)
    labels = {field.key: field.label for field in CustomField.objects.for_org(contract.organization)}
    metadata = contract.metadata if isinstance(contract.metadata, dict) else {}
    custom = [
        (labels.get(key, key), value) for key, value in sorted(metadata.items()) if value not in (None, "")
    ]
    open_form = next(
        (
            name
            for name, form in (
                ("details", details_form),
                ("attachment", attachment_form),
                ("amendment", amendment_form),
                ("hold", hold_form),
                ("share", share_form),
            )
            if form is not None and form.errors
        ),
        "",
    )
    return render(
        request,
        "web/contract_detail.html",
        {
            "contract": contract,
            "may_edit": may_edit,
            "may_manage": may_manage,
            "verdict_note": VERDICT_NOTES.get(contract.verdict, ""),
            "plain_verdict": _plain_verdict(contract),
            "warnings": warnings,
            "signers": [name for name in signers if name],
            "counterparties": [p for p in contract.counterparties or [] if isinstance(p, dict)],
            "custom": custom,
            "tags": list(contract.tags.order_by("name").values_list("name", flat=True)),
            "files": list(contract.files.order_by("created_at", "id")),
            "chain": chain if len(chain) > 1 else [],
            "parent": parent,
            "timeline": _timeline(contract),
            "open_form": open_form,
            "details_form": details_form
            or (ContractDetailsForm(contract=contract, user=user) if may_edit else None),
            "attachment_form": attachment_form or AttachmentForm(),
            "amendment_form": amendment_form or AmendmentForm(),
            "hold_form": hold_form or HoldForm(),
            "share_form": share_form or ContractShareForm(),
            "tag_names": tag_names(user) if may_edit else [],
            "restore_days": services.RESTORE_DAYS,
        },
        status=status,
    )


@login_required
@require_GET
def contract_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    contract = _contract(request, pk)
    if not is_htmx(request):
        services.record_access(contract, "viewed", request_context(request))
    return _detail_page(request, contract)


@login_required
@require_POST
def contract_update(request: HttpRequest, pk: UUID) -> HttpResponse:
    contract = _contract(request, pk)
    form = ContractDetailsForm(request.POST, contract=contract, user=request.user)
    if form.is_valid():
        try:
            services.update_contract(contract, _user(request), form.changes(), request_context(request))
        except ContractError as exc:
            form.add_error(None, _message(exc))
        else:
            messages.success(request, _("The contract's details were saved."))
            return _to_contract(contract)
    return _detail_page(request, contract, details_form=form, status=400)


@login_required
@require_POST
def contract_attach(request: HttpRequest, pk: UUID) -> HttpResponse:
    contract = _contract(request, pk)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            stored = services.add_attachment(
                contract,
                _user(request),
                _upload(form.cleaned_data["file"]),
                request_context(request),
                description=form.cleaned_data["description"],
            )
        except ContractError as exc:
            form.add_error(None, _message(exc))
        else:
            messages.success(request, _("The file “%(name)s” was attached.") % {"name": stored.name})
            return _to_contract(contract, "#files")
    return _detail_page(request, contract, attachment_form=form, status=400)


@login_required
@require_POST
def contract_amend(request: HttpRequest, pk: UUID) -> HttpResponse:
    """An amendment, supplementary or termination agreement from its signed PDF: archived (verified)
    and linked to this contract."""
    contract = _contract(request, pk)
    form = AmendmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            amendment = services.add_amendment(
                contract,
                _user(request),
                relation=form.cleaned_data["relation"],
                context=request_context(request),
                document=_upload(form.cleaned_data["document"]),
                metadata=form.metadata(),
            )
        except REFUSED_PDF as exc:
            form.add_error("document", error_message(exc))
        except ContractError as exc:
            form.add_error(None, _message(exc))
        else:
            _say_verdict(request, amendment)
            return _to_contract(amendment)
    return _detail_page(request, contract, amendment_form=form, status=400)


@login_required
@require_POST
def contract_hold(request: HttpRequest, pk: UUID) -> HttpResponse:
    """Place a legal hold (with its reason) or lift it: ``action`` is ``place`` or ``lift``."""
    contract = _contract(request, pk)
    placing = request.POST.get("action") != "lift"
    form = HoldForm(request.POST) if placing else None
    if form is not None and not form.is_valid():
        return _detail_page(request, contract, hold_form=form, status=400)
    try:
        services.set_legal_hold(
            contract,
            _user(request),
            on=placing,
            reason=form.cleaned_data["reason"] if form is not None else "",
            context=request_context(request),
        )
    except ContractError as exc:
        messages.error(request, _message(exc))
        return _detail_page(request, contract, hold_form=form, status=400)
    messages.success(request, _("The legal hold was placed.") if placing else _("The legal hold was lifted."))
    return _to_contract(contract)


@login_required
@require_POST
def contract_delete(request: HttpRequest, pk: UUID) -> HttpResponse:
    """Soft deletion (restorable for 30 days); a legal hold or the retention period refuses it."""
    contract = _contract(request, pk)
    try:
        services.delete_contract(contract, _user(request), request_context(request))
    except ContractError as exc:
        messages.error(request, _message(exc))
        return _detail_page(request, contract, status=400)
    messages.success(
        request,
        _("%(number)s was deleted. It can be restored within %(days)d days.")
        % {"number": contract.number, "days": services.RESTORE_DAYS},
    )
    return redirect("web:contracts")


@login_required
@require_POST
def contract_share(request: HttpRequest, pk: UUID) -> HttpResponse:
    contract = _contract(request, pk)
    form = ContractShareForm(request.POST)
    if form.is_valid():
        try:
            services.share_contract(
                contract,
                _user(request),
                email=form.cleaned_data["email"],
                right=form.cleaned_data["right"],
                context=request_context(request),
            )
        except ContractError as exc:
            form.add_error(None, _message(exc))
        else:
            messages.success(request, _("Shared with %(email)s.") % {"email": form.cleaned_data["email"]})
            return _to_contract(contract)
    return _detail_page(request, contract, share_form=form, status=400)


def _attachment(name: str) -> str:
    """Content-Disposition of a download: an ASCII name for old clients, the real one (RFC 6266)."""
    ascii_name = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in name)
    return f"attachment; filename=\"{ascii_name or 'file'}\"; filename*=UTF-8''{quote(name, safe='')}"


def _file_response(stored: ContractFile, data: bytes) -> HttpResponse:
    """The headers of the API's download: never rendered by the browser, nothing sniffed."""
    content_type = (
        "application/pdf" if stored.content_type == "application/pdf" else "application/octet-stream"
    )
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = _attachment(stored.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-SHA256"] = stored.sha256
    return response


@login_required
@require_GET
def contract_file(request: HttpRequest, pk: UUID, file_id: UUID) -> HttpResponse:
    contract = _contract(request, pk)
    try:
        stored = contract.files.get(pk=file_id)
    except ContractFile.DoesNotExist as exc:
        raise Http404 from exc
    data = stored.read_bytes()
    services.record_access(contract, "downloaded", request_context(request), file=stored)
    return _file_response(stored, data)


@login_required
@require_GET
def contract_package(request: HttpRequest, pk: UUID) -> HttpResponse:
    """The zip of the contract as she may see it: its files, amendments, certificates, manifest."""
    contract = _contract(request, pk)
    user = _user(request)
    context = request_context(request)
    package = build_package(contract, user, context, requester_key=f"user:{user.pk}")
    services.record_access(contract, "package_downloaded", context)
    response = HttpResponse(package.content, content_type="application/zip")
    response["Content-Disposition"] = _attachment(package.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Content-SHA256"] = package.sha256
    return response

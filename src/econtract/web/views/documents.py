"""The document pages: the list, a new document (blank, from a template, imported), the editor,
versions and their diff, the preview, comments, sharing, review status, page setup, saving as a
template and sending for signing. An imported PDF (a fixed document) shows its pages instead of the
editor, and is sent with parties whose fields are placed in the envelope's field editor.

The editor saves through the API (PUT /api/v1/documents/{id}, session and CSRF); everything else is a
plain form posted here. Rules live in documents.authoring and documents.templating: these views only
read forms, call them, and say what happened.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from econtract.accounts.errors import NotPermitted
from econtract.documents import authoring, previews, templating
from econtract.documents.errors import InvalidDocument
from econtract.documents.models import Collaborator, Comment, Document, DocumentVersion, Template
from econtract.signing.models import Party
from econtract.signing.services.envelopes import PartySpec
from econtract.signing.services.from_document import envelope_from_document
from econtract.web.document_forms import (
    CommentForm,
    DocumentSettingsForm,
    FixedSendDocumentForm,
    ImportForm,
    NewDocumentForm,
    SaveAsTemplateForm,
    SendDocumentForm,
    ShareForm,
    TemplateFillForm,
)
from econtract.web.errors import DOMAIN_ERRORS, error_message
from econtract.web.views.common import request_context

LIST_LIMIT = 200
STARTER_HTML = "<h1></h1><p></p>"
# the editor's strings that django-prose-editor asks window.gettext for (web/static/web/editor-i18n.js)
EDITOR_CATALOG_KEYS = (
    "URL",
    "Title",
    "Edit Link",
    "Rows",
    "Columns",
    "Include header row",
    "Table Properties",
    "Insert Table",
    "Insert",
    "Cancel",
    "Update",
    "Page break",
    "Indent",
    "Outdent",
    "Insert an image",
    "Only PNG and JPEG images can be inserted.",
    "An image may be at most 1 MB.",
)


def _document(request: HttpRequest, pk: object) -> Document:
    """Every document a page shows is looked up through the visibility scope: anything else is a 404."""
    try:
        return authoring.visible_document(request.user, pk)
    except Document.DoesNotExist as exc:
        raise Http404 from exc


def _to_editor(document: Document) -> HttpResponse:
    return redirect("web:document_edit", pk=document.pk)


def _roles(html: str) -> list[tuple[str, bool]]:
    """The roles the document's signer fields name, in order, and whether each has a seal."""
    _variables, fields = templating.template_spec(html)
    roles: dict[str, bool] = {}
    for field in fields:
        roles[field["party"]] = roles.get(field["party"], False) or field["kind"] == "seal"
    return list(roles.items())


@login_required
@require_GET
def document_list(request: HttpRequest) -> HttpResponse:
    documents = Document.objects.visible_to(request.user).select_related("organization", "created_by")
    status = request.GET.get("status", "")
    if status in Document.Status.values:
        documents = documents.filter(status=status)
    return render(
        request,
        "web/documents.html",
        {
            "documents": documents[:LIST_LIMIT],
            "status": status,
            "statuses": Document.Status.choices,
            "templates": Template.objects.usable_by(request.user).order_by("organization_id", "title")[:100],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def document_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = NewDocumentForm(request.POST or None, user=user)
    import_form = ImportForm(user=user)
    if request.method == "POST" and form.is_valid():
        try:
            document = authoring.create_document(
                user,  # type: ignore[arg-type]
                form.cleaned_data["organization"],
                title=form.cleaned_data["title"],
                kind=form.cleaned_data["kind"],
                html=STARTER_HTML.replace("<h1></h1>", f"<h1>{escape(form.cleaned_data['title'])}</h1>"),
                context=request_context(request),
            )
        except (*DOMAIN_ERRORS, NotPermitted) as exc:
            form.add_error(None, error_message(exc))
        else:
            return _to_editor(document)
    return render(request, "web/document_new.html", {"form": form, "import_form": import_form})


@login_required
@require_POST
def document_import(request: HttpRequest) -> HttpResponse:
    user = request.user
    import_form = ImportForm(request.POST, request.FILES, user=user)
    if import_form.is_valid():
        upload = import_form.cleaned_data["file"]
        try:
            document, notes = authoring.import_file(
                user,  # type: ignore[arg-type]
                import_form.cleaned_data["organization"],
                filename=upload.name or "",
                data=upload.read(),
                title=import_form.cleaned_data["title"],
                context=request_context(request),
            )
        except DOMAIN_ERRORS as exc:
            import_form.add_error("file", error_message(exc))
        else:
            for note in notes[:5]:
                messages.warning(request, note)
            return _to_editor(document)
    form = NewDocumentForm(user=user)
    return render(request, "web/document_new.html", {"form": form, "import_form": import_form}, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def template_fill(request: HttpRequest, pk: object) -> HttpResponse:
    try:
        template = templating.usable_template(request.user, pk)
    except Template.DoesNotExist as exc:
        raise Http404 from exc
    form = TemplateFillForm(request.POST or None, template=template, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            document = templating.document_from_template(
                template,
                request.user,  # type: ignore[arg-type]
                form.cleaned_data["organization"],
                values=form.values(),
                context=request_context(request),
                title=form.cleaned_data["title"],
            )
        except DOMAIN_ERRORS as exc:
            form.add_error(None, error_message(exc))
        else:
            return _to_editor(document)
    return render(request, "web/template_fill.html", {"template": template, "form": form})


@login_required
@require_GET
def document_edit(request: HttpRequest, pk: object) -> HttpResponse:
    return _edit_page(request, _document(request, pk))


def _edit_page(
    request: HttpRequest,
    document: Document,
    *,
    settings_form: DocumentSettingsForm | None = None,
    template_form: SaveAsTemplateForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    right = authoring.right_of(user, document)
    latest = document.latest()
    may_edit = authoring.includes(right, Collaborator.Right.EDIT) and document.status != Document.Status.FINAL
    may_comment = authoring.includes(right, Collaborator.Right.COMMENT)
    threads = (
        Comment.objects.filter(document=document, parent__isnull=True)
        .select_related("author", "resolved_by")
        .prefetch_related("replies__author")
        .order_by("resolved_at", "-created_at")[:200]
    )
    catalog = {key: _(key) for key in EDITOR_CATALOG_KEYS}
    pages = min(document.fixed_pdf_pages, previews.MAX_PREVIEW_PAGES) if document.is_fixed else 0
    return render(
        request,
        "web/document_edit.html",
        {
            "document": document,
            "latest": latest,
            # stored HTML is sanitised on save; cleaned again here for rows older than today's allowlist
            "html": authoring.clean_document_html(latest.html),
            "editable": may_edit and not document.is_fixed,
            "fixed": document.is_fixed,
            "fixed_pages": range(1, pages + 1),
            "may_edit_settings": may_edit,
            "manages": right == authoring.MANAGE,
            "may_comment": may_comment,
            "threads": threads,
            "comment_form": CommentForm(),
            "share_form": ShareForm(),
            "settings_form": settings_form or DocumentSettingsForm(document=document),
            "template_form": template_form or SaveAsTemplateForm(initial={"title": document.title}),
            "collaborators": document.collaborators.select_related("user"),
            "catalog": catalog,
            "field_kinds": ["signature", "seal", "date_signed", "initials", "text", "number", "checkbox"],
            "next_statuses": sorted(authoring.TRANSITIONS.get(document.status, set())),
            "status_labels": dict(Document.Status.choices),
        },
        status=status,
    )


@login_required
@require_POST
def document_settings(request: HttpRequest, pk: object) -> HttpResponse:
    document = _document(request, pk)
    form = DocumentSettingsForm(request.POST, document=document)
    if form.is_valid():
        try:
            authoring.update_settings(
                document,
                request.user,  # type: ignore[arg-type]
                context=request_context(request),
                **form.settings(),
            )
        except (*DOMAIN_ERRORS, NotPermitted) as exc:
            form.add_error(None, error_message(exc))
        else:
            messages.success(request, _("The page setup was saved."))
            return _to_editor(document)
    return _edit_page(request, document, settings_form=form, status=400)


@login_required
@require_POST
def document_save_template(request: HttpRequest, pk: object) -> HttpResponse:
    """The latest version as a template of the document's organisation (its placeholders are read as
    the template's variables and signer fields)."""
    document = _document(request, pk)
    form = SaveAsTemplateForm(request.POST)
    if form.is_valid():
        try:
            authoring.require_right(request.user, document, authoring.MANAGE)
            if document.is_fixed:
                raise InvalidDocument("a PDF document cannot be a template", code="fixed_document")
            template = templating.create_template(
                request.user,  # type: ignore[arg-type]
                document.organization,
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
                html=document.latest().html,
                kind=document.kind,
                language=document.language,
                context=request_context(request),
            )
        except (*DOMAIN_ERRORS, NotPermitted) as exc:
            form.add_error(None, error_message(exc))
        else:
            messages.success(request, _("Saved as the template “%(title)s”.") % {"title": template.title})
            return redirect("web:template_fill", pk=template.pk)
    return _edit_page(request, document, template_form=form, status=400)


@login_required
@require_POST
def document_status(request: HttpRequest, pk: object) -> HttpResponse:
    document = _document(request, pk)
    try:
        authoring.set_status(document, request.user, request.POST.get("status", ""), request_context(request))  # type: ignore[arg-type]
    except (*DOMAIN_ERRORS, NotPermitted) as exc:
        messages.error(request, error_message(exc))
    return _to_editor(document)


@login_required
@require_POST
def document_share(request: HttpRequest, pk: object) -> HttpResponse:
    document = _document(request, pk)
    form = ShareForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the email address of an account and a right."))
        return _to_editor(document)
    try:
        authoring.share(
            document,
            request.user,  # type: ignore[arg-type]
            email=form.cleaned_data["email"],
            right=form.cleaned_data["right"],
            context=request_context(request),
        )
    except (*DOMAIN_ERRORS, NotPermitted) as exc:
        messages.error(request, error_message(exc))
    else:
        messages.success(request, _("Shared with %(email)s.") % {"email": form.cleaned_data["email"]})
    return _to_editor(document)


@login_required
@require_POST
def document_comment(request: HttpRequest, pk: object) -> HttpResponse:
    document = _document(request, pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A comment needs some text."))
        return _to_editor(document)
    try:
        authoring.add_comment(
            document,
            request.user,  # type: ignore[arg-type]
            body=form.cleaned_data["body"],
            quote=form.cleaned_data["quote"] or "",
            parent_id=form.cleaned_data["parent"],
            context=request_context(request),
        )
    except (*DOMAIN_ERRORS, NotPermitted) as exc:
        messages.error(request, error_message(exc))
    return redirect(reverse("web:document_edit", args=[document.pk]) + "#comments")


@login_required
@require_POST
def document_comment_resolve(request: HttpRequest, pk: object, comment_id: object) -> HttpResponse:
    document = _document(request, pk)
    try:
        authoring.resolve_comment(document, request.user, comment_id, request_context(request))  # type: ignore[arg-type]
    except Comment.DoesNotExist as exc:
        raise Http404 from exc
    except (*DOMAIN_ERRORS, NotPermitted) as exc:
        messages.error(request, error_message(exc))
    return redirect(reverse("web:document_edit", args=[document.pk]) + "#comments")


@login_required
@require_GET
def document_versions(request: HttpRequest, pk: object) -> HttpResponse:
    document = _document(request, pk)
    versions = document.versions.select_related("author").order_by("-number")[:500]
    return render(
        request,
        "web/document_versions.html",
        {
            "document": document,
            "versions": versions,
            "manages": authoring.right_of(request.user, document) == authoring.MANAGE,
        },
    )


@login_required
@require_POST
def document_restore(request: HttpRequest, pk: object, number: int) -> HttpResponse:
    document = _document(request, pk)
    try:
        version = authoring.restore_version(document, request.user, number, request_context(request))  # type: ignore[arg-type]
    except DocumentVersion.DoesNotExist as exc:
        raise Http404 from exc
    except (*DOMAIN_ERRORS, NotPermitted) as exc:
        messages.error(request, error_message(exc))
        return redirect("web:document_versions", pk=document.pk)
    messages.success(
        request, _("Version %(old)d restored as version %(new)d.") % {"old": number, "new": version.number}
    )
    return _to_editor(document)


def _version_number(value: str | None, default: int) -> int:
    try:
        number = int(value or default)
    except ValueError:
        return default
    return number if number >= 1 else default


@login_required
@require_GET
def document_diff(request: HttpRequest, pk: object) -> HttpResponse:
    document = _document(request, pk)
    newest = document.current_version
    new = _version_number(request.GET.get("to"), newest)
    old = _version_number(request.GET.get("from"), max(1, new - 1))
    result = None
    problem = ""
    try:
        result = authoring.diff_versions(document, request.user, old, new)  # type: ignore[arg-type]
    except (*DOMAIN_ERRORS, NotPermitted) as exc:
        problem = error_message(exc)
    return render(
        request,
        "web/document_diff.html",
        {
            "document": document,
            "old": old,
            "new": new,
            "numbers": list(range(newest, 0, -1))[:500],
            "result": result,
            "problem": problem,
        },
        status=400 if problem else 200,
    )


@login_required
@require_GET
def document_preview(request: HttpRequest, pk: object) -> HttpResponse:
    document = _document(request, pk)
    number = _version_number(request.GET.get("version"), document.current_version)
    if not document.versions.filter(number=number).exists():
        raise Http404
    problem = ""
    pages = 0
    try:
        pages = previews.page_count(previews.preview_pdf(document, request.user, number))
    except (*DOMAIN_ERRORS, NotPermitted) as exc:
        problem = error_message(exc)
    return render(
        request,
        "web/document_preview.html",
        {"document": document, "number": number, "pages": range(1, pages + 1), "problem": problem},
    )


@login_required
@require_GET
def document_page_image(request: HttpRequest, pk: object, number: int, page: int) -> HttpResponse:
    document = _document(request, pk)
    if not document.versions.filter(number=number).exists():
        raise Http404
    try:
        png = previews.preview_page_png(document, request.user, number, page)
    except IndexError as exc:
        raise Http404 from exc
    except (*DOMAIN_ERRORS, NotPermitted) as exc:
        return HttpResponse(error_message(exc), status=400, content_type="text/plain; charset=utf-8")
    # a version's picture changes with the page setup: the browser asks again, and gets 304 if it has it
    etag = f'"{hashlib.sha256(png).hexdigest()[:32]}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(png, content_type="image/png")
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


def _party_spec(data: dict[str, Any], role: str) -> PartySpec:
    organization = data[f"{role}__kind"] == Party.Kind.ORGANIZATION
    return PartySpec(
        name=data[f"{role}__name"],
        email=data[f"{role}__email"].lower(),
        order=data[f"{role}__order"],
        kind=data[f"{role}__kind"],
        organization_uscc=data[f"{role}__uscc"] if organization else "",
    )


@login_required
@require_http_methods(["GET", "POST"])
def document_send(request: HttpRequest, pk: object) -> HttpResponse:
    document = _document(request, pk)
    if authoring.right_of(request.user, document) != authoring.MANAGE:
        raise Http404
    problem = ""
    form: SendDocumentForm
    if document.is_fixed:  # an imported PDF: its parties' fields are placed in the envelope's editor
        form = FixedSendDocumentForm(request.POST or None, initial={"title": document.title})
    else:
        try:
            roles = _roles(document.latest().html)
        except DOMAIN_ERRORS as exc:
            roles, problem = [], error_message(exc)
        if not roles and not problem:
            problem = _(
                "The document has no signer fields. Insert at least one, e.g. {{ signature: buyer }}, before sending."
            )
        form = SendDocumentForm(request.POST or None, roles=roles, initial={"title": document.title})
    if request.method == "POST" and not problem and form.is_valid():
        data = form.cleaned_data
        given = form.given_roles() if isinstance(form, FixedSendDocumentForm) else form.roles
        try:
            envelope = envelope_from_document(
                document,
                request.user,  # type: ignore[arg-type]
                parties={role: _party_spec(data, role) for role in given},
                context=request_context(request),
                title=data["title"] or document.title,
            )
        except (*DOMAIN_ERRORS, NotPermitted) as exc:
            form.add_error(None, error_message(exc))
        else:
            if document.is_fixed:
                messages.success(
                    request, _("The envelope was made from the PDF. Place each party's fields, then send it.")
                )
            else:
                messages.success(
                    request, _("The envelope was made from the document. Check the fields, then send it.")
                )
            return redirect("web:envelope_edit", pk=envelope.pk)
    return render(
        request,
        "web/document_send.html",
        {"document": document, "form": form, "problem": problem, "fixed": document.is_fixed},
        status=400 if request.method == "POST" and (problem or form.errors) else 200,
    )

"""Documents written on the platform and templates, over the API (thin: documents.authoring/templating)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from econtract.accounts.models import User
from econtract.api.auth import acting_organization
from econtract.api.errors import error_response
from econtract.api.openapi import responses
from econtract.documents import authoring, templating
from econtract.documents.errors import VersionConflict
from econtract.documents.models import MARGIN_MAX_MM, MARGIN_MIN_MM, Document, DocumentKind
from econtract.evidence.services import RequestContext
from econtract.textinput import MultiLineText, SingleLineText

router = Router(tags=["documents"])

MAX_HTML = 2_000_000
Kind = Literal["contract", "agreement", "announcement", "other"]


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _document(request: HttpRequest, document_id: UUID) -> Document:
    return authoring.visible_document(_user(request), document_id)


class DocumentIn(Schema):
    title: SingleLineText = Field(max_length=300)
    kind: Kind = DocumentKind.CONTRACT
    html: str = Field(max_length=MAX_HTML)
    language: Literal["zh-hans", "en"] = "zh-hans"


class DocumentCreated(Schema):
    id: UUID
    version: int


class DocumentMarginsOut(Schema):
    top: int
    right: int
    bottom: int
    left: int


class DocumentOut(Schema):
    id: UUID
    title: str
    kind: str
    status: str
    language: str
    version: int
    html: str
    updated_at: datetime
    right: str
    page_size: str
    header: str
    footer: str
    margins: DocumentMarginsOut = Field(description="page margins in mm")
    fixed: bool = Field(description="an imported PDF: signed as it is, never edited (its html is empty)")


class DocumentMarginsIn(Schema):
    top: int | None = Field(None, ge=MARGIN_MIN_MM, le=MARGIN_MAX_MM)
    right: int | None = Field(None, ge=MARGIN_MIN_MM, le=MARGIN_MAX_MM)
    bottom: int | None = Field(None, ge=MARGIN_MIN_MM, le=MARGIN_MAX_MM)
    left: int | None = Field(None, ge=MARGIN_MIN_MM, le=MARGIN_MAX_MM)


class DocumentSettingsIn(Schema):
    title: SingleLineText | None = Field(None, max_length=300)
    kind: Kind | None = None
    language: Literal["zh-hans", "en"] | None = Field(None, description="of the page numbers")
    page_size: Literal["A4", "Letter"] | None = None
    header: SingleLineText | None = Field(None, max_length=200)
    footer: SingleLineText | None = Field(None, max_length=200)
    margins: DocumentMarginsIn | None = Field(None, description="in mm; a side left out is kept")


class SaveIn(Schema):
    html: str = Field(max_length=MAX_HTML)
    base_version: int = Field(ge=1, le=2**31)


class SavedOut(Schema):
    version: int


class VersionOut(Schema):
    number: int
    sha256: str
    author: str
    created_at: datetime
    restored_from: int | None


class VersionPage(Schema):
    items: list[VersionOut]
    next_cursor: str | None = None


class DiffQuery(Schema):
    from_version: int = Field(alias="from", ge=1, le=2**31)
    to_version: int = Field(alias="to", ge=1, le=2**31)


class ChangeOut(Schema):
    kind: str
    text: str
    block: int


class DiffOut(Schema):
    html: str = Field(description="the new version with <ins> and <del> marks; safe to show as it is")
    insertions: int
    deletions: int
    changes: list[ChangeOut]


class StatusIn(Schema):
    status: Literal["draft", "in_review", "final"]


class ShareIn(Schema):
    email: SingleLineText = Field(max_length=254)
    right: Literal["view", "comment", "edit"] = "view"


class CommentIn(Schema):
    body: MultiLineText = Field(max_length=5000)
    version: int | None = Field(None, ge=1, le=2**31)
    quote: MultiLineText = Field("", max_length=500)
    start: int | None = Field(None, ge=0, le=2**31)
    end: int | None = Field(None, ge=0, le=2**31)
    reply_to: UUID | None = None


class CommentOut(Schema):
    id: UUID
    version: int
    quote: str
    start: int | None
    end: int | None
    body: str
    author: str
    created_at: datetime
    resolved_at: datetime | None
    reply_to: UUID | None


class TemplateIn(Schema):
    title: SingleLineText = Field(max_length=300)
    html: str = Field(max_length=MAX_HTML)
    kind: Kind = DocumentKind.CONTRACT
    language: Literal["zh-hans", "en"] = "zh-hans"
    description: MultiLineText = Field("", max_length=2000)


class VariableOut(Schema):
    name: str
    type: str
    options: list[str] = []
    attributes: list[str] = []


class TemplateFieldOut(Schema):
    kind: str
    party: str
    name: str


class TemplateOut(Schema):
    id: UUID
    title: str
    kind: str
    language: str
    builtin: bool
    variables: list[VariableOut]
    fields: list[TemplateFieldOut]


def _exact_numbers(value: Any) -> Any:
    """JSON numbers arrive as floats; a contract's amounts are decimals: take the digits as written
    (repr of a float is the shortest text that reads back to it: 12345.67 stays "12345.67")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {k: _exact_numbers(v) for k, v in value.items()}
    return value


class FillIn(Schema):
    values: dict[str, Any] = Field(
        default_factory=dict,
        max_length=500,
        description="by variable name: text, numbers and money as strings (or JSON numbers), dates as "
        "YYYY-MM-DD, a choice as one of its options, a party as an object of its attributes",
    )
    title: SingleLineText | None = Field(None, max_length=300)


def _document_out(document: Document, user: User) -> dict[str, Any]:
    return {
        "id": document.pk,
        "title": document.title,
        "kind": document.kind,
        "status": document.status,
        "language": document.language,
        "version": document.current_version,
        "html": document.latest().html,
        "updated_at": document.updated_at,
        "right": authoring.right_of(user, document) or "",
        "page_size": document.page_size,
        "header": document.header,
        "footer": document.footer,
        "margins": document.margins,
        "fixed": document.is_fixed,
    }


@router.post("/documents", response=responses({201: DocumentCreated}, 400, 401, 403, 422))
def create_document(request: HttpRequest, body: DocumentIn) -> Status:
    """A new draft written on the platform; its HTML is sanitised (nh3) before it is stored."""
    document = authoring.create_document(
        _user(request),
        acting_organization(request),
        title=body.title,
        kind=body.kind,
        html=body.html,
        language=body.language,
        context=RequestContext.from_request(request),
    )
    return Status(201, {"id": document.pk, "version": document.current_version})


class ImportedOut(Schema):
    id: UUID
    version: int
    messages: list[str] = Field(description="what the import could not keep (e.g. an image type)")


@router.post("/documents/import", response=responses({201: ImportedOut}, 400, 401, 403, 413, 415, 422))
def import_document(request: HttpRequest, file: File[UploadedFile], title: Form[str] = "") -> Status:
    """A new draft from a DOCX (headings, lists, tables, emphasis, PNG/JPEG images kept) or an HTML file,
    both sanitised like anything saved; or a fixed document from a PDF, checked as an envelope upload is
    (the same refusals: 415 `not_pdf`, 422 `active_content`, …) and kept byte for byte."""
    limit = settings.ECONTRACT_MAX_UPLOAD_BYTES  # the limit of every uploaded document, PDF or DOCX
    if file.size is not None and file.size > limit:
        return error_response("too_large", f"the file may be at most {limit} bytes", 413)
    data = file.read(limit + 1)
    if len(data) > limit:
        return error_response("too_large", f"the file may be at most {limit} bytes", 413)
    document, messages = authoring.import_file(
        _user(request),
        acting_organization(request),
        filename=file.name or "",
        data=data,
        title=title[:300],
        context=RequestContext.from_request(request),
    )
    return Status(201, {"id": document.pk, "version": document.current_version, "messages": messages})


@router.get(
    "/documents/{document_id}/docx",
    response=responses({}, 400, 401, 404, 409, 422),
    openapi_extra={
        "responses": {
            200: {
                "description": "The latest version as DOCX",
                "content": {authoring.DOCX_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def document_docx(request: HttpRequest, document_id: UUID) -> HttpResponse:
    document = _document(request, document_id)
    response = HttpResponse(authoring.export_docx(document, _user(request)), content_type=authoring.DOCX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{document.pk}-v{document.current_version}.docx"'
    return response


@router.get("/documents/{document_id}", response=responses({200: DocumentOut}, 401, 404, 422))
def get_document(request: HttpRequest, document_id: UUID) -> dict[str, Any]:
    return _document_out(_document(request, document_id), _user(request))


@router.put("/documents/{document_id}", response=responses({200: SavedOut}, 400, 401, 403, 404, 409, 422))
def save_document(request: HttpRequest, document_id: UUID, body: SaveIn) -> Any:
    """Save a new version on top of `base_version`. 409 `version_conflict` when someone saved since:
    the answer carries the latest version and its HTML so the client can show both."""
    document = _document(request, document_id)
    try:
        version = authoring.save_version(
            document,
            _user(request),
            html=body.html,
            base_version=body.base_version,
            context=RequestContext.from_request(request),
        )
    except VersionConflict as exc:
        return error_response(
            exc.code,
            str(exc),
            409,
            base_version=exc.base_version,
            current_version=exc.current_version,
            current_html=exc.current_html,
        )
    return {"version": version.number}


@router.patch(
    "/documents/{document_id}", response=responses({200: DocumentOut}, 400, 401, 403, 404, 409, 422)
)
def update_settings(request: HttpRequest, document_id: UUID, body: DocumentSettingsIn) -> dict[str, Any]:
    """Change the title, kind or page setup (page size, margins, header, footer, language of the page
    numbers); what is left out is kept. 409 `document_not_editable` for a final document, and for the
    page setup of a fixed one (an imported PDF)."""
    document = _document(request, document_id)
    margins = body.margins.model_dump(exclude_none=True) if body.margins is not None else None
    updated = authoring.update_settings(
        document,
        _user(request),
        context=RequestContext.from_request(request),
        title=body.title,
        kind=body.kind,
        language=body.language,
        page_size=body.page_size,
        header=body.header,
        footer=body.footer,
        margins=margins,
    )
    return _document_out(updated, _user(request))


@router.get("/documents/{document_id}/versions", response=responses({200: VersionPage}, 401, 404, 422))
def list_versions(request: HttpRequest, document_id: UUID) -> dict[str, Any]:
    document = _document(request, document_id)
    authoring.require_right(_user(request), document, "view")
    items = [
        {
            "number": v.number,
            "sha256": v.sha256,
            "author": v.author.full_name or v.author.email,
            "created_at": v.created_at,
            "restored_from": v.restored_from,
        }
        for v in document.versions.select_related("author").order_by("-number")[:500]
    ]
    return {"items": items, "next_cursor": None}


@router.post(
    "/documents/{document_id}/versions/{number}/restore",
    response=responses({200: SavedOut}, 400, 401, 403, 404, 409, 422),
)
def restore_version(request: HttpRequest, document_id: UUID, number: int) -> dict[str, Any]:
    """The old version becomes the newest (history kept)."""
    document = _document(request, document_id)
    version = authoring.restore_version(
        document, _user(request), number, RequestContext.from_request(request)
    )
    return {"version": version.number}


@router.get("/documents/{document_id}/diff", response=responses({200: DiffOut}, 400, 401, 404, 422))
def diff(request: HttpRequest, document_id: UUID, query: Query[DiffQuery]) -> dict[str, Any]:
    """Insertions and deletions between two versions: words for English, characters for Chinese."""
    document = _document(request, document_id)
    result = authoring.diff_versions(document, _user(request), query.from_version, query.to_version)
    return {
        "html": result.html,
        "insertions": result.insertions,
        "deletions": result.deletions,
        "changes": [{"kind": c.kind, "text": c.text, "block": c.block} for c in result.changes],
    }


@router.get(
    "/documents/{document_id}/pdf",
    response=responses({}, 400, 401, 404, 422),
    openapi_extra={
        "responses": {
            200: {
                "description": "The latest version as PDF/A-2b, or a fixed document's imported PDF as it is; "
                "X-Document-SHA256 is its SHA-256 (reproducible)",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def document_pdf(request: HttpRequest, document_id: UUID) -> HttpResponse:
    document = _document(request, document_id)
    rendered = authoring.render_version(document, _user(request))
    response = HttpResponse(rendered.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.pk}-v{document.current_version}.pdf"'
    response["X-Document-SHA256"] = rendered.sha256
    return response


@router.post(
    "/documents/{document_id}/status", response=responses({200: DocumentOut}, 400, 401, 403, 404, 422)
)
def set_status(request: HttpRequest, document_id: UUID, body: StatusIn) -> dict[str, Any]:
    document = _document(request, document_id)
    updated = authoring.set_status(
        document, _user(request), body.status, RequestContext.from_request(request)
    )
    return _document_out(updated, _user(request))


@router.post(
    "/documents/{document_id}/collaborators", response=responses({200: DocumentOut}, 400, 401, 403, 404, 422)
)
def share(request: HttpRequest, document_id: UUID, body: ShareIn) -> dict[str, Any]:
    document = _document(request, document_id)
    authoring.share(
        document,
        _user(request),
        email=body.email,
        right=body.right,
        context=RequestContext.from_request(request),
    )
    return _document_out(document, _user(request))


def _comment_out(comment: Any) -> dict[str, Any]:
    return {
        "id": comment.pk,
        "version": comment.version,
        "quote": comment.quote,
        "start": comment.start,
        "end": comment.end,
        "body": comment.body,
        "author": comment.author.full_name or comment.author.email,
        "created_at": comment.created_at,
        "resolved_at": comment.resolved_at,
        "reply_to": comment.parent_id,
    }


class CommentPage(Schema):
    items: list[CommentOut]
    next_cursor: str | None = None


@router.get("/documents/{document_id}/comments", response=responses({200: CommentPage}, 401, 404, 422))
def list_comments(request: HttpRequest, document_id: UUID) -> dict[str, Any]:
    """Every comment and reply, oldest first (one page: a document's threads are few)."""
    document = _document(request, document_id)
    authoring.require_right(_user(request), document, "view")
    comments = document.comments.select_related("author").order_by("created_at")[:2000]
    return {"items": [_comment_out(c) for c in comments], "next_cursor": None}


@router.post(
    "/documents/{document_id}/comments", response=responses({201: CommentOut}, 400, 401, 403, 404, 422)
)
def add_comment(request: HttpRequest, document_id: UUID, body: CommentIn) -> Status:
    document = _document(request, document_id)
    comment = authoring.add_comment(
        document,
        _user(request),
        body=body.body,
        version=body.version,
        quote=body.quote,
        start=body.start,
        end=body.end,
        parent_id=body.reply_to,
        context=RequestContext.from_request(request),
    )
    return Status(201, _comment_out(comment))


@router.post(
    "/documents/{document_id}/comments/{comment_id}/resolve",
    response=responses({200: CommentOut}, 400, 401, 403, 404, 422),
)
def resolve_comment(request: HttpRequest, document_id: UUID, comment_id: UUID) -> dict[str, Any]:
    document = _document(request, document_id)
    comment = authoring.resolve_comment(
        document, _user(request), comment_id, RequestContext.from_request(request)
    )
    return _comment_out(comment)


# --- templates ---------------------------------------------------------------------------------------


def _template_out(template: Any) -> dict[str, Any]:
    return {
        "id": template.pk,
        "title": template.title,
        "kind": template.kind,
        "language": template.language,
        "builtin": template.organization_id is None,
        "variables": template.variables,
        "fields": template.fields,
    }


@router.post("/templates", response=responses({201: TemplateOut}, 400, 401, 403, 422))
def create_template(request: HttpRequest, body: TemplateIn) -> Status:
    """A template of the acting organisation's library; its variables and signer fields are read from
    the placeholders (`{{ buyer.name }}`, `{{ price | money_capital }}`, `{{ signature: buyer }}`)."""
    template = templating.create_template(
        _user(request),
        acting_organization(request),
        title=body.title,
        html=body.html,
        kind=body.kind,
        language=body.language,
        description=body.description,
        context=RequestContext.from_request(request),
    )
    return Status(201, _template_out(template))


class TemplatePage(Schema):
    items: list[TemplateOut]
    next_cursor: str | None = None


@router.get("/templates", response=responses({200: TemplatePage}, 401, 422))
def list_templates(request: HttpRequest) -> dict[str, Any]:
    """The built-in templates and those of your organisations (one page)."""
    from econtract.documents.models import Template

    templates = Template.objects.usable_by(_user(request)).order_by("title")[:500]
    return {"items": [_template_out(t) for t in templates], "next_cursor": None}


@router.get("/templates/{template_id}", response=responses({200: TemplateOut}, 401, 404, 422))
def get_template(request: HttpRequest, template_id: UUID) -> dict[str, Any]:
    return _template_out(templating.usable_template(_user(request), template_id))


@router.post(
    "/templates/{template_id}/documents", response=responses({201: DocumentCreated}, 400, 401, 403, 404, 422)
)
def document_from_template(request: HttpRequest, template_id: UUID, body: FillIn) -> Status:
    """A new draft with the template's variables filled from `values` (party variables as objects:
    `{"buyer": {"name": …}}`); its signer fields stay as fields."""
    template = templating.usable_template(_user(request), template_id)
    document = templating.document_from_template(
        template,
        _user(request),
        acting_organization(request),
        values=_exact_numbers(body.values),
        title=body.title or "",
        context=RequestContext.from_request(request),
    )
    return Status(201, {"id": document.pk, "version": document.current_version})

"""The verbs of documents written on the platform: create, save (every save a version, optimistic
locking), restore, review status, sharing, comments, diff and rendering (docs/documents.md).

Who may do what is decided here, in ``right_of``: the creator and the organisation's owner, admins and
legal *manage* (edit, share, change status); a collaborator has the right she was given (view, comment,
edit). Every step that changes a document is an evidence event.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from econtract.accounts.errors import NotPermitted
from econtract.accounts.models import Membership, Organization, User
from econtract.accounts.permissions import MANAGE_ALL_ROLES
from econtract.documents.errors import DocumentNotEditable, InvalidDocument, VersionConflict
from econtract.documents.models import (
    MARGIN_MAX_MM,
    MARGIN_MIN_MM,
    MARGIN_SIDES,
    Collaborator,
    Comment,
    Document,
    DocumentKind,
    DocumentVersion,
    PageSize,
)
from econtract.evidence.services import RequestContext, record_event
from econtract.textinput import TextKind, UnsafeText, clean_text

logger = logging.getLogger("econtract.documents")

MANAGE = "manage"
RIGHTS_ORDER = {
    Collaborator.Right.VIEW: 1,
    Collaborator.Right.COMMENT: 2,
    Collaborator.Right.EDIT: 3,
    MANAGE: 4,
}
MAX_COMMENT = 5000
LANGUAGES = ("zh-hans", "en")
FIXED_NOT_EDITABLE = "a PDF document is fixed; it cannot be edited"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def clean_document_html(html: str) -> str:
    """The one door every stored or rendered HTML passes: nh3 with the editor's allowlist."""
    from econtract.documents.sanitizing import UnsafeHtml, clean_html

    try:
        # control characters refused and line ends normalised first, as for any user text
        return clean_html(clean_text(html, TextKind.LINES, field="html"))
    except UnsafeText as exc:
        raise InvalidDocument(str(exc), code="unsafe_text") from exc
    except UnsafeHtml as exc:
        raise InvalidDocument(str(exc), code=getattr(exc, "code", None)) from exc


# --- rights ---------------------------------------------------------------------------------------


def right_of(user: Any, document: Document) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    if document.created_by_id == user.pk:
        return MANAGE
    role = (
        Membership.objects.filter(organization_id=document.organization_id, user=user)
        .values_list("role", flat=True)
        .first()
    )
    if role in MANAGE_ALL_ROLES:
        return MANAGE
    return Collaborator.objects.filter(document=document, user=user).values_list("right", flat=True).first()


def includes(right: str | None, needed: str) -> bool:
    """Whether ``right`` (from :func:`right_of`) covers ``needed``: manage > edit > comment > view."""
    return right is not None and RIGHTS_ORDER[right] >= RIGHTS_ORDER[needed]


def require_right(user: Any, document: Document, needed: str) -> str:
    right = right_of(user, document)
    if right is None or not includes(right, needed):
        raise NotPermitted(f"you may not {needed} this document")
    return right


def visible_document(user: Any, document_id: Any) -> Document:
    """The document if she may see it; Document.DoesNotExist (404) otherwise, never 403."""
    return Document.objects.visible_to(user).get(pk=document_id)


# --- creating and saving ----------------------------------------------------------------------------


def _locked(document_id: Any) -> Document:
    return Document.objects.select_for_update().get(pk=document_id)


def _add_version(
    document: Document, html: str, author: User, *, restored_from: int | None = None
) -> DocumentVersion:
    document.current_version += 1
    version = DocumentVersion.objects.create(
        document=document,
        number=document.current_version,
        html=html,
        sha256=sha256_hex(html),
        author=author,
        restored_from=restored_from,
    )
    document.save(update_fields=["current_version", "updated_at"])
    return version


def create_document(
    user: User,
    organization: Organization,
    *,
    title: str,
    kind: str,
    html: str,
    context: RequestContext,
    template: Any = None,
    language: str = "zh-hans",
    fixed_pdf: bytes | None = None,
) -> Document:
    """A new draft; with ``fixed_pdf`` a *fixed document*: that PDF (checked by documents.pdfsafety
    first) is what it is, and its one version holds no HTML."""
    from econtract.documents.pdfsafety import inspect_pdf

    if not Membership.objects.filter(organization=organization, user=user).exists():
        raise NotPermitted("you may create documents only in your own organisations")
    if kind not in DocumentKind.values:
        raise InvalidDocument(f"kind must be one of {', '.join(DocumentKind.values)}")
    cleaned_title = clean_text(title, TextKind.LINE, field="title", max_length=300)
    if not cleaned_title:
        raise InvalidDocument("a document needs a title")
    cleaned = clean_document_html(html) if fixed_pdf is None else ""
    # the envelope upload's own check and refusals (UnsafePdf), before anything is stored
    inspection = inspect_pdf(fixed_pdf) if fixed_pdf is not None else None
    with transaction.atomic():
        document = Document.objects.create(
            organization=organization,
            created_by=user,
            title=cleaned_title,
            kind=kind,
            template=template,
            language=language if language in LANGUAGES else "zh-hans",
        )
        if fixed_pdf is not None and inspection is not None:
            # a crash after this leaves at worst a file without a row, never a row without its file
            document.fixed_pdf_name = default_storage.save(
                f"documents/fixed/{document.pk}.pdf", ContentFile(fixed_pdf)
            )
            document.fixed_pdf_sha256 = inspection.sha256
            document.fixed_pdf_pages = inspection.page_count
            document.fixed_pdf_page_size = [round(v, 2) for v in inspection.page_sizes[0]]
            document.save(
                update_fields=["fixed_pdf_name", "fixed_pdf_sha256", "fixed_pdf_pages", "fixed_pdf_page_size"]
            )
        version = _add_version(document, cleaned, user)
        record_event(
            "document_created",
            document,
            context,
            organization=organization,
            document_sha256=inspection.sha256 if inspection is not None else version.sha256,
            payload={
                "title": cleaned_title,
                "kind": kind,
                "template": str(template.pk) if template else None,
                **({"fixed_pdf_pages": inspection.page_count} if inspection is not None else {}),
            },
        )
    return document


def _require_editable(locked: Document) -> None:
    if locked.is_fixed:
        raise DocumentNotEditable(FIXED_NOT_EDITABLE)
    if locked.status == Document.Status.FINAL:
        raise DocumentNotEditable("the document is final; reopen it as a draft to change it")


def save_version(
    document: Document, user: User, *, html: str, base_version: int, context: RequestContext
) -> DocumentVersion:
    """A new version, unless someone saved since ``base_version`` (VersionConflict with the latest) or
    nothing changed (the latest is returned, so autosave does not pile up identical versions)."""
    require_right(user, document, Collaborator.Right.EDIT)
    if document.is_fixed:
        raise DocumentNotEditable(FIXED_NOT_EDITABLE)
    cleaned = clean_document_html(html)
    with transaction.atomic():
        locked = _locked(document.pk)
        _require_editable(locked)
        latest = locked.latest()
        if base_version != locked.current_version:
            raise VersionConflict(
                base_version=base_version, current_version=locked.current_version, current_html=latest.html
            )
        if latest.sha256 == sha256_hex(cleaned):
            return latest
        version = _add_version(locked, cleaned, user)
        record_event(
            "document_saved",
            locked,
            context,
            organization=locked.organization,
            document_sha256=version.sha256,
            payload={"version": version.number},
        )
    return version


def restore_version(document: Document, user: User, number: int, context: RequestContext) -> DocumentVersion:
    """An old version becomes the newest one (history is kept: nothing is deleted)."""
    require_right(user, document, Collaborator.Right.EDIT)
    with transaction.atomic():
        locked = _locked(document.pk)
        _require_editable(locked)
        old = locked.versions.get(number=number)
        version = _add_version(locked, old.html, user, restored_from=number)
        record_event(
            "document_restored",
            locked,
            context,
            organization=locked.organization,
            document_sha256=version.sha256,
            payload={"version": version.number, "restored_from": number},
        )
    return version


PAGE_FIELDS = ("language", "page_size", "header", "footer", "margins")


def _margin_text(name: str, text: str) -> str:
    """A header or footer: one line of user text that the renderer's CSS string accepts as well."""
    from econtract.documents.rendering import RenderError, css_string

    try:
        cleaned = clean_text(text, TextKind.LINE, field=name, max_length=200)
        css_string(cleaned)  # refuses format, private-use and unassigned characters too
    except UnsafeText as exc:
        raise InvalidDocument(str(exc), code="unsafe_text") from exc
    except RenderError as exc:
        raise InvalidDocument(f"{name}: {exc.detail}", code=exc.code) from exc
    return cleaned


def _margins(given: Mapping[str, Any], current: Mapping[str, int]) -> dict[str, int]:
    unknown = set(given) - set(MARGIN_SIDES)
    if unknown:
        raise InvalidDocument(f"margins are {', '.join(MARGIN_SIDES)}, not {sorted(unknown)[0]}")
    margins = dict(current)
    for side, value in given.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not MARGIN_MIN_MM <= value <= MARGIN_MAX_MM
        ):
            raise InvalidDocument(
                f"the {side} margin is a whole number of {MARGIN_MIN_MM} to {MARGIN_MAX_MM} mm",
                code="invalid_page_setup",
            )
        margins[side] = value
    return margins


def update_settings(
    document: Document,
    user: User,
    *,
    context: RequestContext,
    title: str | None = None,
    kind: str | None = None,
    language: str | None = None,
    page_size: str | None = None,
    header: str | None = None,
    footer: str | None = None,
    margins: Mapping[str, Any] | None = None,
) -> Document:
    """Change the title, kind and page setup (what is None is kept). A final document is not changed;
    a fixed one (an imported PDF) keeps its pages: only its title and kind change."""
    require_right(user, document, Collaborator.Right.EDIT)
    wanted: dict[str, Any] = {}
    if title is not None:
        try:
            wanted["title"] = clean_text(title, TextKind.LINE, field="title", max_length=300)
        except UnsafeText as exc:
            raise InvalidDocument(str(exc), code="unsafe_text") from exc
        if not wanted["title"]:
            raise InvalidDocument("a document needs a title")
    if kind is not None:
        if kind not in DocumentKind.values:
            raise InvalidDocument(f"kind must be one of {', '.join(DocumentKind.values)}")
        wanted["kind"] = kind
    if language is not None:
        if language not in LANGUAGES:
            raise InvalidDocument(
                f"language must be one of {', '.join(LANGUAGES)}", code="invalid_page_setup"
            )
        wanted["language"] = language
    if page_size is not None:
        if page_size not in PageSize.values:
            raise InvalidDocument(
                f"page size must be one of {', '.join(PageSize.values)}", code="invalid_page_setup"
            )
        wanted["page_size"] = page_size
    if header is not None:
        wanted["header"] = _margin_text("header", header)
    if footer is not None:
        wanted["footer"] = _margin_text("footer", footer)
    with transaction.atomic():
        locked = _locked(document.pk)
        if locked.status == Document.Status.FINAL:
            raise DocumentNotEditable("the document is final; reopen it as a draft to change it")
        if margins is not None:
            wanted["margins"] = _margins(margins, locked.margins)
        current = {name: locked.margins if name == "margins" else getattr(locked, name) for name in wanted}
        changed = [name for name in wanted if wanted[name] != current[name]]
        if locked.is_fixed and any(name in PAGE_FIELDS for name in changed):
            raise DocumentNotEditable("a PDF document is fixed; its page setup cannot be changed")
        if not changed:
            return locked
        update_fields = ["updated_at"]
        for name in changed:
            if name == "margins":
                for side, value in wanted["margins"].items():
                    setattr(locked, f"margin_{side}", value)
                    update_fields.append(f"margin_{side}")
            else:
                setattr(locked, name, wanted[name])
                update_fields.append(name)
        locked.save(update_fields=update_fields)
        record_event(
            "document_settings_changed",
            locked,
            context,
            organization=locked.organization,
            document_sha256=locked.latest().sha256,
            payload={"fields": changed, "version": locked.current_version},
        )
        # the preview pictures were laid out with the old setup: drop them once this is stored
        transaction.on_commit(lambda: _drop_previews(locked))
    return locked


def _drop_previews(document: Document) -> None:
    """Remove the stored preview PDFs and pictures (documents.previews) of every version."""
    folder = f"documents/previews/{document.pk}"
    try:
        _dirs, files = default_storage.listdir(folder)
        for name in files:
            default_storage.delete(f"{folder}/{name}")
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError:
        logger.warning("could not drop %s", folder, exc_info=True)


TRANSITIONS = {
    Document.Status.DRAFT: {Document.Status.IN_REVIEW, Document.Status.FINAL},
    Document.Status.IN_REVIEW: {Document.Status.DRAFT, Document.Status.FINAL},
    Document.Status.FINAL: {Document.Status.DRAFT},
}


def set_status(document: Document, user: User, status: str, context: RequestContext) -> Document:
    require_right(user, document, MANAGE)
    with transaction.atomic():
        locked = _locked(document.pk)
        if status not in TRANSITIONS.get(locked.status, set()):
            raise InvalidDocument(f"a {locked.status} document cannot become {status}", code="invalid_status")
        previous, locked.status = locked.status, status
        locked.save(update_fields=["status", "updated_at"])
        record_event(
            "document_status_changed",
            locked,
            context,
            organization=locked.organization,
            document_sha256=locked.latest().sha256,
            payload={"from": previous, "to": status, "version": locked.current_version},
        )
    return locked


# --- sharing and comments ------------------------------------------------------------------------


def share(document: Document, user: User, *, email: str, right: str, context: RequestContext) -> Collaborator:
    require_right(user, document, MANAGE)
    if right not in Collaborator.Right.values:
        raise InvalidDocument(f"right must be one of {', '.join(Collaborator.Right.values)}")
    invitee = User.objects.filter(email__iexact=email.strip()).first()
    if invitee is None:
        raise InvalidDocument(
            "no account has this email address; invite the person first", code="unknown_user"
        )
    with transaction.atomic():
        collaborator, _created = Collaborator.objects.update_or_create(
            document=document, user=invitee, defaults={"right": right, "added_by": user}
        )
        record_event(
            "document_shared",
            document,
            context,
            organization=document.organization,
            payload={"user": str(invitee.pk), "right": right},
        )
    return collaborator


def unshare(document: Document, user: User, *, collaborator_user_id: Any, context: RequestContext) -> None:
    require_right(user, document, MANAGE)
    with transaction.atomic():
        removed, _ = Collaborator.objects.filter(document=document, user_id=collaborator_user_id).delete()
        if removed:
            record_event(
                "document_unshared",
                document,
                context,
                organization=document.organization,
                payload={"user": str(collaborator_user_id)},
            )


def plain_text(html: str) -> str:
    """A version's text as comments count it: the characters of its text nodes, in order, nothing added."""
    import lxml.html

    if not html.strip():
        return ""
    return str(lxml.html.fragment_fromstring(html, create_parent="div").text_content())


def anchor_in(text: str, quote: str, start: int | None, end: int | None) -> tuple[int, int]:
    """Where ``quote`` is in the version's text: at the given offsets (checked), else its first occurrence."""
    if start is not None and end is not None:
        if text[start:end] != quote:
            raise InvalidDocument(
                "the quoted passage is not at start..end of that version", code="anchor_mismatch"
            )
        return start, end
    found = text.find(quote)
    if found < 0:
        raise InvalidDocument("the quoted passage is not in that version", code="anchor_mismatch")
    return found, found + len(quote)


def add_comment(
    document: Document,
    user: User,
    *,
    body: str,
    context: RequestContext,
    version: int | None = None,
    quote: str = "",
    start: int | None = None,
    end: int | None = None,
    parent_id: Any = None,
) -> Comment:
    require_right(user, document, Collaborator.Right.COMMENT)
    text = clean_text(body, TextKind.LINES, field="body", max_length=MAX_COMMENT)
    if not text:
        raise InvalidDocument("a comment needs some text")
    quoted = clean_text(quote, TextKind.LINES, field="quote", max_length=500)
    number = version or document.current_version
    anchored = document.versions.filter(number=number).first()
    if anchored is None:
        raise InvalidDocument(f"the document has no version {number}")
    if (start is None) != (end is None) or (start is not None and end is not None and not 0 <= start <= end):
        raise InvalidDocument("start and end mark a passage: both or neither, start ≤ end")
    if parent_id is None and quoted:
        start, end = anchor_in(plain_text(anchored.html), quoted, start, end)
    parent = None
    if parent_id is not None:
        parent = Comment.objects.filter(pk=parent_id, document=document, parent__isnull=True).first()
        if parent is None:
            raise InvalidDocument("a reply answers a comment of the same document")
    with transaction.atomic():
        comment = Comment.objects.create(
            document=document,
            version=parent.version if parent else number,
            parent=parent,
            quote="" if parent else quoted,
            start=None if parent else start,
            end=None if parent else end,
            body=text,
            author=user,
        )
        record_event(
            "document_commented",
            document,
            context,
            organization=document.organization,
            payload={"comment": str(comment.pk), "reply_to": str(parent.pk) if parent else None},
        )
    return comment


def resolve_comment(document: Document, user: User, comment_id: Any, context: RequestContext) -> Comment:
    require_right(user, document, Collaborator.Right.COMMENT)
    with transaction.atomic():
        comment = Comment.objects.select_for_update().get(
            pk=comment_id, document=document, parent__isnull=True
        )
        if comment.resolved_at is None:
            comment.resolved_at, comment.resolved_by = timezone.now(), user
            comment.save(update_fields=["resolved_at", "resolved_by"])
            record_event(
                "document_comment_resolved",
                document,
                context,
                organization=document.organization,
                payload={"comment": str(comment.pk)},
            )
    return comment


# --- reading: diff and rendering -------------------------------------------------------------------


def diff_versions(document: Document, user: User, old: int, new: int) -> Any:
    """A readable diff (documents.textdiff) between two versions she may view."""
    from econtract.documents.textdiff import DiffTooLarge, diff_html

    require_right(user, document, Collaborator.Right.VIEW)
    versions = {v.number: v for v in document.versions.filter(number__in=[old, new])}
    missing = [n for n in (old, new) if n not in versions]
    if missing:
        raise InvalidDocument(f"the document has no version {missing[0]}", code="unknown_version")
    try:
        return diff_html(versions[old].html, versions[new].html)
    except DiffTooLarge as exc:
        raise InvalidDocument(str(exc), code="diff_too_large") from exc


def render_version(document: Document, user: User | None, number: int | None = None) -> Any:
    """The version as PDF (documents.rendering): same version, same bytes."""
    from econtract.documents.placeholders import PlaceholderError, render_fields
    from econtract.documents.rendering import PageSetup, RenderError, render_pdf

    if user is not None:
        require_right(user, document, Collaborator.Right.VIEW)
    version = document.versions.get(number=number or document.current_version)
    if document.is_fixed:
        return _fixed_pdf(document)
    setup = PageSetup(
        size="Letter" if document.page_size == "Letter" else "A4",
        margin_mm=(
            float(document.margin_top),
            float(document.margin_right),
            float(document.margin_bottom),
            float(document.margin_left),
        ),
        header=document.header,
        footer=document.footer,
        language="en" if document.language == "en" else "zh-hans",
    )
    try:
        body = render_fields(clean_document_html(version.html))
    except PlaceholderError as exc:
        raise InvalidDocument(str(exc), code=exc.code, offset=getattr(exc, "offset", None)) from exc
    try:
        return render_pdf(body, title=document.title, setup=setup, created=version.created_at)
    except RenderError as exc:
        raise InvalidDocument(str(exc), code=getattr(exc, "code", "render_failed")) from exc


def _fixed_pdf(document: Document) -> Any:
    """The stored PDF of a fixed document, as a rendering without fields (the sender places them)."""
    from econtract.documents.rendering import PAGE_SIZES_PT, RenderedDocument

    with default_storage.open(document.fixed_pdf_name, "rb") as handle:
        pdf: bytes = handle.read()
    digest = hashlib.sha256(pdf).hexdigest()
    if digest != document.fixed_pdf_sha256:
        raise InvalidDocument(
            "the stored PDF of this document has changed since it was imported", code="fixed_pdf_damaged"
        )
    size = document.fixed_pdf_page_size
    return RenderedDocument(
        pdf=pdf,
        sha256=digest,
        page_count=document.fixed_pdf_pages,
        fields=[],
        page_size=(float(size[0]), float(size[1])) if len(size) == 2 else PAGE_SIZES_PT["A4"],
    )


# --- import and export -----------------------------------------------------------------------------

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def import_file(
    user: User, organization: Organization, *, filename: str, data: bytes, title: str, context: RequestContext
) -> tuple[Document, list[str]]:
    """A new draft from a DOCX (mammoth) or an HTML file, or a fixed document from a PDF; the messages
    say what could not be kept."""
    from econtract.documents.docx_io import DocxError, import_docx, import_html

    messages: list[str] = []
    stem = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if data.startswith(b"%PDF-") or filename.lower().endswith(".pdf"):
        document = create_document(
            user,
            organization,
            title=title or stem or "Imported",
            kind=DocumentKind.CONTRACT,
            html="",
            context=context,
            fixed_pdf=data,
        )
        return document, messages
    if data.startswith(b"PK\x03\x04"):
        try:
            imported = import_docx(data)
        except DocxError as exc:
            raise InvalidDocument(exc.detail, code=exc.code) from exc
        html, messages = imported.html, imported.messages
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidDocument(
                "the file is neither a DOCX nor UTF-8 HTML", code="unsupported_file"
            ) from exc
        html = import_html(clean_text(text, TextKind.LINES, field="html"))
    document = create_document(
        user,
        organization,
        title=title or stem or "Imported",
        kind=DocumentKind.CONTRACT,
        html=html,
        context=context,
    )
    return document, messages


def export_docx(document: Document, user: User) -> bytes:
    """The latest version as DOCX (python-docx); the same version gives the same bytes."""
    from econtract.documents.docx_io import export_docx as write

    require_right(user, document, Collaborator.Right.VIEW)
    if document.is_fixed:
        raise InvalidDocument("a PDF document has no DOCX: download its PDF", code="fixed_document")
    version = document.latest()
    try:
        return write(version.html, title=document.title, timestamp=version.created_at)
    except ValueError as exc:  # UnsafeHtml, or text Word's XML cannot hold (stored before today's checks)
        raise InvalidDocument(f"this version cannot be written as DOCX: {exc}", code="export_failed") from exc

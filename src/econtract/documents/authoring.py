"""The verbs of documents written on the platform: create, save (every save a version, optimistic
locking), restore, review status, sharing, comments, diff and rendering (docs/documents.md).

Who may do what is decided here, in ``right_of``: the creator and the organisation's owner, admins and
legal *manage* (edit, share, change status); a collaborator has the right she was given (view, comment,
edit). Every step that changes a document is an evidence event.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import transaction
from django.utils import timezone

from econtract.accounts.errors import NotPermitted
from econtract.accounts.models import Membership, Organization, User
from econtract.accounts.permissions import MANAGE_ALL_ROLES
from econtract.documents.errors import DocumentNotEditable, InvalidDocument, VersionConflict
from econtract.documents.models import Collaborator, Comment, Document, DocumentKind, DocumentVersion
from econtract.evidence.services import RequestContext, record_event
from econtract.textinput import TextKind, UnsafeText, clean_text

MANAGE = "manage"
RIGHTS_ORDER = {
    Collaborator.Right.VIEW: 1,
    Collaborator.Right.COMMENT: 2,
    Collaborator.Right.EDIT: 3,
    MANAGE: 4,
}
MAX_COMMENT = 5000


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
) -> Document:
    if not Membership.objects.filter(organization=organization, user=user).exists():
        raise NotPermitted("you may create documents only in your own organisations")
    if kind not in DocumentKind.values:
        raise InvalidDocument(f"kind must be one of {', '.join(DocumentKind.values)}")
    cleaned_title = clean_text(title, TextKind.LINE, field="title", max_length=300)
    if not cleaned_title:
        raise InvalidDocument("a document needs a title")
    cleaned = clean_document_html(html)
    with transaction.atomic():
        document = Document.objects.create(
            organization=organization,
            created_by=user,
            title=cleaned_title,
            kind=kind,
            template=template,
            language=language if language in ("zh-hans", "en") else "zh-hans",
        )
        version = _add_version(document, cleaned, user)
        record_event(
            "document_created",
            document,
            context,
            organization=organization,
            document_sha256=version.sha256,
            payload={
                "title": cleaned_title,
                "kind": kind,
                "template": str(template.pk) if template else None,
            },
        )
    return document


def save_version(
    document: Document, user: User, *, html: str, base_version: int, context: RequestContext
) -> DocumentVersion:
    """A new version, unless someone saved since ``base_version`` (VersionConflict with the latest) or
    nothing changed (the latest is returned, so autosave does not pile up identical versions)."""
    require_right(user, document, Collaborator.Right.EDIT)
    cleaned = clean_document_html(html)
    with transaction.atomic():
        locked = _locked(document.pk)
        if locked.status == Document.Status.FINAL:
            raise DocumentNotEditable("the document is final; reopen it as a draft to change it")
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
        if locked.status == Document.Status.FINAL:
            raise DocumentNotEditable("the document is final; reopen it as a draft to change it")
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
    setup = PageSetup(
        size="Letter" if document.page_size == "Letter" else "A4",
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


# --- import and export -----------------------------------------------------------------------------

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def import_file(
    user: User, organization: Organization, *, filename: str, data: bytes, title: str, context: RequestContext
) -> tuple[Document, list[str]]:
    """A new draft from a DOCX (mammoth) or an HTML file; the messages say what could not be kept."""
    from econtract.documents.docx_io import DocxError, import_docx, import_html

    messages: list[str] = []
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
    stem = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
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
    version = document.latest()
    try:
        return write(version.html, title=document.title, timestamp=version.created_at)
    except ValueError as exc:  # UnsafeHtml, or text Word's XML cannot hold (stored before today's checks)
        raise InvalidDocument(f"this version cannot be written as DOCX: {exc}", code="export_failed") from exc

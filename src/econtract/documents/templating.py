"""Templates: HTML with placeholders read only by documents.placeholders (never a template engine), the
organisation's library beside the built-in ones, and new documents filled from them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from econtract.accounts.errors import NotPermitted
from econtract.accounts.models import Membership, Organization, User
from econtract.documents.authoring import clean_document_html, create_document
from econtract.documents.errors import InvalidDocument
from econtract.documents.models import Document, DocumentKind, Template
from econtract.evidence.services import RequestContext, record_event
from econtract.textinput import TextKind, clean_text


def _parsed(html: str) -> Any:
    from econtract.documents.placeholders import PlaceholderError, parse

    try:
        return parse(html)
    except PlaceholderError as exc:
        raise InvalidDocument(str(exc), code=exc.code, offset=getattr(exc, "offset", None)) from exc


def template_spec(html: str) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The variables a form asks for and the signer fields, as the API returns them."""
    from econtract.documents.placeholders import variables_form_spec

    parsed = _parsed(html)
    fields = [{"kind": f.kind, "party": f.party, "name": f.name} for f in parsed.fields]
    return variables_form_spec(parsed), fields


def create_template(
    user: User,
    organization: Organization,
    *,
    title: str,
    html: str,
    context: RequestContext,
    kind: str = DocumentKind.CONTRACT,
    language: str = "zh-hans",
    description: str = "",
) -> Template:
    if not Membership.objects.filter(organization=organization, user=user).exists():
        raise NotPermitted("you may add templates only to your own organisations' libraries")
    if kind not in DocumentKind.values:
        raise InvalidDocument(f"kind must be one of {', '.join(DocumentKind.values)}")
    cleaned = clean_document_html(html)  # first: placeholders are read from what will be stored
    variables, fields = template_spec(cleaned)
    with transaction.atomic():
        template = Template.objects.create(
            organization=organization,
            title=clean_text(title, TextKind.LINE, field="title", max_length=300) or "Template",
            kind=kind,
            language=language if language in ("zh-hans", "en") else "zh-hans",
            description=clean_text(description, TextKind.LINES, field="description", max_length=2000),
            html=cleaned,
            variables=variables,
            fields=fields,
            created_by=user,
        )
        record_event(
            "template_created",
            template,
            context,
            organization=organization,
            payload={"title": template.title, "variables": len(variables), "fields": len(fields)},
        )
    return template


def usable_template(user: Any, template_id: Any) -> Template:
    return Template.objects.usable_by(user).get(pk=template_id)


def document_from_template(
    template: Template,
    user: User,
    organization: Organization,
    *,
    values: Mapping[str, Any],
    context: RequestContext,
    title: str = "",
) -> Document:
    """A new draft: the template's variables filled (escaped), its signer fields left as placeholders
    (`{{ signature: buyer }}`), which rendering lays out as fields."""
    from econtract.documents.placeholders import PlaceholderError, fill

    try:
        html = fill(template.html, values, keep_fields=True)  # fields stay placeholders: editable anywhere
    except PlaceholderError as exc:
        raise InvalidDocument(str(exc), code=exc.code) from exc
    return create_document(
        user,
        organization,
        title=title or template.title,
        kind=template.kind,
        html=html,
        context=context,
        template=template,
        language=template.language,
    )

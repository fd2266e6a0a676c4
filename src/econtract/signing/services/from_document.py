"""Send a final document for signing: its latest version rendered to PDF, each field placeholder a field
of the party whose role it names, at the exact box where it was laid out (documents.rendering).

A fixed document (an imported PDF) has no placeholders: its parties come without fields, and the sender
places them in the step-1 field editor of the draft envelope."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction

from econtract.accounts.models import User
from econtract.documents import authoring
from econtract.documents.errors import DocumentNotFinal
from econtract.documents.models import Document
from econtract.evidence.services import RequestContext, record_event
from econtract.signing.errors import InvalidEnvelope
from econtract.signing.models import Envelope
from econtract.signing.services.envelopes import FieldSpec, PartySpec, create_envelope

if TYPE_CHECKING:
    from econtract.documents.rendering import RenderedDocument

# A placeholder's kind as a field kind; a party's mark follows her kind (a person signs, an organisation seals).
PLACEHOLDER_KINDS = {
    "signature": "signature",
    "seal": "seal",
    "initials": "initials",
    "date_signed": "date_signed",
    "text": "text",
    "number": "number",
    "checkbox": "checkbox",
}


def envelope_from_document(
    document: Document,
    user: User,
    *,
    parties: Mapping[str, PartySpec],
    context: RequestContext,
    title: str = "",
    **envelope_options: Any,
) -> Envelope:
    """A draft envelope of the document's latest version; ``parties`` by the template's role names.

    The document must be final: what is signed is what was reviewed. Every role with a field needs a
    party, and every party given must have a field (a party with nothing to sign is a mistake); a fixed
    document's roles are only labels, and its parties get their fields in the step-1 editor."""
    authoring.require_right(user, document, authoring.MANAGE)
    if document.status != Document.Status.FINAL:
        raise DocumentNotFinal("mark the document final before sending it for signing")
    rendered = authoring.render_version(document, user)
    roles = list(parties)
    if document.is_fixed:
        if not roles:
            raise InvalidEnvelope("give at least one party")
        fields: list[FieldSpec] = []
    else:
        fields = _fields_of(rendered, roles)
    with transaction.atomic():
        envelope = create_envelope(
            organization=document.organization,
            created_by=user,
            title=title or document.title,
            pdf=rendered.pdf,
            parties=[parties[role] for role in roles],
            fields=_distinct_date_names(fields),
            context=context,
            **envelope_options,
        )
        record_event(
            "document_sent_for_signing",
            document,
            context,
            organization=document.organization,
            document_sha256=rendered.sha256,
            payload={"envelope": str(envelope.pk), "version": document.current_version},
        )
    return envelope


def _fields_of(rendered: RenderedDocument, roles: Sequence[str]) -> list[FieldSpec]:
    """Each laid-out placeholder a field of the party with its role; a role without a field, or a field
    without a party, is refused."""
    index = {role: number for number, role in enumerate(roles)}
    fields: list[FieldSpec] = []
    for box in rendered.fields:
        if box.party not in index:
            raise InvalidEnvelope(
                f"the document has a {box.kind} field for {box.party}: give a party with that role"
            )
        fields.append(
            FieldSpec(
                party=index[box.party],
                page=box.page,
                x=box.x,
                y=box.y,
                width=box.width,
                height=box.height,
                kind=PLACEHOLDER_KINDS[box.kind],
                name=box.name if box.kind in ("date_signed", "text", "number", "checkbox") else "",
            )
        )
    unused = [role for role in roles if role not in {box.party for box in rendered.fields}]
    if unused:
        raise InvalidEnvelope(f"the document has no field for the role {unused[0]}")
    return fields


def _distinct_date_names(fields: Sequence[FieldSpec]) -> list[FieldSpec]:
    """A date_signed placeholder repeated for one role is one field name in the template; in the PDF each
    placement is a field of its own (they are filled with the same date)."""
    from dataclasses import replace

    seen: dict[str, int] = {}
    result = []
    for spec in fields:
        if spec.kind == "date_signed" and spec.name:
            seen[spec.name] = seen.get(spec.name, 0) + 1
            if seen[spec.name] > 1:
                spec = replace(spec, name=f"{spec.name}_{seen[spec.name]}")
        result.append(spec)
    return result

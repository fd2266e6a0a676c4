"""Envelope endpoints. Thin: parse, scope, call signing.services, shape the answer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal, cast
from uuid import UUID

from django.conf import settings
from django.db.models import Q
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import BaseModel, Field, FiniteFloat, ValidationError, model_validator

from econtract.accounts.models import User
from econtract.api.auth import acting_organization
from econtract.api.openapi import json_part_schema, responses
from econtract.api.pagination import InvalidCursor, PageQuery, decode_cursor, encode_cursor
from econtract.evidence.issuance import IssuedEvidence, issue_package, issue_report
from econtract.evidence.log import integrate_pending
from econtract.evidence.models import Event, Leaf
from econtract.evidence.services import RequestContext
from econtract.jsoninput import JsonRefused, JsonTooLarge, format_path, load_json
from econtract.masking import mask_email, mask_phone
from econtract.notifications.services import public_status
from econtract.signing import services
from econtract.signing.errors import InvalidEnvelope
from econtract.signing.models import Envelope, Party
from econtract.signing.services import willingness
from econtract.textinput import MultiLineText, SingleLineText

router = Router(tags=["envelopes"])


WillingnessMethod = Literal["email_otp", "sms_otp", "totp", "webauthn"]


def _default_willingness() -> list[WillingnessMethod]:
    return ["email_otp"]


class PartyIn(BaseModel):
    kind: Literal["person", "organization"] = Field(
        default="person",
        description="person signs with her own signature; organization with one of its seals, applied by "
        "the member `email` names (or unattended: `automatic`)",
    )
    name: SingleLineText = Field(min_length=1, max_length=200)
    email: SingleLineText = Field(
        default="",
        max_length=254,
        description="The person who signs; for an organisation, the member who applies its seal. "
        "Optional for an automatic party (it then only receives the signed contract)",
    )
    organization_uscc: SingleLineText = Field(
        default="",
        max_length=32,
        description="kind organization: its unified social credit code (18 characters)",
    )
    automatic: bool = Field(
        default=False,
        description="kind organization: signed by the platform with `seal_id` under the sending "
        "organisation's automatic-signing grant (only the sender's own seal)",
    )
    seal_id: UUID | None = Field(default=None, description="automatic parties: the seal to apply")
    order: int = Field(default=1, ge=1, le=100)
    phone: SingleLineText = Field(
        default="",
        max_length=32,
        description="Mobile number (E.164, or a mainland number); needed for sms_otp",
    )
    min_assurance: Literal["L1", "L2", "L3"] | None = Field(
        default=None,
        description="Identity assurance the party must reach before signing; the platform's minimum "
        "(ECONTRACT_MIN_SIGNING_ASSURANCE) applies when it is higher, and when this is left out",
    )
    willingness: WillingnessMethod | list[WillingnessMethod] = Field(
        default_factory=_default_willingness,
        description="Willingness checks, all required at signing; totp and webauthn require the party "
        "to sign with an account",
    )


class FieldIn(BaseModel):
    kind: Literal[
        "signature", "seal", "cross_page_seal", "initials", "date_signed", "text", "number", "checkbox"
    ] = Field(
        default="signature",
        description="signature and initials (person parties), seal or cross_page_seal (organisation "
        "parties): her mark; a cross_page_seal gives only y and height: it is split in strips along every "
        "page's right edge. date_signed, text, number, checkbox (any party): form fields she fills when "
        "she signs (`values` of the sign request), locked by her signature",
    )
    name: SingleLineText = Field(
        default="",
        max_length=64,
        description="date_signed, text, number, checkbox: the PDF field name (a letter, then letters, digits "
        "or _), unique in the envelope; default <kind>_<party number>_<n>",
    )
    label: SingleLineText = Field(default="", max_length=200, description="what the signing page asks")
    required: bool = Field(
        default=True, description="text, number, checkbox: she must fill (tick) it to sign"
    )
    party: int = Field(ge=0)
    page: int | None = Field(default=None, ge=1, description="not for cross_page_seal")
    x: FiniteFloat | None = Field(default=None, description="not for cross_page_seal")
    y: FiniteFloat
    width: FiniteFloat | None = Field(default=None, description="not for cross_page_seal")
    height: FiniteFloat

    @model_validator(mode="after")
    def _placed(self) -> FieldIn:
        given = [name for name in ("page", "x", "width") if getattr(self, name) is not None]
        if self.kind == "cross_page_seal":
            if given:
                raise ValueError(f"a cross_page_seal derives {', '.join(given)}: give only y and height")
        elif len(given) < 3:
            raise ValueError("page, x, y, width and height are required")
        return self


class EnvelopeSpec(BaseModel):
    title: SingleLineText = Field(min_length=1, max_length=300)
    deadline: datetime | None = None
    amount: Decimal | None = Field(
        default=None,
        description="What the contract is worth (a decimal string or number, > 0, at most 2 decimals), "
        "so that a seal grant's max_amount can be judged",
    )
    currency: SingleLineText = Field(
        default="", max_length=3, description="ISO 4217 code (e.g. CNY); required with amount"
    )
    parties: list[PartyIn] = Field(default_factory=list, max_length=services.MAX_PARTIES)
    fields: list[FieldIn] = Field(default_factory=list, max_length=services.MAX_FIELDS)


class PartyOut(Schema):
    id: UUID
    kind: str = "person"
    name: str
    email: str
    organization_uscc: str = ""
    automatic: bool = False
    seal_id: UUID | None = None  # the seal of an automatic party
    order: int
    status: str
    signed_at: datetime | None = None
    phone: str = ""
    min_assurance: str  # what the sender asked
    required_assurance: str  # the higher of that and the platform's minimum, now
    willingness: list[str]
    # Of the party's latest signing-link email: none, queued, retrying, sent or failed (with the error).
    notification_status: str = "none"
    notification_error: str = ""


class FieldOut(Schema):
    id: UUID
    party_id: UUID
    kind: str
    page: int
    x: float
    y: float
    width: float
    height: float
    name: str = Field(description="the PDF field name of a field she fills; empty for marks")
    label: str = ""
    required: bool = True
    value: str = Field("", description="what she filled (checkbox: Yes or Off), once she has signed")


class EnvelopeOut(Schema):
    id: UUID
    title: str
    status: str
    deadline: datetime | None = None
    created_at: datetime
    sent_at: datetime | None = None
    completed_at: datetime | None = None
    original_sha256: str
    current_sha256: str
    page_count: int
    amount: str | None = None  # a decimal string with 2 places
    currency: str = ""
    parties: list[PartyOut]
    fields: list[FieldOut]


class EventOut(Schema):
    id: UUID
    leaf_index: int | None = Field(None, description="Position in the transparency log; null while queued")
    subject: str = Field(description="subject_type:subject_id, as hashed in event_hash")
    sequence: int
    kind: str
    occurred_at: datetime
    actor: str
    ip_address: str | None = None
    user_agent: str
    document_sha256: str
    payload: dict
    actor_id: str | None = Field(None, description="The acting user's id, as hashed in event_hash")
    organization: str | None = None
    event_hash: str
    previous_hash: str


class ReasonIn(Schema):
    reason: MultiLineText = Field(default="", max_length=2000)


class SignIn(Schema):
    otp: str = Field(default="", description="The emailed code (willingness email_otp)")
    pin: str
    sms_otp: str = Field(default="", description="The texted code (willingness sms_otp)")
    totp: str = Field(default="", description="The authenticator app's code (willingness totp)")
    webauthn: dict | None = Field(
        default=None, description="The passkey assertion (willingness webauthn), as the browser returns it"
    )
    signature_id: UUID | None = Field(
        default=None,
        description="A person party: one of her signatures (GET /me/signatures); else her default one, "
        "else her verified name in a handwriting font",
    )
    seal_id: UUID | None = Field(
        default=None,
        description="An organisation party (required): a seal of that organisation she holds a live grant for",
    )
    values: dict[str, str | bool | int] = Field(
        default_factory=dict,
        max_length=200,
        description="The fields she fills, by name (GET …/parties/{party_id}/fields): text as a string, "
        "numbers as digits, checkboxes true/false; date_signed fields are filled for her. A required field "
        "left empty answers 400 field_required",
    )


class OtpOut(Schema):
    sent_to: str
    expires_at: datetime
    # PublicKeyCredentialRequestOptions when the party's willingness asks for a passkey
    webauthn: dict | None = None


def envelope_out(envelope: Envelope) -> dict:
    return {
        "id": envelope.id,
        "title": envelope.title,
        "status": envelope.status,
        "deadline": envelope.deadline,
        "created_at": envelope.created_at,
        "sent_at": envelope.sent_at,
        "completed_at": envelope.completed_at,
        "original_sha256": envelope.original_sha256,
        "current_sha256": envelope.current_document().sha256,
        "page_count": envelope.page_count,
        "amount": str(envelope.amount) if envelope.amount is not None else None,
        "currency": envelope.currency,
        "parties": parties_out(envelope, list(envelope.parties.all())),
        "fields": list(envelope.fields.all()),
    }


def parties_out(envelope: Envelope, parties: list[Party]) -> list[dict]:
    mails = services.turn_notifications(envelope)
    shaped = []
    for party in parties:
        mail = mails.get(str(party.id))
        shaped.append(
            {
                "id": party.id,
                "kind": party.kind,
                "name": party.name,
                "email": party.email,
                "organization_uscc": party.organization_uscc,
                "automatic": party.automatic_seal_id is not None,
                "seal_id": party.automatic_seal_id,
                "order": party.order,
                "status": party.status,
                "signed_at": party.signed_at,
                "phone": party.phone,
                "min_assurance": party.min_assurance,
                "required_assurance": str(willingness.effective_level(party)),
                "willingness": list(willingness.party_willingness(party)),
                "notification_status": public_status(mail),
                "notification_error": mail.last_error if mail is not None else "",
            }
        )
    return shaped


def _user(request: HttpRequest) -> User:
    """The authenticated caller; every route here requires authentication (API key or session)."""
    return cast(User, request.user)


def _visible(request: HttpRequest, envelope_id: UUID) -> Envelope:
    return get_object_or_404(Envelope.objects.visible_to(_user(request)), pk=envelope_id)


SPEC_DESCRIPTION = (
    "The envelope as a JSON object (this schema), sent as the text of the `spec` form field: "
    "title, optional deadline, optional amount and currency, parties (signing order: lower first, "
    "equal in parallel; a person, or an organisation signing with its seal) and fields (`party` indexes "
    "`parties`; `page` from 1; PDF points, origin lower-left; kind signature, seal or cross_page_seal)."
)


def _party_spec(p: PartyIn) -> services.PartySpec:
    return services.PartySpec(
        name=p.name,
        email=p.email,
        order=p.order,
        phone=p.phone,
        min_assurance=p.min_assurance or "",
        willingness=tuple([p.willingness] if isinstance(p.willingness, str) else p.willingness),
        kind=p.kind,
        organization_uscc=p.organization_uscc,
        automatic=p.automatic,
        seal_id=p.seal_id,
    )


@router.post(
    "/envelopes",
    response=responses({201: EnvelopeOut}, 400, 401, 403, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {"properties": {"spec": json_part_schema(EnvelopeSpec, SPEC_DESCRIPTION)}},
                }
            }
        }
    },
)
def create_envelope(request: HttpRequest, document: File[UploadedFile], spec: Form[str]) -> Status:
    """Upload a PDF with its parties and signature fields; the envelope starts as a draft."""
    try:
        parsed = EnvelopeSpec.model_validate(load_json(spec))
    except JsonTooLarge:
        raise
    except JsonRefused as exc:
        raise InvalidEnvelope(f"spec is not valid: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{format_path(e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise InvalidEnvelope(f"spec is not valid: {problems}") from exc
    data = document.read(settings.ECONTRACT_MAX_UPLOAD_BYTES + 1)
    envelope = services.create_envelope(
        organization=acting_organization(request),
        created_by=_user(request),
        title=parsed.title,
        pdf=data,
        parties=[_party_spec(p) for p in parsed.parties],
        fields=[
            services.FieldSpec(
                party=f.party,
                # a cross-page seal's page, x and width are derived from the document
                page=f.page or 1,
                x=f.x if f.x is not None else 0.0,
                y=f.y,
                width=f.width if f.width is not None else 0.0,
                height=f.height,
                kind=f.kind,
                name=f.name,
                label=f.label,
                required=f.required,
            )
            for f in parsed.fields
        ],
        deadline=parsed.deadline,
        amount=parsed.amount,
        currency=parsed.currency,
        context=RequestContext.from_request(request),
    )
    return Status(201, envelope_out(envelope))


class EnvelopePage(Schema):
    items: list[EnvelopeOut]
    next_cursor: str | None = None


class EventPage(Schema):
    items: list[EventOut]
    next_cursor: str | None = None


@router.get("/envelopes", response=responses({200: EnvelopePage}, 400, 401, 422))
def list_envelopes(request: HttpRequest, page: PageQuery, status: Envelope.Status | None = None) -> dict:
    """Envelopes visible to the caller, newest first, ``limit`` at a time (keyset on created_at, id)."""
    # An envelope status or nothing: free text reached the query, and PostgreSQL answers NUL with a 500.
    query = Envelope.objects.visible_to(_user(request)).order_by("-created_at", "-id")
    if status:
        query = query.filter(status=status)
    if page.cursor:
        created, envelope_id = _envelope_cursor(page.cursor)
        query = query.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=envelope_id))
    rows = list(query[: page.limit + 1])
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = (
        encode_cursor("envelopes", [rows[-1].created_at.isoformat(), rows[-1].id.hex]) if more else None
    )
    return {"items": [envelope_out(e) for e in rows], "next_cursor": next_cursor}


def _envelope_cursor(cursor: str) -> tuple[datetime, UUID]:
    created, envelope_id = decode_cursor("envelopes", cursor, 2)
    try:
        parsed = datetime.fromisoformat(str(created))
        if parsed.tzinfo is None:
            raise ValueError("no offset")
        return parsed, UUID(str(envelope_id))
    except ValueError:
        raise InvalidCursor("the cursor is not valid; use the next_cursor of a previous page") from None


@router.get("/envelopes/{envelope_id}", response=responses({200: EnvelopeOut}, 401, 404, 422))
def get_envelope(request: HttpRequest, envelope_id: UUID) -> dict:
    return envelope_out(_visible(request, envelope_id))


@router.post(
    "/envelopes/{envelope_id}/send", response=responses({200: EnvelopeOut}, 400, 401, 403, 404, 409, 422)
)
def send_envelope(request: HttpRequest, envelope_id: UUID) -> dict:
    envelope = services.send_envelope(
        _visible(request, envelope_id), _user(request), RequestContext.from_request(request)
    )
    envelope.refresh_from_db()  # an automatic party may have signed once the sending committed
    return envelope_out(envelope)


@router.post(
    "/envelopes/{envelope_id}/void", response=responses({200: EnvelopeOut}, 400, 401, 403, 404, 409, 422)
)
def void_envelope(request: HttpRequest, envelope_id: UUID, payload: ReasonIn) -> dict:
    envelope = services.void(
        _visible(request, envelope_id),
        _user(request),
        reason=payload.reason,
        context=RequestContext.from_request(request),
    )
    return envelope_out(envelope)


@router.get(
    "/envelopes/{envelope_id}/document",
    response=responses({}, 401, 404, 422),
    openapi_extra={
        "responses": {
            200: {
                "description": "The PDF; header X-Document-SHA256 is its SHA-256",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def get_document(request: HttpRequest, envelope_id: UUID) -> FileResponse:
    """The current PDF: the original, or the latest signed revision."""
    envelope = _visible(request, envelope_id)
    revision = services.document_for_download(envelope, RequestContext.from_request(request))
    response = FileResponse(revision.file.open("rb"), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{envelope.id}-v{revision.version}.pdf"'
    response["X-Document-SHA256"] = revision.sha256
    return response


def _evidence_response(issued: IssuedEvidence) -> HttpResponse:
    response = HttpResponse(issued.content, content_type=issued.content_type)
    response["Content-Disposition"] = f'attachment; filename="{issued.filename}"'
    response["X-Evidence-SHA256"] = issued.sha256
    response["X-Checkpoint-Size"] = str(issued.checkpoint_size)
    response["Cache-Control"] = "no-store"
    return response


def _binary(media_type: str, description: str) -> dict:
    return {
        "responses": {
            200: {
                "description": description,
                "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    }


@router.get(
    "/envelopes/{envelope_id}/evidence-report",
    response=responses({}, 401, 404, 422, 429, 503),
    openapi_extra=_binary(
        "application/pdf",
        "The evidence report (PDF, zh-hans and English), signed by the platform's evidence service (PAdES "
        "B-LTA); X-Evidence-SHA256 is its SHA-256, logged as an evidence_report_issued event",
    ),
)
def get_evidence_report(request: HttpRequest, envelope_id: UUID) -> HttpResponse:
    """Parties and how each was verified, willingness checks, every event up to the anchor checkpoint with
    its inclusion proof, revisions, certificate chains and revocation at signing, cosignatures."""
    envelope = _visible(request, envelope_id)
    issued = issue_report(envelope, str(_user(request).pk), RequestContext.from_request(request))
    return _evidence_response(issued)


@router.get(
    "/envelopes/{envelope_id}/evidence-package",
    response=responses({}, 401, 404, 422, 429, 503),
    openapi_extra=_binary(
        "application/zip",
        "The evidence package (econtract-evidence-package/v1): signed PDF, report, leaves, proofs, "
        "checkpoint with cosignatures and TSA token, log key, certificates, signed manifest; check it "
        "offline with `econtract verify PACKAGE.zip`",
    ),
)
def get_evidence_package(request: HttpRequest, envelope_id: UUID) -> HttpResponse:
    """Everything needed to check the envelope's evidence offline, in one zip."""
    envelope = _visible(request, envelope_id)
    issued = issue_package(envelope, str(_user(request).pk), RequestContext.from_request(request))
    return _evidence_response(issued)


def _leaf_index(event: Event) -> int | None:
    try:
        return event.leaf.index
    except Leaf.DoesNotExist:
        return None


@router.get("/envelopes/{envelope_id}/events", response=responses({200: EventPage}, 400, 401, 404, 422))
def list_events(request: HttpRequest, envelope_id: UUID, page: PageQuery) -> dict:
    """The hash-chained audit trail in chain order, ``limit`` at a time (keyset on sequence)."""
    envelope = _visible(request, envelope_id)
    integrate_pending()
    query = Event.objects.for_subject(envelope).select_related("leaf").order_by("sequence")
    if page.cursor:
        (sequence,) = decode_cursor("events", page.cursor, 1)
        if isinstance(sequence, bool) or not isinstance(sequence, int):
            raise InvalidCursor("the cursor is not valid; use the next_cursor of a previous page")
        query = query.filter(sequence__gt=sequence)
    rows = list(query[: page.limit + 1])
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    items = [
        {
            "id": e.id,
            "leaf_index": _leaf_index(e),
            "subject": f"{e.subject_type}:{e.subject_id}",
            "sequence": e.sequence,
            "kind": e.kind,
            "occurred_at": e.occurred_at,
            "actor": e.actor_label,
            "ip_address": e.ip_address,
            "user_agent": e.user_agent,
            "document_sha256": e.document_sha256,
            "payload": e.payload,
            "actor_id": str(e.actor_id) if e.actor_id else None,
            "organization": str(e.organization_id) if e.organization_id else None,
            "event_hash": e.event_hash,
            "previous_hash": e.previous_hash,
        }
        for e in rows
    ]
    return {"items": items, "next_cursor": encode_cursor("events", [rows[-1].sequence]) if more else None}


@router.post(
    "/envelopes/{envelope_id}/parties/{party_id}/otp",
    response=responses({200: OtpOut}, 401, 403, 404, 409, 422, 429),
)
def request_otp(request: HttpRequest, envelope_id: UUID, party_id: UUID) -> dict:
    """Send the willingness code to the party's email. Only the user matched to the party may ask."""
    _visible(request, envelope_id)
    party = get_object_or_404(Party, pk=party_id, envelope_id=envelope_id)
    options = None
    if willingness.WEBAUTHN in willingness.party_willingness(party) and services.user_may_act_as(
        party, _user(request)
    ):
        from econtract.identity import factors

        options = factors.begin_webauthn_assertion(_user(request), purpose="sign", subject=str(party.id))
    challenge = services.request_signing_code(
        envelope_id, party_id, _user(request), RequestContext.from_request(request), request
    )
    if challenge is None:  # no code to send: an authenticator app or a passkey only
        return {"sent_to": "", "expires_at": timezone.now(), "webauthn": options}
    sent_to = (
        mask_email(challenge.destination)
        if challenge.channel == "email"
        else mask_phone(challenge.destination)
    )
    return {"sent_to": sent_to, "expires_at": challenge.expires_at, "webauthn": options}


class FieldPage(Schema):
    items: list[FieldOut]
    next_cursor: str | None = None


@router.get(
    "/envelopes/{envelope_id}/parties/{party_id}/fields",
    response=responses({200: FieldPage}, 401, 404, 422),
)
def party_fields(request: HttpRequest, envelope_id: UUID, party_id: UUID) -> dict:
    """A party's fields: her marks (signature, seal, initials) and the fields she fills when she signs,
    with their names, labels, whether required, and (once signed) her values."""
    envelope = _visible(request, envelope_id)
    party = get_object_or_404(envelope.parties, pk=party_id)
    return {"items": list(party.fields.order_by("position", "page")), "next_cursor": None}


@router.post(
    "/envelopes/{envelope_id}/parties/{party_id}/sign",
    response=responses({200: EnvelopeOut}, 400, 401, 403, 404, 409, 422, 423, 429, 503),
)
def sign(request: HttpRequest, envelope_id: UUID, party_id: UUID, payload: SignIn) -> dict:
    _visible(request, envelope_id)
    envelope = services.sign(
        envelope_id,
        party_id,
        _user(request),
        otp=payload.otp,
        pin=payload.pin,
        sms_otp=payload.sms_otp,
        totp=payload.totp,
        webauthn=payload.webauthn,
        signature_id=payload.signature_id,
        seal_id=payload.seal_id,
        values=payload.values,
        context=RequestContext.from_request(request),
    )
    envelope.refresh_from_db()  # an automatic party after her may have signed on commit
    return envelope_out(envelope)


@router.post(
    "/envelopes/{envelope_id}/parties/{party_id}/decline",
    response=responses({200: EnvelopeOut}, 400, 401, 403, 404, 409, 422),
)
def decline(request: HttpRequest, envelope_id: UUID, party_id: UUID, payload: ReasonIn) -> dict:
    _visible(request, envelope_id)
    envelope = services.decline(
        envelope_id,
        party_id,
        _user(request),
        reason=payload.reason,
        context=RequestContext.from_request(request),
    )
    return envelope_out(envelope)


@router.post(
    "/envelopes/{envelope_id}/parties/{party_id}/remind",
    response=responses({200: PartyOut}, 401, 403, 404, 409, 422, 429),
)
def remind(request: HttpRequest, envelope_id: UUID, party_id: UUID) -> dict:
    """Email a party whose turn it is a fresh signing link (at most every 10 minutes, or at once
    when the last one could not be delivered)."""
    envelope = _visible(request, envelope_id)
    party = services.remind(envelope, party_id, _user(request), RequestContext.from_request(request))
    return parties_out(envelope, [party])[0]


class RolePartyIn(PartyIn):
    role: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$",
        description="the template role whose fields are hers (`buyer` for {{ signature: buyer }})",
    )


class DocumentEnvelopeIn(BaseModel):
    title: SingleLineText = Field(default="", max_length=300, description="default: the document's title")
    deadline: datetime | None = None
    amount: Decimal | None = None
    currency: SingleLineText = Field(default="", max_length=3)
    parties: list[RolePartyIn] = Field(min_length=1, max_length=services.MAX_PARTIES)


@router.post(
    "/documents/{document_id}/envelope",
    response=responses({201: EnvelopeOut}, 400, 401, 403, 404, 409, 413, 422),
)
def envelope_from_document(request: HttpRequest, document_id: UUID, payload: DocumentEnvelopeIn) -> Status:
    """A draft envelope of a final document: its latest version rendered to PDF, each field placeholder a
    field of the party with that role, at the box where it was laid out. Send it as any envelope."""
    from econtract.documents.authoring import visible_document
    from econtract.signing.services.from_document import envelope_from_document as create

    document = visible_document(_user(request), document_id)
    roles = [p.role for p in payload.parties]
    if len(set(roles)) != len(roles):
        raise InvalidEnvelope("each role is given once")
    envelope = create(
        document,
        _user(request),
        parties={p.role: _party_spec(p) for p in payload.parties},
        title=payload.title,
        deadline=payload.deadline,
        amount=payload.amount,
        currency=payload.currency,
        context=RequestContext.from_request(request),
    )
    return Status(201, envelope_out(envelope))

"""Envelope endpoints. Thin: parse, scope, call signing.services, shape the answer."""

from __future__ import annotations

import json
from datetime import datetime
from typing import cast
from uuid import UUID

from django.conf import settings
from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import BaseModel, Field, ValidationError

from econtract.accounts.models import User
from econtract.accounts.services import primary_organization
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext
from econtract.signing import services
from econtract.signing.errors import InvalidEnvelope
from econtract.signing.models import Envelope, Party

router = Router(tags=["envelopes"])


class PartyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    order: int = Field(default=1, ge=1, le=100)
    phone: str = Field(default="", max_length=32)


class FieldIn(BaseModel):
    party: int = Field(ge=0)
    page: int = Field(ge=1)
    x: float
    y: float
    width: float
    height: float


class EnvelopeSpec(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    deadline: datetime | None = None
    parties: list[PartyIn] = Field(default_factory=list, max_length=services.MAX_PARTIES)
    fields: list[FieldIn] = Field(default_factory=list, max_length=services.MAX_FIELDS)


class PartyOut(Schema):
    id: UUID
    name: str
    email: str
    order: int
    status: str
    signed_at: datetime | None = None


class FieldOut(Schema):
    id: UUID
    party_id: UUID
    page: int
    x: float
    y: float
    width: float
    height: float


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
    parties: list[PartyOut]
    fields: list[FieldOut]


class EventOut(Schema):
    sequence: int
    kind: str
    occurred_at: datetime
    actor: str
    ip_address: str | None = None
    user_agent: str
    document_sha256: str
    payload: dict
    event_hash: str
    previous_hash: str


class ReasonIn(Schema):
    reason: str = ""


class SignIn(Schema):
    otp: str
    pin: str


class OtpOut(Schema):
    sent_to: str
    expires_at: datetime


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
        "parties": list(envelope.parties.all()),
        "fields": list(envelope.fields.all()),
    }


def _user(request: HttpRequest) -> User:
    """The authenticated caller; every route here requires authentication (API key or session)."""
    return cast(User, request.user)


def _acting_organization(request: HttpRequest):  # type: ignore[no-untyped-def]
    """An API key acts for the organisation it was issued in; a browser session for the user's primary one."""
    api_key = getattr(request, "api_key", None)
    return api_key.organization if api_key is not None else primary_organization(_user(request))


def _visible(request: HttpRequest, envelope_id: UUID) -> Envelope:
    return get_object_or_404(Envelope.objects.visible_to(_user(request)), pk=envelope_id)


@router.post("/envelopes", response={201: EnvelopeOut})
def create_envelope(request: HttpRequest, document: File[UploadedFile], spec: Form[str]) -> Status:
    """Upload a PDF with its parties and signature fields; the envelope starts as a draft."""
    try:
        parsed = EnvelopeSpec.model_validate(json.loads(spec))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise InvalidEnvelope(f"spec is not valid: {exc}") from exc
    data = document.read(settings.ECONTRACT_MAX_UPLOAD_BYTES + 1)
    envelope = services.create_envelope(
        organization=_acting_organization(request),
        created_by=_user(request),
        title=parsed.title,
        pdf=data,
        parties=[
            services.PartySpec(name=p.name, email=p.email, order=p.order, phone=p.phone)
            for p in parsed.parties
        ],
        fields=[
            services.FieldSpec(party=f.party, page=f.page, x=f.x, y=f.y, width=f.width, height=f.height)
            for f in parsed.fields
        ],
        deadline=parsed.deadline,
        context=RequestContext.from_request(request),
    )
    return Status(201, envelope_out(envelope))


@router.get("/envelopes", response=list[EnvelopeOut])
def list_envelopes(request: HttpRequest, status: str | None = None, limit: int = 50) -> list[dict]:
    query = Envelope.objects.visible_to(_user(request))
    if status:
        query = query.filter(status=status)
    return [envelope_out(e) for e in query[: max(1, min(limit, 200))]]


@router.get("/envelopes/{envelope_id}", response=EnvelopeOut)
def get_envelope(request: HttpRequest, envelope_id: UUID) -> dict:
    return envelope_out(_visible(request, envelope_id))


@router.post("/envelopes/{envelope_id}/send", response=EnvelopeOut)
def send_envelope(request: HttpRequest, envelope_id: UUID) -> dict:
    envelope = services.send_envelope(
        _visible(request, envelope_id), _user(request), RequestContext.from_request(request)
    )
    return envelope_out(envelope)


@router.post("/envelopes/{envelope_id}/void", response=EnvelopeOut)
def void_envelope(request: HttpRequest, envelope_id: UUID, payload: ReasonIn) -> dict:
    envelope = services.void(
        _visible(request, envelope_id),
        _user(request),
        reason=payload.reason,
        context=RequestContext.from_request(request),
    )
    return envelope_out(envelope)


@router.get("/envelopes/{envelope_id}/document")
def get_document(request: HttpRequest, envelope_id: UUID) -> FileResponse:
    """The current PDF: the original, or the latest signed revision."""
    envelope = _visible(request, envelope_id)
    revision = services.document_for_download(envelope, RequestContext.from_request(request))
    response = FileResponse(revision.file.open("rb"), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{envelope.id}-v{revision.version}.pdf"'
    response["X-Document-SHA256"] = revision.sha256
    return response


@router.get("/envelopes/{envelope_id}/events", response=list[EventOut])
def list_events(request: HttpRequest, envelope_id: UUID) -> list[dict]:
    envelope = _visible(request, envelope_id)
    return [
        {
            "sequence": e.sequence,
            "kind": e.kind,
            "occurred_at": e.occurred_at,
            "actor": e.actor_label,
            "ip_address": e.ip_address,
            "user_agent": e.user_agent,
            "document_sha256": e.document_sha256,
            "payload": e.payload,
            "event_hash": e.event_hash,
            "previous_hash": e.previous_hash,
        }
        for e in Event.objects.for_subject(envelope)
    ]


@router.post("/envelopes/{envelope_id}/parties/{party_id}/otp", response=OtpOut)
def request_otp(request: HttpRequest, envelope_id: UUID, party_id: UUID) -> dict:
    """Send the willingness code to the party's email. Only the user matched to the party may ask."""
    _visible(request, envelope_id)
    challenge = services.request_signing_code(
        envelope_id, party_id, _user(request), RequestContext.from_request(request)
    )
    return {"sent_to": _mask_email(challenge.destination), "expires_at": challenge.expires_at}


@router.post("/envelopes/{envelope_id}/parties/{party_id}/sign", response=EnvelopeOut)
def sign(request: HttpRequest, envelope_id: UUID, party_id: UUID, payload: SignIn) -> dict:
    _visible(request, envelope_id)
    envelope = services.sign(
        envelope_id,
        party_id,
        _user(request),
        otp=payload.otp,
        pin=payload.pin,
        context=RequestContext.from_request(request),
    )
    return envelope_out(envelope)


@router.post("/envelopes/{envelope_id}/parties/{party_id}/decline", response=EnvelopeOut)
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


@router.post("/envelopes/{envelope_id}/parties/{party_id}/remind", response=PartyOut)
def remind(request: HttpRequest, envelope_id: UUID, party_id: UUID) -> Party:
    """Email a party whose turn it is a fresh signing link (at most every 10 minutes)."""
    return services.remind(
        _visible(request, envelope_id), party_id, _user(request), RequestContext.from_request(request)
    )


def _mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"

"""The signing verbs: create, send, sign, decline, void, expire. Web views, API and CLI all call these."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import x509
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from econtract.accounts.models import Membership, Organization, User
from econtract.documents.pdfsafety import inspect_pdf
from econtract.evidence.services import RequestContext, record_event
from econtract.identity import services as otp_service
from econtract.identity.errors import IdentityError
from econtract.identity.models import OtpChallenge
from econtract.notifications.services import send_email
from econtract.pki import custody
from econtract.pki.errors import PkiError
from econtract.pki.services import platform_chain, signing_validation_context_for
from econtract.pki.tsa import get_timestamper
from econtract.signing import pades
from econtract.signing.errors import (
    AlreadySigned,
    EnvelopeClosed,
    EnvelopeExpired,
    EnvelopeNotEditable,
    InvalidEnvelope,
    LinkInvalid,
    NotThisParty,
    NotYourTurn,
    ReminderTooSoon,
)
from econtract.signing.models import DocumentRevision, Envelope, Party, SignatureField, SigningLink

logger = logging.getLogger("econtract.signing")

LINK_LIFETIME = timedelta(days=30)
DASHBOARD_LINK_LIFETIME = timedelta(hours=1)
MAX_PARTIES = 50
MAX_FIELDS = 200


@dataclass(frozen=True)
class PartySpec:
    name: str
    email: str
    order: int = 1
    phone: str = ""


@dataclass(frozen=True)
class FieldSpec:
    party: int  # index into the parties list
    page: int
    x: float
    y: float
    width: float
    height: float


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- creating and editing -------------------------------------------------------------------------


def _store_revision(
    envelope: Envelope, data: bytes, reason: str, *, party: Party | None = None
) -> DocumentRevision:
    version = 0 if reason == DocumentRevision.Reason.ORIGINAL else envelope.current_version + 1
    revision = DocumentRevision(
        envelope=envelope,
        version=version,
        reason=reason,
        party=party,
        sha256=sha256_hex(data),
        size=len(data),
    )
    revision.file.save(f"v{version}.pdf", ContentFile(data), save=False)
    revision.save()
    envelope.current_version = version
    return revision


def _validate_fields(envelope: Envelope, fields: Sequence[FieldSpec], party_count: int) -> None:
    if len(fields) > MAX_FIELDS:
        raise InvalidEnvelope(f"at most {MAX_FIELDS} signature fields")
    for number, spec in enumerate(fields, start=1):
        if not 0 <= spec.party < party_count:
            raise InvalidEnvelope(f"field {number}: party index {spec.party} does not exist")
        if not 1 <= spec.page <= envelope.page_count:
            raise InvalidEnvelope(f"field {number}: page {spec.page} is outside 1..{envelope.page_count}")
        llx, lly, urx, ury = envelope.page_sizes[spec.page - 1]
        width, height = urx - llx, ury - lly
        if spec.width < 20 or spec.height < 10:
            raise InvalidEnvelope(f"field {number}: a signature box must be at least 20 x 10 points")
        if (
            spec.x < 0
            or spec.y < 0
            or spec.x + spec.width > width + 0.5
            or spec.y + spec.height > height + 0.5
        ):
            raise InvalidEnvelope(
                f"field {number}: the box lies outside page {spec.page} ({width:.0f} x {height:.0f})"
            )


def _validate_parties(parties: Sequence[PartySpec]) -> None:
    if len(parties) > MAX_PARTIES:
        raise InvalidEnvelope(f"at most {MAX_PARTIES} parties")
    seen: set[str] = set()
    for number, spec in enumerate(parties, start=1):
        if not spec.name.strip():
            raise InvalidEnvelope(f"party {number}: a name is required")
        if "@" not in spec.email or len(spec.email) > 254:
            raise InvalidEnvelope(f"party {number}: a valid email is required")
        if not 1 <= spec.order <= 100:
            raise InvalidEnvelope(f"party {number}: order must be between 1 and 100")
        if spec.email.lower() in seen:
            raise InvalidEnvelope(f"party {number}: {spec.email} is already a party")
        seen.add(spec.email.lower())


def create_envelope(
    *,
    organization: Organization,
    created_by: User,
    title: str,
    pdf: bytes,
    parties: Sequence[PartySpec] = (),
    fields: Sequence[FieldSpec] = (),
    deadline: datetime | None = None,
    context: RequestContext,
) -> Envelope:
    """Check the PDF in a sandbox, then store it as revision 0 with parties and fields (a draft)."""
    title = (title or "").strip()
    if not title or len(title) > 300:
        raise InvalidEnvelope("a title of 1 to 300 characters is required")
    if deadline is not None and deadline <= timezone.now():
        raise InvalidEnvelope("the deadline must be in the future")
    _require_member(organization, created_by)
    _validate_parties(parties)
    inspection = inspect_pdf(pdf)  # raises UnsafePdf before anything is stored
    with transaction.atomic():
        envelope = Envelope(
            organization=organization,
            created_by=created_by,
            title=title,
            deadline=deadline,
            original_sha256=inspection.sha256,
            page_count=inspection.page_count,
            page_sizes=[list(box) for box in inspection.page_boxes],
            page_rotations=list(inspection.page_rotations),
        )
        _validate_fields(envelope, fields, len(parties))
        envelope.save()
        _store_revision(envelope, pdf, DocumentRevision.Reason.ORIGINAL)
        envelope.save(update_fields=["current_version"])
        created = _create_parties(envelope, parties)
        _create_fields(envelope, created, fields)
        record_event(
            "created",
            envelope,
            context,
            organization=organization,
            document_sha256=inspection.sha256,
            payload={"title": title, "pages": inspection.page_count, "parties": len(created)},
        )
    return envelope


def _create_parties(envelope: Envelope, parties: Sequence[PartySpec]) -> list[Party]:
    return [
        Party.objects.create(
            envelope=envelope,
            name=spec.name.strip(),
            email=spec.email.strip().lower(),
            order=spec.order,
            position=position,
            phone=spec.phone,
        )
        for position, spec in enumerate(parties)
    ]


def _create_fields(envelope: Envelope, parties: Sequence[Party], fields: Sequence[FieldSpec]) -> None:
    SignatureField.objects.bulk_create(
        SignatureField(
            envelope=envelope,
            party=parties[spec.party],
            page=spec.page,
            x=spec.x,
            y=spec.y,
            width=spec.width,
            height=spec.height,
            position=position,
        )
        for position, spec in enumerate(fields)
    )


def replace_recipients(
    envelope: Envelope,
    *,
    parties: Sequence[PartySpec],
    fields: Sequence[FieldSpec],
    user: User,
    context: RequestContext,
) -> Envelope:
    """Set a draft's parties and fields in one step (the web editor saves this way)."""
    _require_member(envelope.organization, user)
    _validate_parties(parties)
    _validate_fields(envelope, fields, len(parties))
    with transaction.atomic():
        envelope = _locked(envelope.pk)
        if envelope.status != Envelope.Status.DRAFT:
            raise EnvelopeNotEditable("only a draft can be edited")
        envelope.fields.all().delete()
        envelope.parties.all().delete()
        created = _create_parties(envelope, parties)
        _create_fields(envelope, created, fields)
        record_event(
            "edited", envelope, context, organization=envelope.organization, payload={"parties": len(created)}
        )
    return envelope


def _locked(envelope_pk: Any) -> Envelope:
    """Re-read the envelope holding its row lock (PostgreSQL; SQLite's IMMEDIATE transaction already
    serialises writers), so concurrent signers, decliners and the sender act on the latest state."""
    return (
        # of=self: lock the envelope only, not the organisation and user rows it joins
        Envelope.objects.select_for_update(of=("self",))
        .select_related("organization", "created_by")
        .get(pk=envelope_pk)
    )


# --- authorisation --------------------------------------------------------------------------------


def _require_member(organization: Organization, user: User) -> Membership:
    membership = Membership.objects.filter(organization=organization, user=user).first()
    if membership is None:
        raise NotThisParty("you are not a member of this organisation")
    return membership


def user_may_act_as(party: Party, user: User) -> bool:
    """Only the user whose verified email is the party's email may sign or decline for her."""
    if not getattr(user, "is_authenticated", False):
        return False
    if party.user_id is not None:
        return party.user_id == user.pk
    return bool(user.email_verified and user.email.lower() == party.email.lower())


def _authorize_party(party: Party, user: User) -> None:
    if not user_may_act_as(party, user):
        raise NotThisParty("only the person this party names may act for it")


def _bind_party_user(party: Party, user: User) -> None:
    if party.user_id is None:
        Party.objects.filter(pk=party.pk, user__isnull=True).update(user=user)
        party.user = user


# --- sending and routing --------------------------------------------------------------------------


def signing_link(token: str) -> str:
    return f"{settings.BASE_URL}/sign/{token}"


def _issue_link(party: Party, envelope: Envelope, channel: str = SigningLink.Channel.EMAIL) -> str:
    token = secrets.token_urlsafe(32)
    lifetime = LINK_LIFETIME if channel == SigningLink.Channel.EMAIL else DASHBOARD_LINK_LIFETIME
    expiry = timezone.now() + lifetime
    SigningLink.objects.create(
        party=party,
        token_hash=sha256_hex(token.encode()),
        channel=channel,
        expires_at=min(expiry, envelope.deadline) if envelope.deadline else expiry,
    )
    if channel == SigningLink.Channel.EMAIL:
        party.notified_at = timezone.now()
        party.save(update_fields=["notified_at"])
    return token


def open_signing_link(envelope_id: Any, party_id: Any, user: User, context: RequestContext) -> str:
    """A short-lived signing link for a party who is already logged in as the matching user
    (the "Sign now" button of her dashboard); the emailed link stays valid."""
    envelope, party = _load_party(envelope_id, party_id)
    _authorize_party(party, user)
    _check_open(envelope, context)
    _check_turn(party)
    return _issue_link(party, envelope, SigningLink.Channel.DASHBOARD)


def _notify_turn(envelope: Envelope, party: Party) -> None:
    token = _issue_link(party, envelope)
    deadline = f"\nPlease sign before {envelope.deadline:%Y-%m-%d %H:%M %Z}." if envelope.deadline else ""
    send_email(
        [party.email],
        f"Please sign: {envelope.title} / 请签署：{envelope.title}",
        f"{envelope.created_by.display_name} ({envelope.organization.name}) asks you to sign "
        f'"{envelope.title}".\n\nOpen this personal link to review and sign:\n{signing_link(token)}\n{deadline}\n\n'
        f"{envelope.organization.name} 请您签署《{envelope.title}》。请打开上面的链接查看并签署。\n",
    )


def _advance(envelope: Envelope, context: RequestContext) -> None:
    """Make the next order's parties ready and notify them, or complete the envelope."""
    pending = list(envelope.parties.exclude(status=Party.Status.SIGNED).order_by("order"))
    if not pending:
        _complete(envelope, context)
        return
    current_order = pending[0].order
    for party in pending:
        if party.order == current_order and party.status == Party.Status.WAITING:
            party.status = Party.Status.READY
            party.save(update_fields=["status"])
            _notify_turn(envelope, party)
            record_event(
                "notified",
                envelope,
                context,
                organization=envelope.organization,
                payload={"party": str(party.id)},
            )


def send_envelope(envelope: Envelope, user: User, context: RequestContext) -> Envelope:
    _require_member(envelope.organization, user)
    with transaction.atomic():
        envelope = _locked(envelope.pk)
        if envelope.status != Envelope.Status.DRAFT:
            raise EnvelopeNotEditable(f"the envelope is {envelope.status}, not a draft")
        if not envelope.parties.exists():
            raise InvalidEnvelope("add at least one party before sending")
        if envelope.deadline and envelope.deadline <= timezone.now():
            raise InvalidEnvelope("the deadline has already passed")
        envelope.status = Envelope.Status.SENT
        envelope.sent_at = timezone.now()
        envelope.save(update_fields=["status", "sent_at"])
        record_event(
            "sent",
            envelope,
            context,
            organization=envelope.organization,
            document_sha256=envelope.current_document().sha256,
            payload={"parties": [str(p.id) for p in envelope.parties.all()]},
        )
        _advance(envelope, context)
    return envelope


REMINDER_INTERVAL = timedelta(minutes=10)


def remind(envelope: Envelope, party_id: Any, user: User, context: RequestContext) -> Party:
    """The sender emails a party whose turn it is a fresh signing link (earlier links stay valid)."""
    _require_member(envelope.organization, user)
    with transaction.atomic():
        envelope = _locked(envelope.pk)
        party = envelope.parties.select_for_update().get(pk=party_id)
        _check_open(envelope, context)
        _check_turn(party)
        if party.notified_at and timezone.now() - party.notified_at < REMINDER_INTERVAL:
            raise ReminderTooSoon("this party was emailed less than 10 minutes ago")
        _notify_turn(envelope, party)
        record_event(
            "reminded",
            envelope,
            context,
            organization=envelope.organization,
            payload={"party": str(party.id)},
        )
    return party


def party_for_link(token: str) -> Party:
    link = (
        SigningLink.objects.select_related("party__envelope")
        .filter(token_hash=sha256_hex((token or "").encode()))
        .first()
    )
    if link is None:
        raise LinkInvalid("this signing link is not valid")
    if link.expires_at <= timezone.now():
        raise LinkInvalid("this signing link has expired")
    return link.party


def record_link_opened(party: Party, context: RequestContext) -> None:
    envelope = party.envelope
    record_event(
        "link_opened",
        envelope,
        context,
        organization=envelope.organization,
        document_sha256=envelope.current_document().sha256,
        payload={"party": str(party.id)},
    )


# --- the signing ceremony -------------------------------------------------------------------------


def _expire_if_overdue(envelope: Envelope, context: RequestContext) -> bool:
    if envelope.status != Envelope.Status.SENT or not envelope.deadline or envelope.deadline > timezone.now():
        return False
    with transaction.atomic():
        locked = _locked(envelope.pk)
        if locked.status != Envelope.Status.SENT:
            return locked.status == Envelope.Status.EXPIRED
        locked.status = Envelope.Status.EXPIRED
        locked.ended_at = timezone.now()
        locked.end_reason = "deadline passed"
        locked.save(update_fields=["status", "ended_at", "end_reason"])
        record_event("expired", locked, context, organization=locked.organization, payload={})
        _notify_all(
            locked,
            f"Expired: {locked.title} / 已过期",
            "The signing deadline passed; the envelope is closed.",
        )
    envelope.status = Envelope.Status.EXPIRED
    return True


def _check_open(envelope: Envelope, context: RequestContext) -> None:
    if _expire_if_overdue(envelope, context):
        raise EnvelopeExpired("the signing deadline has passed")
    if envelope.status == Envelope.Status.EXPIRED:
        raise EnvelopeExpired("the signing deadline has passed")
    if envelope.status != Envelope.Status.SENT:
        raise EnvelopeClosed(f"the envelope is {envelope.status}")


def _check_turn(party: Party) -> None:
    if party.status == Party.Status.SIGNED:
        raise AlreadySigned("this party has already signed")
    if party.status == Party.Status.DECLINED:
        raise EnvelopeClosed("this party has declined")
    if party.status != Party.Status.READY:
        raise NotYourTurn("earlier parties have not signed yet")


def _load_party(envelope_id: Any, party_id: Any) -> tuple[Envelope, Party]:
    party = (
        Party.objects.select_related("envelope", "envelope__organization")
        .filter(pk=party_id, envelope_id=envelope_id)
        .first()
    )
    if party is None:
        raise Party.DoesNotExist
    return party.envelope, party


def request_signing_code(
    envelope_id: Any, party_id: Any, user: User, context: RequestContext
) -> OtpChallenge:
    """Send the willingness code to the party's verified email."""
    envelope, party = _load_party(envelope_id, party_id)
    _authorize_party(party, user)
    _check_open(envelope, context)
    _check_turn(party)
    issued = otp_service.issue_otp(
        purpose=OtpChallenge.Purpose.SIGN,
        subject=str(party.id),
        destination=party.email,
        user=user,
        subject_line=f"Signing code for {envelope.title} / 签署验证码",
        intro=f'Your code to sign "{envelope.title}" is:',
    )
    challenge = issued.challenge
    record_event(
        "otp_sent",
        envelope,
        context,
        organization=envelope.organization,
        payload={"party": str(party.id), "channel": "email"},
    )
    return challenge


def _record_refusal(kind: str, envelope: Envelope, party: Party, why: str, context: RequestContext) -> None:
    """A failed willingness check is evidence too; recorded in its own committed transaction."""
    record_event(
        kind,
        envelope,
        context,
        organization=envelope.organization,
        payload={"party": str(party.id), "why": why},
    )


def sign(
    envelope_id: Any, party_id: Any, user: User, *, otp: str, pin: str, context: RequestContext
) -> Envelope:
    """The party signs: willingness code, then PIN to unwrap her key, then one incremental PAdES revision.

    Failed codes and PINs are recorded and counted outside the signing transaction so they stay counted.
    """
    envelope, party = _load_party(envelope_id, party_id)
    _authorize_party(party, user)
    _check_open(envelope, context)
    _check_turn(party)
    org = envelope.organization
    try:
        challenge = otp_service.check_otp(
            purpose=OtpChallenge.Purpose.SIGN, subject=str(party.id), code=otp, consume=False
        )
    except IdentityError as exc:
        _record_refusal("otp_failed", envelope, party, exc.code, context)
        raise
    record_event("otp_passed", envelope, context, organization=org, payload={"party": str(party.id)})
    try:
        private_key, issued = custody.unwrap_signing_key(user, pin)
    except PkiError as exc:
        _record_refusal("pin_failed", envelope, party, exc.code, context)
        raise
    certificate = x509.Certificate.load(bytes(issued.certificate_der))

    with transaction.atomic():
        envelope = _locked(envelope.pk)
        party = Party.objects.select_for_update().get(pk=party.pk)
        _check_open(envelope, context)
        _check_turn(party)
        current = envelope.current_document()
        placements = [
            pades.Placement(page=f.page, x=f.x, y=f.y, width=f.width, height=f.height)
            for f in party.fields.order_by("position")
        ]
        chain = platform_chain()
        now = timezone.localtime()
        field_name = f"Signature_{party.order}_{party.id.hex[:8]}"
        signed_pdf = pades.sign_revision(
            current.read_bytes(),
            field_name=field_name,
            placements=placements,
            private_key=private_key,
            certificate=certificate,
            chain=chain,
            signer_name=user.full_name or party.name,
            signed_at_label=pades.signing_time_label(now),
            timestamper=get_timestamper(),
            validation_context=signing_validation_context_for([certificate]),
        )
        del private_key
        revision = _store_revision(envelope, signed_pdf, DocumentRevision.Reason.SIGNATURE, party=party)
        envelope.save(update_fields=["current_version"])
        party.status = Party.Status.SIGNED
        party.signed_at = timezone.now()
        party.signature_field_name = field_name
        party.save(update_fields=["status", "signed_at", "signature_field_name"])
        _bind_party_user(party, user)
        otp_service.consume_otp(challenge)
        record_event(
            "signed",
            envelope,
            context,
            organization=org,
            document_sha256=revision.sha256,
            payload={
                "party": str(party.id),
                "field": field_name,
                "certificate_serial": str(certificate.serial_number),
                "previous_sha256": current.sha256,
                "willingness": "email_otp+pin",
            },
        )
        _advance(envelope, context)
    return envelope


def _complete(envelope: Envelope, context: RequestContext) -> None:
    current = envelope.current_document()
    signed_pdf = current.read_bytes()
    final_pdf = pades.add_document_timestamp(
        signed_pdf,
        timestamper=get_timestamper(),
        validation_context=signing_validation_context_for(pades.signer_certificates(signed_pdf)),
    )
    revision = _store_revision(envelope, final_pdf, DocumentRevision.Reason.DOCUMENT_TIMESTAMP)
    envelope.status = Envelope.Status.COMPLETED
    envelope.completed_at = timezone.now()
    envelope.save(update_fields=["current_version", "status", "completed_at"])
    record_event(
        "completed",
        envelope,
        context,
        organization=envelope.organization,
        document_sha256=revision.sha256,
        payload={"previous_sha256": current.sha256},
    )
    recipients = sorted({p.email for p in envelope.parties.all()} | {envelope.created_by.email})
    send_email(
        recipients,
        f"Completed: {envelope.title} / 已完成签署",
        f'All parties have signed "{envelope.title}". The signed PDF is attached; its SHA-256 is {revision.sha256}.\n'
        f"Check it at {settings.BASE_URL}/verify or with `econtract verify`.\n\n《{envelope.title}》已由各方签署完成，签署文件见附件。\n",
        attachments=[(f"{_safe_filename(envelope.title)}-signed.pdf", final_pdf, "application/pdf")],
    )


def _safe_filename(title: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in title).strip("_")
    return cleaned[:80] or "contract"


def _notify_all(envelope: Envelope, subject: str, body: str) -> None:
    recipients = sorted({p.email for p in envelope.parties.all()} | {envelope.created_by.email})
    send_email(recipients, subject, f'"{envelope.title}": {body}\n')


def decline(envelope_id: Any, party_id: Any, user: User, *, reason: str, context: RequestContext) -> Envelope:
    envelope, party = _load_party(envelope_id, party_id)
    _authorize_party(party, user)
    _check_open(envelope, context)
    reason = (reason or "").strip()[:2000]
    with transaction.atomic():
        envelope = _locked(envelope.pk)
        party = Party.objects.select_for_update().get(pk=party.pk)
        _check_open(envelope, context)
        if party.status == Party.Status.SIGNED:
            raise AlreadySigned("this party has already signed")
        party.status = Party.Status.DECLINED
        party.declined_at = timezone.now()
        party.decline_reason = reason
        party.save(update_fields=["status", "declined_at", "decline_reason"])
        _bind_party_user(party, user)
        envelope.status = Envelope.Status.DECLINED
        envelope.ended_at = timezone.now()
        envelope.end_reason = reason
        envelope.save(update_fields=["status", "ended_at", "end_reason"])
        record_event(
            "declined",
            envelope,
            context,
            organization=envelope.organization,
            payload={"party": str(party.id), "reason": reason},
        )
        _notify_all(
            envelope,
            f"Declined: {envelope.title} / 已拒签",
            f"{party.name} declined to sign. Reason: {reason or '-'}",
        )
    return envelope


def void(envelope: Envelope, user: User, *, reason: str, context: RequestContext) -> Envelope:
    _require_member(envelope.organization, user)
    reason = (reason or "").strip()[:2000]
    with transaction.atomic():
        envelope = _locked(envelope.pk)
        if envelope.is_final:
            raise EnvelopeClosed(f"the envelope is already {envelope.status}")
        was_sent = envelope.status == Envelope.Status.SENT
        envelope.status = Envelope.Status.VOIDED
        envelope.ended_at = timezone.now()
        envelope.end_reason = reason
        envelope.save(update_fields=["status", "ended_at", "end_reason"])
        record_event(
            "voided", envelope, context, organization=envelope.organization, payload={"reason": reason}
        )
        if was_sent:
            _notify_all(
                envelope,
                f"Voided: {envelope.title} / 已撤销",
                f"The sender voided the envelope. Reason: {reason or '-'}",
            )
    return envelope


def expire_overdue(context: RequestContext | None = None) -> int:
    """Close every sent envelope whose deadline has passed (run by `econtract expire`)."""
    context = context or RequestContext.system("econtract expire")
    count = 0
    overdue = Envelope.objects.filter(status=Envelope.Status.SENT, deadline__lte=timezone.now())
    for envelope in overdue.iterator():
        if _expire_if_overdue(envelope, context):
            count += 1
    return count


def document_for_download(envelope: Envelope, context: RequestContext) -> DocumentRevision:
    revision = envelope.current_document()
    record_event(
        "downloaded",
        envelope,
        context,
        organization=envelope.organization,
        document_sha256=revision.sha256,
        payload={"version": revision.version},
    )
    return revision

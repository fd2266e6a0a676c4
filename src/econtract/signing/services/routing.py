"""Sending and routing: signing links, turns, reminders, completion, decline, void and expiry."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from econtract.accounts import permissions
from econtract.accounts.models import User
from econtract.evidence.services import RequestContext, checkpoint_after_completion, record_event
from econtract.notifications.models import EmailDelivery
from econtract.notifications.services import About, StoredAttachment, latest_deliveries, send_email
from econtract.pki.services import signing_validation_context_for
from econtract.pki.tsa import get_timestamper
from econtract.ratelimit import seconds_until
from econtract.signing import formfields, pades
from econtract.signing.errors import (
    AlreadySigned,
    EnvelopeClosed,
    EnvelopeExpired,
    EnvelopeNotEditable,
    InvalidEnvelope,
    LinkInvalid,
    NotYourTurn,
    ReminderTooSoon,
)
from econtract.signing.models import FILLED_KINDS, DocumentRevision, Envelope, Party, SigningLink
from econtract.signing.services.envelopes import (
    DASHBOARD_LINK_LIFETIME,
    LINK_LIFETIME,
    _authorize_party,
    _bind_party_user,
    _load_party,
    _locked,
    _store_revision,
    sha256_hex,
    user_text,
)
from econtract.signing.services.seal_facts import check_automatic_parties
from econtract.signing.signals import envelope_completed
from econtract.textinput import TextKind

logger = logging.getLogger("econtract.signing")

SIGNING_LINK_MAIL = "signing_link"  # the purpose of a party's turn notification (first or reminder)


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


def _notify_turn(envelope: Envelope, party: Party, *, reminder: bool = False) -> None:
    """Email the party her signing link; `notified` (or `notification_failed`) is recorded by the
    delivery once the mail server has accepted (or finally refused) the message."""
    token = _issue_link(party, envelope)
    deadline = f"\nPlease sign before {envelope.deadline:%Y-%m-%d %H:%M %Z}." if envelope.deadline else ""
    send_email(
        [party.email],
        f"Please sign: {envelope.title} / 请签署：{envelope.title}",
        f"{envelope.created_by.display_name} ({envelope.organization.name}) asks you to sign "
        f'"{envelope.title}".\n\nOpen this personal link to review and sign:\n{signing_link(token)}\n{deadline}\n\n'
        f"{envelope.organization.name} 请您签署《{envelope.title}》。请打开上面的链接查看并签署。\n",
        purpose=SIGNING_LINK_MAIL,
        about=About(
            envelope,
            on_sent="notified",
            payload={"party": str(party.id), **({"reminder": True} if reminder else {})},
        ),
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
            if party.automatic_seal_id is not None:
                # Signed by the platform under the sender's automatic grant, once this turn is committed.
                # robust: whatever happens there, the turn that led to it has committed and stays so
                transaction.on_commit(_automatic_signing_of(envelope.pk, party.pk), robust=True)
            else:
                _notify_turn(envelope, party)


def _automatic_signing_of(envelope_pk: Any, party_pk: Any) -> Callable[[], None]:
    def run() -> None:
        # imported here: the seal ceremony builds on the signing ceremony, which builds on routing
        from econtract.signing.services.seal_use import sign_automatically

        sign_automatically(envelope_pk, party_pk)

    return run


def _add_form_fields(envelope: Envelope) -> None:
    """The empty fields signers fill, as one revision before any signature (signing.formfields)."""
    rows = list(envelope.fields.filter(kind__in=FILLED_KINDS).order_by("position", "page"))
    if not rows:
        return
    specs = [
        formfields.FormFieldSpec(
            name=f.name, kind=f.kind, page=f.page, x=f.x, y=f.y, width=f.width, height=f.height
        )
        for f in rows
    ]
    pdf = formfields.add_form_fields(envelope.current_document().read_bytes(), specs)
    _store_revision(envelope, pdf, DocumentRevision.Reason.FORM_FIELDS)


def send_envelope(envelope: Envelope, user: User, context: RequestContext) -> Envelope:
    permissions.require(user, envelope, permissions.Action.SEND)
    with transaction.atomic():
        envelope = _locked(envelope.pk)
        if envelope.status != Envelope.Status.DRAFT:
            raise EnvelopeNotEditable(f"the envelope is {envelope.status}, not a draft")
        if not envelope.parties.exists():
            raise InvalidEnvelope("add at least one party before sending")
        if envelope.deadline and envelope.deadline <= timezone.now():
            raise InvalidEnvelope("the deadline has already passed")
        check_automatic_parties(envelope)
        _add_form_fields(envelope)
        envelope.status = Envelope.Status.SENT
        envelope.sent_at = timezone.now()
        envelope.save(update_fields=["status", "sent_at", "current_version"])
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


def turn_notifications(envelope: Envelope) -> dict[str, EmailDelivery]:
    """Each party's latest signing-link email (by party id), to show whether it was delivered."""
    return latest_deliveries(envelope, [SIGNING_LINK_MAIL])


def remind(envelope: Envelope, party_id: Any, user: User, context: RequestContext) -> Party:
    """The sender emails a party whose turn it is a fresh signing link (earlier links stay valid)."""
    permissions.require(user, envelope, permissions.Action.REMIND)
    with transaction.atomic():
        envelope = _locked(envelope.pk)
        party = envelope.parties.select_for_update().get(pk=party_id)
        _check_open(envelope, context)
        _check_turn(party)
        last_mail = turn_notifications(envelope).get(str(party.id))
        undelivered = last_mail is not None and last_mail.status == EmailDelivery.Status.FAILED
        # A link that never arrived is no reason to wait: the sender may retry at once.
        if not undelivered and party.notified_at and timezone.now() - party.notified_at < REMINDER_INTERVAL:
            raise ReminderTooSoon(
                "this party was emailed less than 10 minutes ago",
                retry_after=seconds_until(party.notified_at + REMINDER_INTERVAL),
            )
        if party.automatic_seal_id is not None:
            # nobody to email: a reminder retries the platform's signing (after a refused attempt)
            transaction.on_commit(_automatic_signing_of(envelope.pk, party.pk), robust=True)
        else:
            _notify_turn(envelope, party, reminder=True)
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
    envelope_completed.send(sender=Envelope, envelope=envelope, context=context)
    transaction.on_commit(checkpoint_after_completion)
    # The mail refers to the stored revision: a retry hours later attaches the same bytes.
    attachment = StoredAttachment(
        f"{_safe_filename(envelope.title)}-signed.pdf", revision.file.name, "application/pdf"
    )
    for recipient, about in _everyone(envelope):
        send_email(
            [recipient],
            f"Completed: {envelope.title} / 已完成签署",
            f'All parties have signed "{envelope.title}". The signed PDF is attached; its SHA-256 is {revision.sha256}.\n'
            f"Check it at {settings.BASE_URL}/verify or with `econtract verify`.\n\n《{envelope.title}》已由各方签署完成，签署文件见附件。\n",
            attachments=[attachment],
            purpose="completed",
            about=about,
        )


def _safe_filename(title: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in title).strip("_")
    return cleaned[:80] or "contract"


def _everyone(envelope: Envelope) -> list[tuple[str, About]]:
    """Each party and the sender, once per address; a failed mail names the party it was for."""
    recipients: dict[str, About] = {}
    for party in envelope.parties.order_by("order", "id"):
        if party.email:  # an automatic party may have none
            recipients.setdefault(party.email, About(envelope, payload={"party": str(party.id)}))
    recipients.setdefault(envelope.created_by.email, About(envelope, payload={"sender": True}))
    return list(recipients.items())


def _notify_all(envelope: Envelope, subject: str, body: str) -> None:
    for recipient, about in _everyone(envelope):
        send_email([recipient], subject, f'"{envelope.title}": {body}\n', purpose="notice", about=about)


def decline(envelope_id: Any, party_id: Any, user: User, *, reason: str, context: RequestContext) -> Envelope:
    envelope, party = _load_party(envelope_id, party_id)
    _authorize_party(party, user)
    return record_decline(envelope, party, reason=reason, user=user, context=context)


def record_decline(
    envelope: Envelope, party: Party, *, reason: str, user: User | None, context: RequestContext
) -> Envelope:
    """The party (already authorised: by her account, or by a proof of her email) declines."""
    _check_open(envelope, context)
    reason = user_text(reason, "reason", TextKind.LINES)[:2000]
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
        if user is not None:
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
    permissions.require(user, envelope, permissions.Action.VOID)
    reason = user_text(reason, "reason", TextKind.LINES)[:2000]
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

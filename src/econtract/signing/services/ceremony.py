"""The signing ceremony: willingness code, PIN, one incremental PAdES revision."""

from __future__ import annotations

import logging
from typing import Any

from asn1crypto import x509
from django.db import transaction
from django.utils import timezone

from econtract.accounts.models import User
from econtract.evidence.services import RequestContext, record_event
from econtract.identity import services as otp_service
from econtract.identity.errors import IdentityError
from econtract.identity.models import OtpChallenge
from econtract.notifications.services import About
from econtract.pki import custody
from econtract.pki.errors import PkiError
from econtract.pki.services import platform_chain, signing_validation_context_for
from econtract.pki.tsa import get_timestamper
from econtract.signing import pades
from econtract.signing.models import DocumentRevision, Envelope, Party
from econtract.signing.services.envelopes import (
    _authorize_party,
    _bind_party_user,
    _load_party,
    _locked,
    _store_revision,
)
from econtract.signing.services.routing import _advance, _check_open, _check_turn

logger = logging.getLogger("econtract.signing")


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
        # `otp_sent` is recorded once the mail server accepted the code, not when it was queued.
        about=About(envelope, on_sent="otp_sent", payload={"party": str(party.id), "channel": "email"}),
    )
    return issued.challenge


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

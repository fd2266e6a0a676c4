"""The signing ceremony: assurance level, willingness check, PIN, one incremental PAdES revision."""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from asn1crypto import x509
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from PIL import Image

from econtract.accounts.models import User
from econtract.evidence.services import RequestContext, record_event
from econtract.identity import assurance
from econtract.identity.models import OtpChallenge
from econtract.pki import custody
from econtract.pki.errors import PkiError
from econtract.pki.services import platform_chain, signing_validation_context_for
from econtract.pki.tsa import get_timestamper
from econtract.seals.signatures import signature_for_signing
from econtract.signing import pades
from econtract.signing.errors import InvalidSigningRequest
from econtract.signing.marks import Mark
from econtract.signing.models import (
    FILLED_KINDS,
    MARK_KINDS,
    DocumentRevision,
    Envelope,
    Party,
    SignatureField,
)
from econtract.signing.services import filling, willingness
from econtract.signing.services.envelopes import (
    _authorize_party,
    _bind_party_user,
    _load_party,
    _locked,
    _store_revision,
)
from econtract.signing.services.routing import _advance, _check_open, _check_turn

logger = logging.getLogger("econtract.signing")


@dataclass(frozen=True)
class SealMaterial:
    """What an organisation's seal brings to one signature: its key, certificate, name and picture."""

    private_key: Any
    certificate: x509.Certificate
    signer_name: str
    mark: Mark


class SealStep(Protocol):
    """How a seal takes part in the signing transaction (signing.services.seal_use implements it)."""

    def material(self, envelope: Envelope, party: Party) -> SealMaterial:
        """Authorise again under the envelope's lock, then unseal the seal's key."""

    def record(
        self,
        envelope: Envelope,
        party: Party,
        *,
        document_sha256: str,
        certificate_serial: str,
        cross_page: bool,
    ) -> dict[str, Any]:
        """Record the use (SealUsage, the seal's own event); the ``signed`` event's seal payload."""


def png_mark(png: bytes) -> Mark:
    """A PNG as a mark, its natural size in pixels."""
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
    return Mark(width=float(width), height=float(height), png=png)


def request_signing_code(
    envelope_id: Any,
    party_id: Any,
    user: User,
    context: RequestContext,
    client: HttpRequest | str | None = None,
) -> OtpChallenge | None:
    """Send the willingness code(s) the party's willingness names (email, SMS); returns the first
    (None when it names neither, e.g. an authenticator app only)."""
    envelope, party = _load_party(envelope_id, party_id)
    _authorize_party(party, user)
    _check_open(envelope, context)
    _check_turn(party)
    # no code for a party who could not sign with it: she is led through verification first
    willingness.require_level(envelope, party, assurance.level_of(user), context)
    sent = willingness.send_willingness_codes(envelope, party, user, context, client)
    return sent[0] if sent else None


def _record_refusal(kind: str, envelope: Envelope, party: Party, why: str, context: RequestContext) -> None:
    """A failed willingness check is evidence too; recorded in its own committed transaction."""
    record_event(
        kind,
        envelope,
        context,
        organization=envelope.organization,
        payload={"party": str(party.id), "why": why},
    )


def prove_signer(
    envelope: Envelope,
    party: Party,
    user: User,
    *,
    otp: str,
    sms_otp: str,
    totp: str,
    webauthn: dict[str, Any] | None,
    pin: str,
    context: RequestContext,
) -> tuple[willingness.WillingnessProof, Any, Any]:
    """Her willingness check, then her PIN unwrapping her key (a wrong PIN is recorded and counted).

    Returns the proof, her private key and its IssuedCertificate; the caller signs, or drops the key.
    """
    proof = willingness.check_willingness(
        envelope, party, user, otp=otp, sms_otp=sms_otp, totp=totp, webauthn=webauthn, context=context
    )
    try:
        private_key, issued = custody.unwrap_signing_key(user, pin)
    except PkiError as exc:
        _record_refusal("pin_failed", envelope, party, exc.code, context)
        raise
    return proof, private_key, issued


def _verification_method(user: User) -> str:
    identity = assurance.current_identity(user)
    return identity.method if identity is not None else "email"


def sign(
    envelope_id: Any,
    party_id: Any,
    user: User,
    *,
    otp: str,
    pin: str,
    context: RequestContext,
    sms_otp: str = "",
    totp: str = "",
    webauthn: dict[str, Any] | None = None,
    signature_id: UUID | None = None,
    seal_id: UUID | None = None,
    values: Mapping[str, Any] | None = None,
) -> Envelope:
    """The party signs: her level, the willingness check, then PIN to unwrap her key, then one
    incremental PAdES revision showing her signature (``signature_id``, else her default one) and the
    ``values`` of the fields she fills (signing.services.filling), locked by her signature.

    An organisation party signs with ``seal_id`` instead (signing.services.seal_use).
    Failed codes and PINs are recorded and counted outside the signing transaction so they stay counted.
    """
    envelope, party = _load_party(envelope_id, party_id)
    if party.kind == Party.Kind.ORGANIZATION:
        # imported here: the seal ceremony is built on this module's commit_signature
        from econtract.signing.services.seal_use import sign_with_seal

        return sign_with_seal(
            envelope,
            party,
            user,
            seal_id=seal_id,
            otp=otp,
            pin=pin,
            sms_otp=sms_otp,
            totp=totp,
            webauthn=webauthn,
            context=context,
            values=values,
        )
    if seal_id is not None:
        raise InvalidSigningRequest("a person signs with her signature; seal_id is for organisation parties")
    _authorize_party(party, user)
    _check_open(envelope, context)
    _check_turn(party)
    filling.check_values(party, values or {})  # before any code or PIN is spent
    level = assurance.level_of(user)
    willingness.require_level(envelope, party, level, context)
    # chosen before any code is checked: an unknown signature_id costs her nothing
    png, signature_kind, signature_sha256 = signature_for_signing(user, signature_id)
    proof, private_key, issued = prove_signer(
        envelope,
        party,
        user,
        otp=otp,
        sms_otp=sms_otp,
        totp=totp,
        webauthn=webauthn,
        pin=pin,
        context=context,
    )
    certificate = x509.Certificate.load(bytes(issued.certificate_der))
    return commit_signature(
        envelope,
        party,
        private_key=private_key,
        certificate=certificate,
        signer_name=user.full_name or party.name,
        proof=proof,
        evidence={
            "assurance_level": str(level),
            "verification_method": _verification_method(user),
            "willingness": [*proof.methods, "pin"],
            "key_custody": "pin",
            "signature": {
                "id": str(signature_id) if signature_id else None,
                "kind": signature_kind,
                "sha256": signature_sha256,
            },
        },
        user=user,
        context=context,
        mark=png_mark(png),
        values=values,
    )


def commit_signature(
    envelope: Envelope,
    party: Party,
    *,
    private_key: Any = None,
    certificate: x509.Certificate | None = None,
    signer_name: str,
    proof: willingness.WillingnessProof | None,
    evidence: dict[str, Any],
    user: User | None,
    context: RequestContext,
    mark: Mark | None = None,
    seal: SealStep | None = None,
    values: Mapping[str, Any] | None = None,
) -> Envelope:
    """One incremental PAdES revision by ``party``, stored, recorded and routed in one transaction.

    With ``seal`` the key, certificate and mark are the seal's, taken under the envelope's lock; its
    use is recorded in the same transaction as the revision (``proof`` None: an automatic grant).
    """
    org = envelope.organization
    with transaction.atomic():
        envelope = _locked(envelope.pk)
        party = Party.objects.select_for_update().get(pk=party.pk)
        _check_open(envelope, context)
        _check_turn(party)
        if party.kind == Party.Kind.ORGANIZATION and seal is None:
            # whatever path led here (e.g. signing without an account): an organisation signs with a seal
            raise InvalidSigningRequest("an organisation party signs only with one of its seals")
        if seal is not None:
            material = seal.material(envelope, party)
            private_key, certificate = material.private_key, material.certificate
            signer_name, mark = material.signer_name, material.mark
        if private_key is None or certificate is None:
            raise RuntimeError("a signature needs a key and its certificate")
        current = envelope.current_document()
        party_fields = list(party.fields.order_by("position", "page"))
        placements = [
            pades.Placement(page=f.page, x=f.x, y=f.y, width=f.width, height=f.height, kind=f.kind)
            for f in party_fields
            if f.kind in MARK_KINDS
        ]
        chain = platform_chain()
        now = timezone.localtime()
        to_fill = [f for f in party_fields if f.kind in FILLED_KINDS]
        filled = filling.resolve(to_fill, values or {}, signed_at=now)
        field_name = f"Signature_{party.order}_{party.id.hex[:8]}"
        signed_pdf = pades.sign_revision(
            current.read_bytes(),
            field_name=field_name,
            placements=placements,
            private_key=private_key,
            certificate=certificate,
            chain=chain,
            signer_name=signer_name,
            signed_at_label=pades.signing_time_label(now),
            timestamper=get_timestamper(),
            validation_context=signing_validation_context_for([certificate]),
            mark=mark,
            form_values=filled.text,
            checkboxes=filled.checkboxes,
        )
        del private_key
        stored_values = filled.stored
        for row in to_fill:
            if row.name in stored_values:
                row.value, row.filled_at = stored_values[row.name], now
                row.save(update_fields=["value", "filled_at"])
        revision = _store_revision(envelope, signed_pdf, DocumentRevision.Reason.SIGNATURE, party=party)
        envelope.save(update_fields=["current_version"])
        party.status = Party.Status.SIGNED
        party.signed_at = timezone.now()
        party.signature_field_name = field_name
        party.save(update_fields=["status", "signed_at", "signature_field_name"])
        if user is not None:
            _bind_party_user(party, user)
        if proof is not None:
            proof.consume()
        if seal is not None:
            evidence = {
                **evidence,
                **seal.record(
                    envelope,
                    party,
                    document_sha256=revision.sha256,
                    certificate_serial=str(certificate.serial_number),
                    cross_page=any(f.kind == SignatureField.Kind.CROSS_PAGE_SEAL for f in party_fields),
                ),
            }
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
                **({"fields": stored_values} if stored_values else {}),
                **evidence,
            },
        )
        _advance(envelope, context)
    return envelope

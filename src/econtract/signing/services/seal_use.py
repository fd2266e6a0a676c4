"""An organisation party signs with one of its seals: applied by a member, or by the platform
under the sender's automatic-signing grant.

The member's ceremony: she is the party's named member; the seal is a seal of the verified
organisation the party names, and she is a member of it; seals.services.authorize_use before any
willingness code is checked; the willingness check; her own PIN (it proves her, her key is not
used); then, under the envelope's lock, authorise again, unseal the seal's key, sign with the seal's
certificate and picture, and record the use beside the ``signed`` event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from econtract.accounts.models import Membership, User
from econtract.evidence.services import RequestContext, record_event
from econtract.identity import assurance
from econtract.seals.errors import SealsError
from econtract.seals.models import Seal
from econtract.seals.services import (
    EnvelopeFacts,
    SealUseDecision,
    authorize_automatic_use,
    authorize_use,
    record_use,
    seal_signing_material,
)
from econtract.signing.errors import (
    AlreadySigned,
    EnvelopeClosed,
    InvalidSigningRequest,
    NotThisParty,
    NotYourTurn,
    SigningError,
)
from econtract.signing.marks import Mark
from econtract.signing.models import Envelope, Party
from econtract.signing.services import filling, willingness
from econtract.signing.services.ceremony import (
    SealMaterial,
    _verification_method,
    commit_signature,
    png_mark,
    prove_signer,
)
from econtract.signing.services.envelopes import _authorize_party, _load_party
from econtract.signing.services.routing import _check_open, _check_turn
from econtract.signing.services.seal_facts import automatic_decision, facts_for, seal_of_party

logger = logging.getLogger("econtract.signing")


def seal_mark(seal: Seal) -> Mark:
    """A generated seal is drawn as vectors (crisp at any size); an uploaded scan as its PNG."""
    if seal.source == Seal.Source.GENERATED and seal.drawing:
        return Mark(width=seal.drawing_width, height=seal.drawing_height, drawing=bytes(seal.drawing))
    return png_mark(bytes(seal.image_png))


@dataclass
class SealUse:
    """One use of ``seal`` inside the signing transaction (ceremony.SealStep)."""

    seal: Seal
    user: User | None  # None: the platform, under an automatic-signing grant
    context: RequestContext
    decision: SealUseDecision | None = None
    facts: EnvelopeFacts | None = field(default=None)

    def material(self, envelope: Envelope, party: Party) -> SealMaterial:
        # The grant may have been revoked, or the seal suspended, since the first check: judge again
        # on the seal's current row and the envelope as locked now.
        seal = Seal.objects.select_related("organization", "certificate").get(pk=self.seal.pk)
        self.facts = facts_for(envelope, party)
        if self.user is None:
            self.decision = authorize_automatic_use(seal, self.facts)
        else:
            self.decision = authorize_use(seal, self.user, self.facts)
        private_key, certificate = seal_signing_material(seal)
        self.seal = seal
        return SealMaterial(
            private_key=private_key,
            certificate=certificate,
            signer_name=seal.organization.name,
            mark=seal_mark(seal),
        )

    def record(
        self,
        envelope: Envelope,
        party: Party,
        *,
        document_sha256: str,
        certificate_serial: str,
        cross_page: bool,
    ) -> dict[str, Any]:
        if self.decision is None or self.facts is None:
            raise RuntimeError("record a seal's use only after its material was taken")
        usage = record_use(
            self.decision,
            self.facts,
            used_by=self.user,
            document_sha256=document_sha256,
            certificate_serial=certificate_serial,
            cross_page=cross_page,
            context=self.context,
        )
        approval = self.decision.approval
        return {
            "seal": str(self.seal.id),
            "grant": str(self.decision.grant.id),
            "approval": str(approval.id) if approval is not None else None,
            "applied_by": str(self.user.pk) if self.user is not None else None,
            "automatic": self.user is None,
            "seal_certificate_serial": certificate_serial,
            "seal_usage": str(usage.id),
            "cross_page": cross_page,
        }


def _require_member_of(seal: Seal, user: User) -> None:
    if not Membership.objects.filter(organization=seal.organization, user=user).exists():
        raise NotThisParty("only a member of the organisation may apply its seal")


def _refused(envelope: Envelope, party: Party, seal: Seal, exc: SealsError, context: RequestContext) -> None:
    """A refused seal is evidence too, recorded in its own committed transaction."""
    record_event(
        "seal_refused",
        envelope,
        context,
        organization=envelope.organization,
        payload={"party": str(party.id), "seal": str(seal.id), "why": exc.code},
    )


def sign_with_seal(
    envelope: Envelope,
    party: Party,
    user: User,
    *,
    seal_id: UUID | None,
    otp: str,
    pin: str,
    context: RequestContext,
    sms_otp: str = "",
    totp: str = "",
    webauthn: dict[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Envelope:
    """The party's named member applies the organisation's seal ``seal_id`` (and fills its fields)."""
    _authorize_party(party, user)
    _check_open(envelope, context)
    _check_turn(party)
    filling.check_values(party, values or {})
    if seal_id is None:
        raise InvalidSigningRequest("an organisation party signs with one of its seals: seal_id is required")
    level = assurance.level_of(user)
    willingness.require_level(envelope, party, level, context)
    seal = seal_of_party(party, seal_id)
    _require_member_of(seal, user)
    # Before any code is checked: nobody spends a willingness code on a seal she may not use.
    try:
        authorize_use(seal, user, facts_for(envelope, party))
    except SealsError as exc:
        _refused(envelope, party, seal, exc, context)
        raise
    # Her PIN proves it is she (and is counted as for her own signature); her key signs nothing.
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
    del private_key
    return commit_signature(
        envelope,
        party,
        signer_name=seal.organization.name,
        proof=proof,
        evidence={
            "assurance_level": str(level),
            "verification_method": _verification_method(user),
            "willingness": [*proof.methods, "pin"],
            "key_custody": "seal",
            "applied_by_certificate_serial": str(issued.serial_number),
        },
        user=user,
        context=context,
        seal=SealUse(seal=seal, user=user, context=context),
        values=values,
    )


def _record_automatic_failure(envelope: Envelope, party: Party, why: str, detail: str) -> None:
    record_event(
        "automatic_signing_failed",
        envelope,
        RequestContext.system("automatic signing"),
        organization=envelope.organization,
        payload={
            "party": str(party.id),
            "seal": str(party.automatic_seal_id),
            "why": why,
            "detail": detail[:500],
        },
    )


def sign_automatically(envelope_id: Any, party_id: Any) -> Envelope | None:
    """Sign an automatic organisation party whose turn has come (run after the turn commits).

    A refusal (the grant revoked or expired, the seal suspended) leaves the party ready and is
    recorded as ``automatic_signing_failed``; the sender may void, or remind to try again.
    """
    envelope, party = _load_party(envelope_id, party_id)
    if party.automatic_seal_id is None or party.status != Party.Status.READY:
        return None
    if envelope.status != Envelope.Status.SENT:
        return None
    try:
        decision = automatic_decision(envelope, party)
        # The actor of every event is the grant that allowed it: there is no person to name.
        context = RequestContext.system(f"automatic signing (grant {decision.grant.id})")
        return commit_signature(
            envelope,
            party,
            signer_name=decision.seal.organization.name,
            proof=None,
            evidence={"key_custody": "seal", "willingness": [], "assurance_level": None},
            user=None,
            context=context,
            seal=SealUse(seal=decision.seal, user=None, context=context),
        )
    except (AlreadySigned, EnvelopeClosed, NotYourTurn):
        return None  # the envelope moved on meanwhile (signed, voided, declined): nothing to do
    except (SealsError, SigningError) as exc:
        logger.warning("automatic signing of party %s refused: %s", party.id, exc)
        _record_automatic_failure(envelope, party, exc.code, str(exc))
    except Exception as exc:  # noqa: BLE001 - the turn has committed; the failure must be on record
        logger.exception("automatic signing of party %s failed", party.id)
        _record_automatic_failure(envelope, party, getattr(exc, "code", "internal_error"), "")
    return None

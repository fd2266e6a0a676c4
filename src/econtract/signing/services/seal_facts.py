"""What signing tells seals about an envelope and an organisation party, and who that party is.

Kept apart from the ceremony so that creating, sending and routing can judge automatic parties
without importing the signing ceremony itself.
"""

from __future__ import annotations

from econtract.accounts.models import Organization
from econtract.seals.errors import SealNotAuthorized
from econtract.seals.models import Seal
from econtract.seals.services import EnvelopeFacts, SealUseDecision, authorize_automatic_use
from econtract.signing.errors import InvalidEnvelope
from econtract.signing.models import Envelope, Party


def facts_for(envelope: Envelope, party: Party) -> EnvelopeFacts:
    return EnvelopeFacts(
        envelope_id=envelope.id,
        party_id=party.id,
        sender_organization_id=envelope.organization_id,
        title=envelope.title,
        original_sha256=envelope.original_sha256,
        amount=envelope.amount,
        currency=envelope.currency,
    )


def party_organization(party: Party) -> Organization | None:
    """The verified organisation whose unified social credit code the party names, if there is one."""
    if party.kind != Party.Kind.ORGANIZATION or not party.organization_uscc:
        return None
    return Organization.objects.filter(
        uscc=party.organization_uscc, verification_status=Organization.VerificationStatus.VERIFIED
    ).first()


def seal_of_party(party: Party, seal_id: object) -> Seal:
    """The seal ``seal_id`` if it is a seal of the party's verified organisation; else SealNotAuthorized.

    One answer for "no such seal" and "another organisation's seal": a party learns nothing of seals
    outside her organisation.
    """
    organization = party_organization(party)
    seal = (
        Seal.objects.select_related("organization", "certificate")
        .filter(pk=seal_id, organization=organization)
        .first()
        if organization is not None
        else None
    )
    if seal is None:
        raise SealNotAuthorized(
            f"this seal is not a seal of the verified organisation {party.organization_uscc}"
        )
    return seal


def automatic_decision(envelope: Envelope, party: Party) -> SealUseDecision:
    """The automatic-signing grant that lets the platform sign for this party, or the refusal.

    Automatic signing is the sender organisation's own seal on envelopes it sends: the party must
    name the sender organisation itself (verified, same USCC) and its seal.
    """
    sender = envelope.organization
    if not (sender.is_verified and sender.uscc and sender.uscc == party.organization_uscc):
        raise InvalidEnvelope(
            f"party {party.position + 1}: automatic signing is only for the sending organisation's own "
            "verified party (its unified social credit code)"
        )
    seal = (
        Seal.objects.select_related("organization", "certificate")
        .filter(pk=party.automatic_seal_id, organization=sender)
        .first()
    )
    if seal is None:
        raise InvalidEnvelope(
            f"party {party.position + 1}: seal_id is not a seal of the sending organisation"
        )
    return authorize_automatic_use(seal, facts_for(envelope, party))


def check_automatic_parties(envelope: Envelope) -> None:
    """Refuse an envelope whose automatic parties could not be signed now (at create and at send)."""
    for party in envelope.parties.filter(kind=Party.Kind.ORGANIZATION, automatic_seal__isnull=False):
        automatic_decision(envelope, party)

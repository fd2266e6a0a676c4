"""What the signing page offers to choose: her own signatures for a person party, and for an
organisation party the seals of that organisation she holds a live grant for (web/views/signing.py
shows them; seals and signing decide)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from econtract.seals import services as seal_services
from econtract.seals import signatures
from econtract.seals.grants import grants_for_user
from econtract.seals.models import ApprovalRequest, Seal
from econtract.signing.models import Party
from econtract.signing.services.seal_facts import facts_for, party_organization, seal_of_party


def chosen_id(value: Any) -> UUID | None:
    """A posted signature_id / seal_id, or None when empty or not an id (the service then decides)."""
    text = (value or "").strip() if isinstance(value, str) else ""
    if not text:
        return None
    try:
        return UUID(text)
    except ValueError:
        return None


def usable_seals(party: Party, user: Any) -> list[Seal]:
    """Active seals of the party's verified organisation that she holds a live grant for."""
    organization = party_organization(party)
    if organization is None or not getattr(user, "is_authenticated", False):
        return []
    seals = Seal.objects.for_member(user).filter(organization=organization, status=Seal.Status.ACTIVE)
    return [seal for seal in seals.order_by("created_at") if grants_for_user(seal, user).exists()]


def signing_choices(party: Party, user: Any, chosen: UUID | None = None) -> dict[str, Any]:
    """The ceremony's choice: ``seals`` (organisation party) or ``signatures`` (person party)."""
    if not getattr(user, "is_authenticated", False):
        return {}
    if party.kind == Party.Kind.ORGANIZATION:
        seals = usable_seals(party, user)
        pending = ApprovalRequest.objects.filter(
            envelope_id=party.envelope_id,
            requested_by=user,
            status__in=[ApprovalRequest.Status.PENDING, ApprovalRequest.Status.APPROVED],
        ).select_related("seal")
        requested = {approval.seal_id for approval in pending}
        chosen_seal = chosen or (seals[0].pk if seals else None)
        # Her chosen seal's grants all need an approval and none is asked for yet: offer to ask now.
        needs = [
            seal.pk
            for seal in seals
            if seal.pk == chosen_seal
            and seal.pk not in requested
            and all(grant.requires_approval for grant in grants_for_user(seal, user))
        ]
        return {
            "approval_seal": needs[0] if needs else None,
            "seal_party": True,
            "party_organization": party_organization(party),
            "usable_seals": seals,
            "chosen_seal": chosen_seal,
            "approval_requests": list(pending),
        }
    mine = list(signatures.list_signatures(user))
    default = next((s.pk for s in mine if s.is_default), mine[0].pk if mine else None)
    return {"my_signatures": mine, "chosen_signature": chosen or default}


def request_seal_approval(
    party: Party, user: Any, seal_id: UUID, *, note: str, context: Any
) -> ApprovalRequest:
    """As POST /api/v1/seals/{id}/approval-requests does (signing/seal_api.py): the party's seal,
    the envelope's facts, and seals.services.request_approval."""
    seal = seal_of_party(party, seal_id)
    envelope = party.envelope
    return seal_services.request_approval(seal, user, facts_for(envelope, party), note=note, context=context)

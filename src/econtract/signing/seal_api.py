"""Using a seal on an envelope: approval requests for one envelope and document. Thin."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from econtract.accounts.models import User
from econtract.api.openapi import responses
from econtract.evidence.services import RequestContext
from econtract.seals import api as seals_api
from econtract.seals import services as seals
from econtract.seals.models import Seal
from econtract.signing.errors import NotThisParty
from econtract.signing.models import Envelope, Party
from econtract.signing.services import user_may_act_as
from econtract.signing.services.routing import _check_open
from econtract.signing.services.seal_facts import facts_for
from econtract.textinput import SingleLineText

router = Router(tags=["seals"])
# GET /seals/{id}/approval-requests is seals' own (seals/api.py); Django routes one path to one
# router's view, so this POST joins that path on the seals router. It is added while api/urls.py
# imports the routers, before add_router freezes them (this module imports seals.api first).
_same_path = seals_api.router


class ApprovalRequestIn(Schema):
    envelope_id: UUID
    note: SingleLineText = Field(default="", max_length=500, description="Shown to the approver")


def _party_applying(envelope: Envelope, seal_uscc: str, user: User) -> Party:
    """The envelope's organisation party (of the seal's organisation) that this user applies seals for."""
    candidates = envelope.parties.filter(kind=Party.Kind.ORGANIZATION, organization_uscc=seal_uscc).exclude(
        status__in=[Party.Status.SIGNED, Party.Status.DECLINED]
    )
    for party in candidates:
        if user_may_act_as(party, user):
            return party
    raise NotThisParty("only the member named by this envelope's organisation party may ask to use its seal")


@_same_path.post(
    "/seals/{seal_id}/approval-requests",
    response=responses({201: seals_api.ApprovalOut}, 400, 401, 403, 404, 409, 422),
)
def request_approval(request: HttpRequest, seal_id: UUID, payload: ApprovalRequestIn) -> Status:
    """Ask to use this seal once, on this envelope's document as sent (the seal's grant requires it).

    The caller is the member named by the envelope's party for the seal's organisation, and holds a
    live grant of the seal; the approver decides at ``POST /approval-requests/{id}/approve|reject``.
    """
    user = cast(User, request.user)
    try:
        seal = seals.seal_visible_to(user, seal_id)
    except Seal.DoesNotExist:
        raise Http404("no such seal") from None
    envelope = get_object_or_404(Envelope.objects.visible_to(user), pk=payload.envelope_id)
    context = RequestContext.from_request(request)
    _check_open(envelope, context)
    party = _party_applying(envelope, seal.organization.uscc, user)
    approval = seals.request_approval(
        seal, user, facts_for(envelope, party), note=payload.note, context=context
    )
    return Status(201, seals_api.approval_out(approval))

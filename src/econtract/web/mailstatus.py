"""What the sender's envelope page says about emails that did not (yet) reach their recipients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _

from econtract.notifications.models import EmailDelivery
from econtract.notifications.services import undelivered
from econtract.signing import services
from econtract.signing.models import Envelope, Party

PURPOSE_NAMES = {
    "signing_link": _("signing link"),
    "completed": _("signed PDF"),
    "notice": _("notice"),
}


def undelivered_mail(envelope: Envelope, parties: Sequence[Party]) -> list[dict[str, Any]]:
    """Failed or retrying emails about the envelope, newest first; a signing link only while it is
    the party's latest one (a later reminder that arrived settles it). Codes are the signer's concern."""
    by_id = {str(p.id): p for p in parties}
    latest_links = services.turn_notifications(envelope)
    rows = []
    for mail in undelivered(envelope):
        if mail.purpose not in PURPOSE_NAMES:
            continue
        party = by_id.get(str(mail.event_payload.get("party", "")))
        if mail.purpose == services.SIGNING_LINK_MAIL and (
            party is None or latest_links.get(str(party.id)) != mail
        ):
            continue
        rows.append(
            {
                "mail": mail,
                "what": PURPOSE_NAMES[mail.purpose],
                "party": party,
                "failed": mail.status == EmailDelivery.Status.FAILED,
                "can_remind": mail.purpose == services.SIGNING_LINK_MAIL
                and party is not None
                and party.status == Party.Status.READY
                and envelope.status == Envelope.Status.SENT,
            }
        )
    return rows

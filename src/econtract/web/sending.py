"""What the sender is told before sending: why Send cannot be used yet, and what deserves a second look.

The reasons mirror the checks of ``signing.services.send_envelope``, which stays the authority; this
only lets the page say them before the click instead of after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby

from django.utils import timezone
from django.utils.translation import gettext as _

from econtract.signing.models import Envelope, Party


@dataclass
class SendCheck:
    blockers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # The parties grouped by signing order, lowest first: each group is emailed together.
    rounds: list[list[Party]] = field(default_factory=list)

    @property
    def can_send(self) -> bool:
        return not self.blockers


def check_send(envelope: Envelope) -> SendCheck:
    parties = list(envelope.parties.order_by("order", "position"))
    check = SendCheck(rounds=[list(group) for _, group in groupby(parties, key=lambda p: p.order)])
    if envelope.status != Envelope.Status.DRAFT:
        check.blockers.append(
            _("Only a draft can be sent; this envelope is %(status)s.")
            % {"status": envelope.get_status_display()}
        )
    if not parties:
        check.blockers.append(_("Add at least one party before sending."))
    if envelope.deadline and envelope.deadline <= timezone.now():
        check.blockers.append(_("The signing deadline has already passed."))
    with_box = set(envelope.fields.values_list("party_id", flat=True))
    for party in parties:
        if party.pk not in with_box:
            check.warnings.append(
                _("%(name)s has no signature box: the signature will be valid but not visible on any page.")
                % {"name": party.name}
            )
    return check

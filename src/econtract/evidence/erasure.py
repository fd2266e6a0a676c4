"""Erasing a person's data from the evidence (PIPL art. 47) while every proof still holds.

The log's leaves hold personal values only as salted SHA-256 commitments (leaf.py). Erasure deletes
those salts, so the commitments can no longer be opened or guessed, and blanks the same values in the
event rows (actor, actor_label, ip_address, user_agent, payload), setting ``erased_at``: the one UPDATE
the database lets through (append_only.py). Leaves, tree, checkpoints and cosignatures are untouched, so
every inclusion and consistency proof and every published checkpoint still verifies; the audit checks
erased events for their links and leaves, not for their blanked content.

Which events: those she acted in (as account or by her email as label), and those about her account and
her identity verifications. Legal retention duties (Electronic Signature Law art. 24, contracts' own
periods) are the operator's to weigh before erasing; docs/evidence.md says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from econtract.evidence import log
from econtract.evidence.models import Event, EventSecret
from econtract.evidence.services import RequestContext, record_event

CHUNK = 500
BLANK: dict[str, Any] = {
    "actor": None,
    "actor_label": "",
    "ip_address": None,
    "user_agent": "",
    "payload": {},
}


@dataclass(frozen=True)
class ErasureResult:
    events: int
    salts: int


def events_of(user: Any) -> Q:
    """Events that carry her personal data: her actions, and events about her account and identities."""
    from econtract.identity.models import IdentityVerification

    verifications = [
        str(pk) for pk in IdentityVerification.objects.filter(user=user).values_list("pk", flat=True)
    ]
    about_her = Q(subject_type=user._meta.label_lower, subject_id=str(user.pk)) | Q(
        subject_type=IdentityVerification._meta.label_lower, subject_id__in=verifications
    )
    acted = Q(actor=user)
    if user.email:
        acted |= Q(actor_label__iexact=user.email)
    return acted | about_her


def erase_personal_data(user: Any, context: RequestContext) -> ErasureResult:
    """Erase her data from every evidence event that holds it; records ``personal_data_erased``."""
    log.integrate_pending()  # a queued event gets its leaf (committing to the values) before they go
    ids = list(
        Event.objects.filter(events_of(user), erased_at__isnull=True)
        .filter(leaf__isnull=False)
        .values_list("pk", flat=True)
    )
    salts = 0
    now = timezone.now()
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            salts += EventSecret.objects.filter(event_id__in=chunk).delete()[0]
            Event._base_manager.filter(pk__in=chunk).update(**BLANK, erased_at=now)
        record_event(
            "personal_data_erased",
            user,
            context,
            payload={"events": len(ids), "salts": salts},
        )
    return ErasureResult(events=len(ids), salts=salts)

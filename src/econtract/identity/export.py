"""A person's copy of her data (PIPL art. 45): one JSON document, asked for after re-authentication.

It holds what the platform keeps about her: the account, memberships, API keys and second factors
(names and dates, never secrets), her identity verifications with her own full ID number, phone and
bank card (she is the one person they may be shown to), the metadata of her images (not the
pictures), her certificates, the envelopes she created or is a party of (metadata only: of other
people's envelopes, only her own party), and every evidence event she caused or that concerns her
or her verifications. Asking for it is itself an evidence event on her account.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext, record_event
from econtract.identity import factors
from econtract.identity.models import IdentityVerification
from econtract.identity.vault import VaultError, unseal_text

FORMAT = "econtract.personal-data-export/1"
# identity.verification's vault purposes for the three sealed columns
SEALED_COLUMNS = (
    ("id_number", "id_number_sealed", "identity.id_number"),
    ("phone", "phone_sealed", "identity.phone"),
    ("bank_card", "bank_card_sealed", "identity.bank_card"),
)


def _when(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _unsealed(blob: bytes, purpose: str) -> str | None:
    if not blob:
        return None
    try:
        return unseal_text(bytes(blob), purpose=purpose)
    except VaultError:
        return None  # sealed under a key no longer configured: it cannot be read by anyone


def _verification(row: IdentityVerification) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": str(row.pk),
        "method": row.method,
        "purpose": row.purpose,
        "status": row.status,
        "assurance_level": row.assurance_level,
        "name": row.name,
        "id_type": row.id_type,
        "country": row.country,
        "provider": row.provider,
        "provider_reference": row.provider_reference,
        "sandbox": row.sandbox,
        "outcome": row.outcome,
        "reason": row.reason,
        "created_at": _when(row.created_at),
        "verified_at": _when(row.verified_at),
        "decided_at": _when(row.decided_at),
        "revoked_at": _when(row.revoked_at),
        "images": [
            {
                "id": str(image.pk),
                "kind": image.kind,
                "content_type": image.content_type,
                "size": image.size,
                "sha256": image.sha256,
                "created_at": _when(image.created_at),
            }
            for image in row.images.order_by("created_at")
        ],
    }
    for name, column, purpose in SEALED_COLUMNS:
        item[name] = _unsealed(getattr(row, column), purpose)
    return item


def _envelopes(user: Any) -> list[dict[str, Any]]:
    from econtract.signing.models import Envelope  # signing builds on identity: imported late

    mine = Q(created_by=user)
    as_party = Q(parties__user=user) | Q(parties__email__iexact=user.email)
    items = []
    for envelope in (
        Envelope.objects.filter(mine | as_party)
        .distinct()
        .select_related("organization")
        .order_by("created_at")
    ):
        created = envelope.created_by_id == user.pk
        parties = (
            envelope.parties.all()
            if created
            else envelope.parties.filter(Q(user=user) | Q(email__iexact=user.email))
        )
        items.append(
            {
                "id": str(envelope.pk),
                "title": envelope.title,
                "organization": envelope.organization.name,
                "status": envelope.status,
                "role": "sender" if created else "party",
                "created_at": _when(envelope.created_at),
                "sent_at": _when(envelope.sent_at),
                "completed_at": _when(envelope.completed_at),
                "ended_at": _when(envelope.ended_at),
                "parties": [_party(party) for party in parties],
            }
        )
    return items


def _party(party: Any) -> dict[str, Any]:
    return {
        "id": str(party.pk),
        "name": party.name,
        "email": party.email,
        "phone": party.phone,
        "status": party.status,
        "signed_at": _when(party.signed_at),
        "declined_at": _when(party.declined_at),
        "decline_reason": party.decline_reason,
    }


def _events(user: Any, verification_ids: list[str]) -> list[dict[str, Any]]:
    concerning = (
        Q(actor=user)
        | Q(subject_type=user._meta.label_lower, subject_id=str(user.pk))
        | Q(subject_type=IdentityVerification._meta.label_lower, subject_id__in=verification_ids)
    )
    return [
        {
            "subject": f"{event.subject_type}:{event.subject_id}",
            "sequence": event.sequence,
            "kind": event.kind,
            "occurred_at": _when(event.occurred_at),
            "actor_label": event.actor_label,
            "ip_address": event.ip_address,
            "user_agent": event.user_agent,
            "payload": event.payload,
            "event_hash": event.event_hash,
        }
        for event in Event.objects.filter(concerning).order_by(
            "occurred_at", "subject_type", "subject_id", "sequence"
        )
    ]


def export_personal_data(user: Any, *, context: RequestContext) -> dict[str, Any]:
    """Everything about ``user``, as a JSON-ready dict. The caller has re-authenticated her."""
    verifications = list(IdentityVerification.objects.filter(user=user).order_by("created_at"))
    record_event("personal_data_exported", user, context, payload={"format": FORMAT})
    verification_ids = [str(row.pk) for row in verifications]
    return {
        "format": FORMAT,
        "exported_at": timezone.now().isoformat(),
        "account": {
            "id": str(user.pk),
            "email": user.email,
            "full_name": user.full_name,
            "email_verified_at": _when(user.email_verified_at),
            "phone": user.phone,
            "phone_verified_at": _when(user.phone_verified_at),
            "assurance_level": user.assurance_level,
            "date_joined": _when(user.date_joined),
            "last_login": _when(user.last_login),
        },
        "memberships": [
            {
                "organization": membership.organization.name,
                "organization_id": str(membership.organization_id),
                "role": membership.role,
                "created_at": _when(membership.created_at),
            }
            for membership in user.memberships.select_related("organization").order_by("created_at")
        ],
        "api_keys": [
            {
                "name": key.name,
                "prefix": key.prefix,
                "created_at": _when(key.created_at),
                "last_used_at": _when(key.last_used_at),
                "revoked_at": _when(key.revoked_at),
            }
            for key in user.api_keys.order_by("created_at")
        ],
        "second_factors": [
            {
                "kind": f.kind,
                "name": f.name,
                "created_at": _when(f.created_at),
                "last_used_at": _when(f.last_used_at),
            }
            for f in factors.list_factors(user)
        ],
        "identity_verifications": [_verification(row) for row in verifications],
        "certificates": [
            {
                "serial_number": certificate.serial_number,
                "profile": certificate.profile,
                "subject": certificate.subject_dn,
                "assurance_level": certificate.assurance_level,
                "not_before": _when(certificate.not_before),
                "not_after": _when(certificate.not_after),
                "revoked_at": _when(certificate.revoked_at),
                "revocation_reason": certificate.revocation_reason,
                "certificate_der_base64": base64.b64encode(bytes(certificate.certificate_der)).decode(),
            }
            for certificate in user.certificates.order_by("created_at")
        ],
        "envelopes": _envelopes(user),
        "evidence_events": _events(user, verification_ids),
    }

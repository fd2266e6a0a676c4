"""Verification by an authorisation letter that the legal representative signs on the platform.

After the enterprise check matched, the platform writes the letter (the organisation, its code, its
legal representative, and the member who asked, 经办人, as the authorised agent), and sends it as an
envelope of the organisation to the representative's own account, requiring L2. The organisation is
verified once that envelope is completed with the representative's signature; a declined or voided
letter rejects the verification. ``refresh_letter`` looks, whenever the verification is read.
"""

from __future__ import annotations

from typing import Any

from econtract.accounts.models import OrganizationVerification, User
from econtract.evidence.services import RequestContext, record_event

SIGNATURE_BOX = {"page": 1, "x": 320.0, "y": 90.0, "width": 200.0, "height": 70.0}


def letter_text(verification: OrganizationVerification, actor: User) -> tuple[str, list[str]]:
    org = verification.organization
    title = f"企业认证授权书 Authorisation letter — {org.name}"
    paragraphs = [
        f"本人{org.legal_rep_name}（证件号码 {org.legal_rep_id_number_masked}）为{org.name}"
        f"（统一社会信用代码 {org.uscc}）的法定代表人。",
        f"本人确认该企业在 econtract 平台办理企业实名认证，并授权{actor.display_name}（{actor.email}）"
        "作为经办人，以该企业名义在平台上办理相关事务。",
        f"I, {org.legal_rep_name}, legal representative of {org.name} (unified social credit code "
        f"{org.uscc}), confirm its verification on econtract and authorise {actor.display_name} "
        f"<{actor.email}> to act for it on the platform.",
        f"Verification {verification.pk}",
        "法定代表人签字 Signature of the legal representative:",
    ]
    return title, paragraphs


def send_letter(
    verification: OrganizationVerification,
    representative: User,
    actor: User,
    role: str,
    context: RequestContext,
) -> OrganizationVerification:
    from econtract.documents.samples import make_contract_pdf
    from econtract.signing.services.envelopes import FieldSpec, PartySpec, create_envelope
    from econtract.signing.services.routing import send_envelope

    org = verification.organization
    title, paragraphs = letter_text(verification, actor)
    envelope = create_envelope(
        organization=org,
        created_by=actor,
        title=title[:300],
        pdf=make_contract_pdf(title, paragraphs),
        parties=[PartySpec(name=org.legal_rep_name, email=representative.email, min_assurance="L2")],
        fields=[FieldSpec(party=0, **SIGNATURE_BOX)],  # type: ignore[arg-type]
        context=context,
    )
    send_envelope(envelope, actor, context)
    verification.envelope_id = envelope.pk
    verification.save(update_fields=["envelope_id"])
    from econtract.accounts.organizations import OrgStatus, _mark_org, acting_as

    _mark_org(org, OrgStatus.PENDING)
    record_event(
        "organization_letter_sent",
        org,
        context,
        organization=org,
        payload={
            "method": OrganizationVerification.Method.AUTHORIZATION_LETTER,
            "verification": str(verification.pk),
            "envelope": str(envelope.pk),
            "legal_representative": str(representative.pk),
            "result": "sent",
            "acting_as": acting_as(actor, org, role),
        },
    )
    return verification


def refresh_letter(
    verification: OrganizationVerification, context: RequestContext
) -> OrganizationVerification:
    """Decide a pending letter verification from its envelope's state (no-op otherwise)."""
    from econtract.signing.models import Envelope, Party

    if (
        verification.method != OrganizationVerification.Method.AUTHORIZATION_LETTER
        or verification.status != OrganizationVerification.Status.PENDING
        or verification.envelope_id is None
    ):
        return verification
    from econtract.accounts.organizations import _reject, _verify, legal_representative_member

    envelope = Envelope.objects.filter(pk=verification.envelope_id).first()
    if envelope is None:
        return verification
    if envelope.status in {Envelope.Status.DECLINED, Envelope.Status.VOIDED, Envelope.Status.EXPIRED}:
        return _reject(
            verification,
            reason=f"the authorisation letter was {envelope.status}",
            decided_by=None,
            context=context,
            step="letter",
            extra={"envelope": str(envelope.pk)},
        )
    if envelope.status != Envelope.Status.COMPLETED:
        return verification
    found = legal_representative_member(verification.organization)
    party: Any = envelope.parties.filter(status=Party.Status.SIGNED).first()
    if found is None or party is None or party.user_id != found[0].pk:
        return _reject(
            verification,
            reason="the letter was not signed by the verified legal representative",
            decided_by=None,
            context=context,
            step="letter",
            extra={"envelope": str(envelope.pk)},
        )
    return _verify(
        verification,
        decided_by=found[0],
        context=context,
        extra={
            "envelope": str(envelope.pk),
            "signed_at": party.signed_at.isoformat() if party.signed_at else None,
        },
    )

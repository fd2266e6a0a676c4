"""Seal verbs: make a seal, find it, decide and record its use, and its lifecycle (core.md §4).

Grants live in seals.grants, approvals in seals.approvals, the usage log in seals.usage; their verbs
are re-exported here so callers import one module. Nothing here imports signing: signing passes
``EnvelopeFacts`` and calls ``authorize_use`` / ``record_use`` inside its own transaction.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from econtract.accounts.models import Organization, User
from econtract.accounts.organizations import acting_as
from econtract.accounts.permissions import require_seal_manager, role_in
from econtract.evidence.services import RequestContext, record_event
from econtract.pki.issuance import issue_organization_certificate, revoke_certificate
from econtract.seals import drawing
from econtract.seals.approvals import approvals_of, decide_approval, request_approval, usable_approval
from econtract.seals.errors import (
    ApprovalRequired,
    InvalidSeal,
    OrganizationUnverified,
    SealNotActive,
    SealNotAuthorized,
)
from econtract.seals.facts import EnvelopeFacts, SealUseDecision
from econtract.seals.grants import (
    grant_of,
    grant_use,
    grants_for_user,
    grants_of,
    live_grants,
    revoke_all_grants,
    revoke_grant,
    scope_refusal,
)
from econtract.seals.keys import new_seal_key, unseal_seal_key
from econtract.seals.models import ApprovalRequest, Seal, SealGrant, SealUsage
from econtract.seals.scan import extract_red_ink
from econtract.seals.usage import usage_csv, usage_for
from econtract.textinput import UnsafeText, clean_line

__all__ = [
    "EnvelopeFacts",
    "SealUseDecision",
    "approvals_of",
    "authorize_automatic_use",
    "authorize_use",
    "create_seal",
    "decide_approval",
    "grant_of",
    "grant_use",
    "grants_of",
    "record_use",
    "renew_certificate",
    "request_approval",
    "resume",
    "retire",
    "revoke",
    "revoke_grant",
    "seal_signing_material",
    "seal_visible_to",
    "seals_of",
    "suspend",
    "usage_csv",
    "usage_for",
]

SEAL_CODE = re.compile(r"\d{13}")  # the optional seal code on the lower arc (公安备案 13 digits)
MAX_NAME = 100
MAX_TYPE_TEXT = 20


# --- making a seal ------------------------------------------------------------------------------


def _line(value: str, field: str, max_length: int) -> str:
    try:
        return clean_line(value, field=field, max_length=max_length)
    except UnsafeText as exc:
        raise InvalidSeal(str(exc)) from None


def create_seal(
    organization: Organization,
    actor: User,
    *,
    name: str,
    seal_type: str,
    shape: str,
    code: str = "",
    type_text: str = "",
    scan: bytes | None = None,
    context: RequestContext,
) -> Seal:
    """A new active seal with its picture, its key (sealed under the KEK) and its own certificate.

    Generated seals draw the organisation's verified name (round, oval) or its legal
    representative's (square); ``type_text`` defaults to the type's words (合同专用章 …). An
    uploaded ``scan`` is reduced to its red ink instead. OrganizationUnverified (409) unless the
    organisation is verified: the certificate names it.
    """
    role = require_seal_manager(actor, organization.pk, "create a seal")
    organization.refresh_from_db()
    if not organization.is_verified:
        raise OrganizationUnverified(
            "the organisation is not verified: only a verified organisation may own seals"
        )
    name = _line(name, "name", MAX_NAME)
    if not name:
        raise InvalidSeal("name: a seal needs a name")
    if seal_type not in Seal.Type.values:
        raise InvalidSeal(f"type must be one of {', '.join(Seal.Type.values)}")
    if shape not in Seal.Shape.values:
        raise InvalidSeal(f"shape must be one of {', '.join(Seal.Shape.values)}")
    if (seal_type == Seal.Type.LEGAL_REPRESENTATIVE) != (shape == Seal.Shape.SQUARE):
        raise InvalidSeal("the legal representative's seal is square, and only it is")
    if code and not SEAL_CODE.fullmatch(code):
        raise InvalidSeal("code must be 13 digits")
    type_text = _line(type_text, "type_text", MAX_TYPE_TEXT) or drawing.type_text_for(seal_type)
    fields: dict[str, Any]
    if scan is not None:
        png = _extract(scan)
        fields = {"source": Seal.Source.UPLOADED, "drawing": None, "drawing_width": 0, "drawing_height": 0}
    else:
        text = organization.legal_rep_name if shape == Seal.Shape.SQUARE else organization.name
        picture = drawing.draw_seal(text=text, type_text=type_text, shape=shape, code=code)
        png = drawing.render_png(picture)
        fields = {
            "source": Seal.Source.GENERATED,
            "drawing": picture.content,
            "drawing_width": picture.width,
            "drawing_height": picture.height,
        }
    # The row needs its certificate, and the key's associated data needs the row's id: so the id
    # comes first, then the key, then the certificate, then the row, all in one transaction.
    seal_id = uuid.uuid4()
    private_key, public_der, sealed = new_seal_key(seal_id)
    del private_key  # only the sealed form is kept
    with transaction.atomic():
        try:
            certificate = issue_organization_certificate(organization, _public_key(public_der))
        except ValueError as exc:
            raise InvalidSeal(f"no certificate can name this organisation: {exc}") from None
        seal = Seal.objects.create(
            id=seal_id,
            organization=organization,
            name=name,
            seal_type=seal_type,
            type_text=type_text,
            shape=shape,
            code=code,
            image_png=png,
            image_sha256=hashlib.sha256(png).hexdigest(),
            certificate=certificate,
            public_key_der=public_der,
            sealed_private_key=sealed,
            created_by=actor,
            status_changed_at=timezone.now(),
            **fields,
        )
        record_event(
            "seal_created",
            seal,
            context,
            organization=organization,
            payload={
                "seal": str(seal.pk),
                "name": name,
                "type": seal_type,
                "shape": shape,
                "source": seal.source,
                "image_sha256": seal.image_sha256,
                "certificate_serial": certificate.serial_number,
                "by": acting_as(actor, organization, role),
            },
        )
    return seal


def _extract(data: bytes) -> bytes:
    return extract_red_ink(data)


def _public_key(public_der: bytes) -> ec.EllipticCurvePublicKey:
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    key = load_der_public_key(public_der)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


# --- finding seals (members of the organisation only) ------------------------------------------


def seals_of(organization: Organization, user: User) -> QuerySet[Seal]:
    return (
        Seal.objects.for_member(user)
        .filter(organization=organization)
        .select_related("certificate", "organization")
        .order_by("-created_at", "-id")
    )


def seal_visible_to(user: User, seal_id: Any) -> Seal:
    """The seal; Seal.DoesNotExist (404) when she is not a member of its organisation."""
    found = Seal.objects.for_member(user).filter(pk=seal_id).select_related("certificate", "organization")
    seal = found.first()
    if seal is None:
        raise Seal.DoesNotExist("no such seal")
    return seal


# --- deciding and recording a use ---------------------------------------------------------------


def _require_usable(seal: Seal) -> Seal:
    current = Seal.objects.select_related("certificate", "organization").get(pk=seal.pk)
    if current.status != Seal.Status.ACTIVE:
        raise SealNotActive(f"the seal is {current.status}")
    certificate = current.certificate
    now = timezone.now()
    if certificate.revoked_at is not None:
        raise SealNotActive("the seal's certificate is revoked")
    if not certificate.not_before <= now < certificate.not_after:
        raise SealNotActive("the seal's certificate is not valid now")
    return current


def authorize_use(seal: Seal, user: User, facts: EnvelopeFacts) -> SealUseDecision:
    """May ``user`` apply ``seal`` to this envelope now? The decision names the grant (and approval).

    SealNotActive (409) for a suspended, revoked or retired seal or an unusable certificate;
    SealNotAuthorized (403) without a live grant of hers (or her department's) covering the envelope;
    ApprovalRequired (409) when the only covering grants need an approval and none is waiting to
    be used for this envelope and this original document.
    """
    current = _require_usable(seal)
    if role_in(current.organization_id, user) is None:
        raise SealNotAuthorized("only members of the seal's organisation may use it")
    grants = list(grants_for_user(current, user))
    if not grants:
        raise SealNotAuthorized("you hold no live grant to use this seal")
    covering = []
    refusals = []
    for grant in grants:
        refusal = scope_refusal(grant.scope, facts)
        if refusal is None:
            covering.append(grant)
        else:
            refusals.append(refusal)
    if not covering:
        raise SealNotAuthorized(f"no grant of yours covers this envelope: {refusals[0]}")
    for grant in covering:
        if not grant.requires_approval:
            return SealUseDecision(seal=current, grant=grant, approval=None)
    approval = usable_approval(current, user, facts, covering)
    if approval is None:
        raise ApprovalRequired(
            "using this seal on this document needs an approval: request one for this envelope"
        )
    return SealUseDecision(seal=current, grant=approval.grant, approval=approval)


def authorize_automatic_use(seal: Seal, facts: EnvelopeFacts) -> SealUseDecision:
    """Unattended use for an envelope the seal's own organisation sent: a live automatic grant."""
    current = _require_usable(seal)
    if str(facts.sender_organization_id) != str(current.organization_id):
        raise SealNotAuthorized("a seal signs automatically only envelopes its own organisation sent")
    grants = live_grants(current).filter(grantee=SealGrant.Grantee.AUTOMATIC).order_by("created_at")
    refusals = []
    for grant in grants:
        refusal = scope_refusal(grant.scope, facts)
        if refusal is None:
            return SealUseDecision(seal=current, grant=grant, approval=None)
        refusals.append(refusal)
    if refusals:
        raise SealNotAuthorized(f"no automatic-signing grant covers this envelope: {refusals[0]}")
    raise SealNotAuthorized("this seal holds no live automatic-signing grant")


def record_use(
    decision: SealUseDecision,
    facts: EnvelopeFacts,
    *,
    used_by: User | None,
    document_sha256: str,
    certificate_serial: str,
    cross_page: bool,
    context: RequestContext,
) -> SealUsage:
    """Write the use, inside the signing transaction: the seal, the grant and the approval are
    locked and checked again (a revocation or a second use meanwhile wins), the approval consumed."""
    with transaction.atomic():
        seal = Seal.objects.select_for_update().get(pk=decision.seal.pk)
        if seal.status != Seal.Status.ACTIVE:
            raise SealNotActive(f"the seal is {seal.status}")
        grant = SealGrant.objects.select_for_update().get(pk=decision.grant.pk)
        now = timezone.now()
        if grant.revoked_at is not None or not grant.valid_from <= now < grant.valid_until:
            raise SealNotAuthorized("the grant was revoked or has expired")
        approval = None
        if decision.approval is not None:
            approval = ApprovalRequest.objects.select_for_update().get(pk=decision.approval.pk)
            if (
                approval.status != ApprovalRequest.Status.APPROVED
                or approval.used_at is not None
                or approval.envelope_id != facts.envelope_id
                or approval.document_sha256 != facts.original_sha256
            ):
                raise ApprovalRequired("the approval was used, withdrawn or is for another document")
            approval.status = ApprovalRequest.Status.USED
            approval.used_at = now
            approval.save(update_fields=["status", "used_at"])
        elif grant.requires_approval:
            raise ApprovalRequired("this grant needs an approval for each use")
        usage = SealUsage.objects.create(
            seal=seal,
            grant=grant,
            approval=approval,
            used_by=used_by,
            automatic=grant.grantee == SealGrant.Grantee.AUTOMATIC,
            envelope_id=facts.envelope_id,
            party_id=facts.party_id,
            envelope_title=clean_line(facts.title, max_length=300) if facts.title else "",
            document_sha256=document_sha256,
            certificate_serial=certificate_serial,
            cross_page=cross_page,
        )
        record_event(
            "seal_used",
            seal,
            context,
            organization=seal.organization,
            document_sha256=document_sha256,
            payload={
                "usage": str(usage.pk),
                "grant": str(grant.pk),
                "approval": str(approval.pk) if approval is not None else None,
                "envelope": str(facts.envelope_id),
                "party": str(facts.party_id),
                "used_by": str(used_by.pk) if used_by is not None else None,
                "automatic": usage.automatic,
                "certificate_serial": certificate_serial,
                "cross_page": cross_page,
            },
        )
    return usage


def seal_signing_material(seal: Seal) -> tuple[ec.EllipticCurvePrivateKey, asn1_x509.Certificate]:
    """The seal's private key (in memory, for one signature) and its certificate. Call only after
    authorize_use / authorize_automatic_use, inside the signing transaction."""
    current = _require_usable(seal)
    return unseal_seal_key(current), current.certificate.certificate


# --- lifecycle ----------------------------------------------------------------------------------


def _transition(
    seal: Seal,
    actor: User,
    *,
    allowed_from: tuple[str, ...],
    to: str,
    event: str,
    reason: str,
    context: RequestContext,
    what: str,
    extra: dict[str, Any] | None = None,
    certificate_reason: str = "",
) -> Seal:
    role = require_seal_manager(actor, seal.organization_id, what)
    try:
        reason = clean_line(reason, field="reason", max_length=500)
    except UnsafeText as exc:
        raise InvalidSeal(str(exc)) from None
    with transaction.atomic():
        current = (
            Seal.objects.select_for_update().select_related("certificate", "organization").get(pk=seal.pk)
        )
        if current.status not in allowed_from:
            raise SealNotActive(f"the seal is {current.status}: it cannot be {event.removeprefix('seal_')}")
        current.status = to
        current.status_reason = reason
        current.status_changed_at = timezone.now()
        current.save(update_fields=["status", "status_reason", "status_changed_at"])
        payload: dict[str, Any] = {"seal": str(current.pk), "reason": reason, **(extra or {})}
        if certificate_reason:
            revoke_certificate(current.certificate, certificate_reason)
            payload["certificate_serial"] = current.certificate.serial_number
            payload["certificate_revocation_reason"] = certificate_reason
            payload["grants_revoked"] = revoke_all_grants(current, actor, f"seal {to}")
        payload["by"] = acting_as(actor, current.organization, role)
        record_event(event, current, context, organization=current.organization, payload=payload)
    return current


def suspend(seal: Seal, actor: User, *, reason: str = "", context: RequestContext) -> Seal:
    """For a while: no use until resumed. Grants and the certificate stay as they are."""
    return _transition(
        seal,
        actor,
        allowed_from=(Seal.Status.ACTIVE,),
        to=Seal.Status.SUSPENDED,
        event="seal_suspended",
        reason=reason,
        context=context,
        what="suspend a seal",
    )


def resume(seal: Seal, actor: User, *, reason: str = "", context: RequestContext) -> Seal:
    return _transition(
        seal,
        actor,
        allowed_from=(Seal.Status.SUSPENDED,),
        to=Seal.Status.ACTIVE,
        event="seal_resumed",
        reason=reason,
        context=context,
        what="resume a seal",
    )


def revoke(
    seal: Seal, actor: User, *, reason: str = "", key_compromise: bool = False, context: RequestContext
) -> Seal:
    """For good: the certificate is revoked at once (key_compromise when asked, else
    cessation_of_operation) and every grant with it. Signatures made before stay verifiable."""
    return _transition(
        seal,
        actor,
        allowed_from=(Seal.Status.ACTIVE, Seal.Status.SUSPENDED),
        to=Seal.Status.REVOKED,
        event="seal_revoked",
        reason=reason,
        context=context,
        what="revoke a seal",
        extra={"key_compromise": key_compromise},
        certificate_reason="key_compromise" if key_compromise else "cessation_of_operation",
    )


def retire(seal: Seal, actor: User, *, reason: str = "", context: RequestContext) -> Seal:
    """Out of use for good (replaced, or no longer needed): its certificate is revoked as
    ``superseded`` so that nothing can be signed with the key afterwards, and its grants end."""
    return _transition(
        seal,
        actor,
        allowed_from=(Seal.Status.ACTIVE, Seal.Status.SUSPENDED),
        to=Seal.Status.RETIRED,
        event="seal_retired",
        reason=reason,
        context=context,
        what="retire a seal",
        certificate_reason="superseded",
    )


# --- maintenance: a new certificate for the same key ---------------------------------------------


def renew_certificate(seal: Seal, actor: User, *, reason: str = "", context: RequestContext) -> Seal:
    """A new certificate for the seal's same key, naming the organisation as it is verified now.

    Seal managers only (403). The seal must be active or suspended (its status is kept), and its
    certificate must not have been revoked otherwise (a revoked certificate may mean a compromised
    key, which is never certified again): SealNotActive (409). The organisation must still be
    verified (OrganizationUnverified, 409). The old certificate is revoked as ``superseded``: earlier
    signatures stay verifiable (validated at their signing time with their timestamps and the
    revocation data they embed). Renewal is explicit only; an expired certificate may be renewed.
    """
    role = require_seal_manager(actor, seal.organization_id, "renew a seal's certificate")
    try:
        reason = clean_line(reason, field="reason", max_length=500)
    except UnsafeText as exc:
        raise InvalidSeal(str(exc)) from None
    with transaction.atomic():
        current = (
            Seal.objects.select_for_update().select_related("certificate", "organization").get(pk=seal.pk)
        )
        if current.status not in (Seal.Status.ACTIVE, Seal.Status.SUSPENDED):
            raise SealNotActive(f"the seal is {current.status}: its certificate cannot be renewed")
        old = current.certificate
        if old.revoked_at is not None:
            raise SealNotActive("the seal's certificate is revoked: revoke the seal and make a new one")
        organization = Organization.objects.select_for_update().get(pk=current.organization_id)
        if not organization.is_verified:
            raise OrganizationUnverified(
                "the organisation is not verified: only a verified organisation's seal gets a certificate"
            )
        try:
            renewed = issue_organization_certificate(organization, _public_key(bytes(current.public_key_der)))
        except ValueError as exc:
            raise InvalidSeal(f"no certificate can name this organisation: {exc}") from None
        current.certificate = renewed
        current.organization = organization
        current.save(update_fields=["certificate"])
        revoke_certificate(old, "superseded")
        record_event(
            "seal_certificate_renewed",
            current,
            context,
            organization=organization,
            payload={
                "seal": str(current.pk),
                "reason": reason,
                "old_certificate_serial": old.serial_number,
                "old_certificate_revocation_reason": "superseded",
                "new_certificate_serial": renewed.serial_number,
                "new_certificate_not_after": renewed.not_after.isoformat(),
                "subject": renewed.subject_dn,
                "by": acting_as(actor, organization, role),
            },
        )
    return current

"""The facts an evidence report states, gathered from the log, the envelope and the signed PDF itself.

Everything is plain data (strings, numbers, lists) so that the template only lays it out. Personal data
is masked here, at one place: names of the parties as they signed, emails as ``z***@example.cn``, phones
as ``138****5678``, ID numbers as the identity records keep them masked.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from django.utils import translation

from econtract.evidence import notes
from econtract.evidence.envelope_evidence import EnvelopeEvidence, LoggedEvent
from econtract.identity.assurance import current_identity
from econtract.identity.models import IdentityVerification
from econtract.masking import mask_email, mask_phone
from econtract.pki.services import root_certificate
from econtract.signing.models import Party
from econtract.verification.services import SignatureReport, verify_pdf


def _both(label: Any) -> tuple[str, str]:
    """A translatable label in Chinese and in English (the report is bilingual)."""
    with translation.override("zh-hans"):
        chinese = str(label)
    with translation.override("en"):
        english = str(label)
    return chinese, english


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def token_time(token_der: bytes) -> datetime | None:
    """genTime of an RFC 3161 token (ContentInfo DER), or None when there is none or it does not parse."""
    if not token_der:
        return None
    try:
        content = cms.ContentInfo.load(token_der)["content"]
        info = content["encap_content_info"]["content"].parsed
        if not isinstance(info, tsp.TSTInfo):
            return None
        moment: datetime = info["gen_time"].native
        return moment
    except (ValueError, TypeError, KeyError):
        return None


@dataclass(frozen=True)
class PartyFacts:
    order: int
    name: str
    kind: str
    email: str
    phone: str
    status: str
    signed_at: str
    assurance_level: str
    verification: str  # method, masked ID number, when
    willingness: str
    certificate_serial: str


@dataclass(frozen=True)
class EventFacts:
    index: int
    sequence: int
    kind: str
    name_zh: str
    name_en: str
    occurred_at: str
    actor: str
    document_sha256: str
    leaf_hash: str
    proof: list[str]


@dataclass(frozen=True)
class SignatureFacts:
    field: str
    signer: str
    subject: str
    serial: str
    certificate_sha256: str
    chain: list[str]  # subjects, signer first, to the root
    revocation: str
    timestamp_time: str
    tsa: str
    algorithm: str
    valid: bool
    problems: list[str]


@dataclass(frozen=True)
class ReportFacts:
    envelope_id: str
    title: str
    status: str
    organization: str
    created_at: str
    sent_at: str
    completed_at: str
    final_sha256: str
    revisions: list[dict[str, Any]]
    parties: list[PartyFacts]
    signatures: list[SignatureFacts]
    document_timestamps: list[dict[str, Any]]
    events: list[EventFacts]
    certificate_events: list[EventFacts]
    log_origin: str
    tree_size: int
    root_hash: str
    checkpoint_note: str
    checkpoint_time: str
    cosignatures: list[dict[str, str]]
    witnesses_configured: int
    issued_at: str
    root_fingerprint: str
    log_vkey: str
    notices: list[str] = field(default_factory=list)

    @property
    def witnessed(self) -> bool:
        return bool(self.cosignatures)


def _verification_text(verification: IdentityVerification | None) -> str:
    if verification is None:
        return "email only / 仅邮箱验证"
    parts = [verification.get_method_display()]
    if verification.id_number_masked:
        parts.append(f"{verification.id_type or 'ID'} {verification.id_number_masked}")
    if verification.phone_masked:
        parts.append(verification.phone_masked)
    if verification.verified_at:
        parts.append(_utc(verification.verified_at))
    if verification.sandbox:
        parts.append("SANDBOX / 测试身份")
    return ", ".join(parts)


def _party_facts(party: Party, signed: dict[str, Any] | None) -> PartyFacts:
    verification = party.identity_verification or current_identity(party.user)
    payload = signed or {}
    willingness = payload.get("willingness") or []
    return PartyFacts(
        order=party.order,
        name=party.name,
        kind=party.kind,
        email=mask_email(party.email),
        phone=mask_phone(party.phone) if party.phone else "",
        status=party.status,
        signed_at=_utc(party.signed_at),
        assurance_level=str(payload.get("assurance_level") or ""),
        verification=_verification_text(verification),
        willingness=", ".join(str(m) for m in willingness) if isinstance(willingness, list) else "",
        certificate_serial=str(payload.get("certificate_serial") or ""),
    )


def _event_facts(logged: LoggedEvent) -> EventFacts:
    from econtract.web.events import EVENT_NAMES

    event = logged.event
    name_zh, name_en = _both(EVENT_NAMES.get(event.kind, event.kind))
    label = event.actor_label
    return EventFacts(
        index=logged.index,
        sequence=event.sequence,
        kind=event.kind,
        name_zh=name_zh,
        name_en=name_en,
        occurred_at=_utc(event.occurred_at),
        actor=mask_email(label) if "@" in label else label,
        document_sha256=event.document_sha256,
        leaf_hash=logged.leaf_hash.hex(),
        proof=[base64.b64encode(h).decode() for h in logged.proof],
    )


def _subject(certificate: asn1_x509.Certificate) -> str:
    return str(certificate.subject.human_friendly)


def _signature_facts(signature: SignatureReport) -> SignatureFacts:
    chain = []
    for der in signature.certificate_chain:
        try:
            chain.append(_subject(asn1_x509.Certificate.load(base64.b64decode(der))))
        except ValueError:
            chain.append("?")
    return SignatureFacts(
        field=signature.field,
        signer=signature.signer or signature.signer_organization,
        subject=signature.signer_subject,
        serial=signature.certificate_serial,
        certificate_sha256=signature.certificate_sha256,
        chain=chain,
        revocation=signature.revocation,
        timestamp_time=_utc(signature.timestamp_time),
        tsa=signature.tsa,
        algorithm=signature.algorithm,
        valid=bool(signature.valid),
        problems=list(signature.problems),
    )


def gather(evidence: EnvelopeEvidence, *, log_vkey: str) -> ReportFacts:
    envelope = evidence.envelope
    final = evidence.final_document
    final_pdf = final.read_bytes()
    root = root_certificate()
    trust = [root] if root is not None else []
    # Our own stored PDF, read in process: the same validator as `econtract verify`, judged now with the
    # revocation data embedded at signing (B-LT), i.e. the status at signing.
    verification = verify_pdf(final_pdf, trust_roots=trust)
    signed_payloads = {
        str(e.event.payload.get("party")): e.event.payload
        for e in evidence.events
        if e.event.kind == "signed"
    }
    parties = [
        _party_facts(p, signed_payloads.get(str(p.pk)))
        for p in envelope.parties.select_related("identity_verification", "user").order_by(
            "order", "position"
        )
    ]
    checkpoint = evidence.checkpoint
    body = notes.parse_checkpoint(notes.split_note(checkpoint.note)[0])
    notices = []
    if not verification.valid:
        notices.append(
            "The signed PDF does not validate now; see the signatures section. / 签署文件当前验证未通过。"
        )
    return ReportFacts(
        envelope_id=str(envelope.pk),
        title=envelope.title,
        status=envelope.status,
        organization=envelope.organization.name,
        created_at=_utc(envelope.created_at),
        sent_at=_utc(envelope.sent_at),
        completed_at=_utc(envelope.completed_at),
        final_sha256=final.sha256,
        revisions=[
            {
                "version": r.version,
                "reason": r.reason,
                "sha256": r.sha256,
                "size": r.size,
                "created_at": _utc(r.created_at),
            }
            for r in evidence.revisions
        ],
        parties=parties,
        signatures=[_signature_facts(s) for s in verification.signatures],
        document_timestamps=[
            {"time": _utc(t.time), "tsa": t.tsa, "valid": bool(t.valid)}
            for t in verification.document_timestamps
        ],
        events=[_event_facts(e) for e in evidence.events],
        certificate_events=[_event_facts(e) for e in evidence.certificate_events],
        log_origin=body.origin,
        tree_size=body.tree_size,
        root_hash=base64.b64encode(body.root_hash).decode(),
        checkpoint_note=evidence.cosigned_note,
        checkpoint_time=_utc(token_time(bytes(checkpoint.timestamp_token))),
        cosignatures=[
            {"witness": c.witness, "key_id": c.key_id, "time": _utc(datetime.fromtimestamp(c.timestamp, UTC))}
            for c in evidence.cosignatures
        ],
        witnesses_configured=evidence.witnesses_configured,
        issued_at=_utc(datetime.now(UTC)),
        root_fingerprint=hashlib.sha256(root.dump()).hexdigest() if root is not None else "",
        log_vkey=log_vkey,
        notices=notices,
    )

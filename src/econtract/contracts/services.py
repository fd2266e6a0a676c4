"""The archive's verbs: archive a signed contract, describe it, file it, amend it, hold it, delete it.

Every path (API, web, envelope completion) comes through here; every change and every access is an
evidence event on the contract (``contract_*`` kinds)."""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from econtract.accounts.enterprise_models import Department
from econtract.accounts.models import Membership, Organization, User
from econtract.contracts import details
from econtract.contracts.errors import (
    AttachmentTooLarge,
    ContractNotPermitted,
    DeletionBlocked,
    InvalidContract,
)
from econtract.contracts.lifecycle import archive_settings, retention_end, status_on
from econtract.contracts.models import (
    MANAGER_ROLES,
    ORG_WIDE_ROLES,
    Contract,
    ContractFile,
    ContractShare,
    _subtree,
)
from econtract.contracts.numbering import next_number
from econtract.evidence.services import RequestContext, record_event

RESTORE_DAYS = 30  # a deleted contract can be restored for this long


def _max_attachment_bytes() -> int:
    return int(getattr(settings, "ECONTRACT_MAX_ATTACHMENT_BYTES", settings.ECONTRACT_MAX_UPLOAD_BYTES))


# --- who may do what -----------------------------------------------------------------------------


def role_in(user: Any, organization_id: Any) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Membership.objects.filter(organization_id=organization_id, user=user)
        .values_list("role", flat=True)
        .first()
    )


def visible_contract(user: Any, contract_id: Any) -> Contract:
    """The contract if she may see it; Contract.DoesNotExist (404) otherwise, never 403."""
    return Contract.objects.visible_to(user).alive().get(pk=contract_id)


def may_edit(user: Any, contract: Contract) -> bool:
    role = role_in(user, contract.organization_id)
    if role in MANAGER_ROLES or (
        role is not None and role != Membership.Role.AUDITOR and contract.created_by_id == user.pk
    ):
        return True
    return ContractShare.objects.filter(contract=contract, user=user, right=ContractShare.Right.EDIT).exists()


def may_manage(user: Any, contract: Contract) -> bool:
    """Hold, release, delete, restore and share: the organisation's owner, admins and legal staff."""
    return role_in(user, contract.organization_id) in MANAGER_ROLES


def _require(allowed: bool, doing: str) -> None:
    if not allowed:
        raise ContractNotPermitted(f"you may not {doing} this contract")


def _department_for(user: User, organization: Organization, wanted: Any) -> Department | None:
    """Where she may file: anywhere in the organisation for org-wide roles, else her own department's subtree."""
    membership = Membership.objects.filter(organization=organization, user=user).first()
    if membership is None or membership.role == Membership.Role.AUDITOR:
        raise ContractNotPermitted("you may archive contracts only in your own organisations")
    if wanted in (None, ""):
        return membership.department
    try:
        department = Department.objects.get(organization=organization, pk=str(wanted))
    except (Department.DoesNotExist, ValidationError, ValueError):
        raise InvalidContract("department: no such department in this organisation") from None
    if membership.role in ORG_WIDE_ROLES:
        return department
    if membership.department_id is None or department.pk not in _subtree(
        Department, organization.pk, membership.department_id
    ):
        raise ContractNotPermitted("you may file contracts only in your own department")
    return department


# --- describing ----------------------------------------------------------------------------------


def _apply(contract: Contract, user: User, changes: dict[str, Any]) -> list[str]:
    """Check and set the given fields (only those); answers the names of the fields that changed."""
    unknown = sorted(set(changes) - details.EDITABLE)
    if unknown:
        raise InvalidContract(f"{unknown[0]}: not a field of a contract")
    organization = contract.organization
    changed: list[str] = []

    def put(name: str, value: Any) -> None:
        if getattr(contract, name) != value:
            setattr(contract, name, value)
            changed.append(name)

    if "title" in changes:
        put("title", details.line(changes["title"], "title", 300, required=True))
    if "number" in changes:
        number = details.line(changes["number"], "number", 100, required=True)
        clash = (
            Contract.objects.filter(organization=organization, number=number).exclude(pk=contract.pk).exists()
        )
        if clash:
            raise InvalidContract(
                f"number: {number} is already used in this organisation", code="number_taken"
            )
        put("number", number)
    if "archive_number" in changes:
        put("archive_number", details.line(changes["archive_number"], "archive_number", 100))
    if "counterparties" in changes:
        put("counterparties", details.counterparties(changes["counterparties"]))
    if "amount" in changes:
        put("amount", details.amount(changes["amount"]))
    if "currency" in changes:
        put("currency", details.currency(changes["currency"]))
    if "signed_at" in changes:
        put("signed_at", details.moment(changes["signed_at"], "signed_at"))
    if "effective_on" in changes:
        put("effective_on", details.day(changes["effective_on"], "effective_on"))
    if "expires_on" in changes:
        put("expires_on", details.day(changes["expires_on"], "expires_on"))
    if "department" in changes:
        department = _department_for(user, organization, changes["department"])
        if department != contract.department:
            contract.department = department
            changed.append("department")
    if "category" in changes:
        category = details.category(organization, changes["category"])
        if category != contract.category:
            contract.category = category
            changed.append("category")
    if "metadata" in changes:
        put("metadata", details.custom_values(organization, changes["metadata"], contract.metadata))
    details.check_dates(contract)
    return changed


def _settle(contract: Contract, today: dt.date | None = None) -> None:
    """Status and retention follow the dates."""
    rules = archive_settings(contract.organization)
    contract.status = status_on(contract, today or timezone.localdate(), rules.reminder_days)
    contract.retain_until = retention_end(contract, rules.retention_years) if rules.retention_years else None


def _set_tags(contract: Contract, names: Any) -> bool:
    wanted = details.tags(contract.organization, names)
    before = set(contract.tags.values_list("pk", flat=True))
    contract.tags.set(wanted)
    return before != {tag.pk for tag in wanted}


def _reindex(contract: Contract) -> None:
    """After commit: the archive is what counts; an index that failed is rebuilt (logged, never undone)."""

    def reindex() -> None:
        from econtract.contracts import search

        search.reindex(contract)

    transaction.on_commit(reindex, robust=True)


# --- archiving -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes
    content_type: str = ""


def _store_file(
    contract: Contract, kind: str, upload: Upload, user: User, description: str = ""
) -> ContractFile:
    sha256 = hashlib.sha256(upload.data).hexdigest()
    name = details.line(upload.name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1], "file name", 200) or f"{kind}.bin"
    content_type = upload.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if len(content_type) > 100 or not content_type.isascii() or "/" not in content_type:
        content_type = "application/octet-stream"
    stored = ContractFile(
        contract=contract,
        kind=kind,
        name=name,
        content_type=content_type,
        size=len(upload.data),
        sha256=sha256,
        uploaded_by=user,
        description=details.line(description, "description", 300),
    )
    stored.file.save("file", ContentFile(upload.data), save=False)
    stored.save()
    return stored


def verify_signed_pdf(data: bytes) -> tuple[str, dict[str, Any]]:
    """The verdict and the verifier's report for a PDF to archive (sandboxed, our root trusted).

    Hostile and unreadable files are refused (UnsafePdf, UnreadablePdf); active content is a warning in
    the report, not a refusal."""
    from econtract.contracts.verdicts import archive_verdict
    from econtract.verification.platform import verify_pdf_with_platform_roots

    report = verify_pdf_with_platform_roots(data)
    return archive_verdict(report), report.to_dict()


def archive_upload(
    user: User,
    organization: Organization,
    *,
    document: Upload,
    metadata: dict[str, Any],
    context: RequestContext,
    amends: Contract | None = None,
    relation: str = "",
) -> Contract:
    """An already-signed contract from elsewhere: its signatures verified, the verdict stored (a tampered
    file is archived as ``altered``, not refused), numbered by the organisation's pattern unless given."""
    _department_for(user, organization, None)  # a member of the organisation, not an auditor
    verdict, report = verify_signed_pdf(document.data)  # outside the transaction: a child process
    metadata = dict(metadata)
    tag_names = metadata.pop("tags", None)
    if not metadata.get("title"):
        stem = document.name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        metadata["title"] = stem[:300] or "Contract"
    signers = [s.get("signer") or "" for s in report.get("signatures", [])]
    with transaction.atomic():
        contract = Contract(
            organization=organization,
            created_by=user,
            source=Contract.Source.UPLOAD,
            verdict=verdict,
            verification=report,
            amends=amends,
            relation=relation,
            signed_at=_latest_signing_time(report),
        )
        contract.department = _department_for(user, organization, metadata.pop("department", None))
        _apply(contract, user, metadata)
        if not contract.number:
            contract.number = next_number(
                organization, archive_settings(organization).number_pattern, timezone.localdate()
            )
        _settle(contract)
        contract.save()
        if tag_names is not None:
            _set_tags(contract, tag_names)
        stored = _store_file(contract, ContractFile.Kind.SIGNED, document, user)
        record_event(
            "contract_archived",
            contract,
            context,
            organization=organization,
            document_sha256=stored.sha256,
            payload={
                "number": contract.number,
                "verdict": verdict,
                "signers": [name for name in signers if name],
                "warnings": report.get("warnings", [])[:20],
                **({"amends": str(amends.pk), "relation": relation} if amends else {}),
            },
        )
        if amends is not None:
            _note_amendment(amends, contract, context)
    _reindex(contract)
    return contract


def _latest_signing_time(report: dict[str, Any]) -> dt.datetime | None:
    times = []
    for signature in report.get("signatures", []):
        value = signature.get("timestamp_time") or signature.get("signing_time")
        if value:
            try:
                times.append(dt.datetime.fromisoformat(value))
            except ValueError:
                continue
    return max(times) if times else None


def archive_envelope(envelope: Any, context: RequestContext) -> Contract:
    """The record of an envelope that completed on the platform: its original and signed PDF, its parties."""
    existing = Contract.objects.filter(envelope=envelope).first()
    if existing is not None:
        return existing
    organization = envelope.organization
    creator = envelope.created_by
    membership = Membership.objects.filter(organization=organization, user=creator).first()
    ours = set(Membership.objects.filter(organization=organization).values_list("user__email", flat=True))
    counterparties = []
    for party in envelope.parties.order_by("order", "position", "id"):
        if party.email and party.email.lower() in {email.lower() for email in ours}:
            continue
        entry = {"name": party.name}
        if party.email:
            entry["email"] = party.email.lower()
        if party.organization_uscc:
            entry["uscc"] = party.organization_uscc
        counterparties.append(entry)
    signed = envelope.current_document()
    original = envelope.revisions.order_by("version").first()
    with transaction.atomic():
        contract = Contract(
            organization=organization,
            department=membership.department if membership else None,
            created_by=creator,
            source=Contract.Source.ENVELOPE,
            envelope=envelope,
            title=envelope.title,
            counterparties=counterparties,
            amount=envelope.amount,
            currency=envelope.currency or "CNY",
            signed_at=envelope.completed_at,
            # signed here: every signature was made and checked by the ceremony; `reverify` judges it again
            verdict=Contract.Verdict.VALID,
            verification={
                "basis": "signed_on_platform",
                "envelope": str(envelope.pk),
                "sha256": signed.sha256,
            },
        )
        contract.number = next_number(
            organization, archive_settings(organization).number_pattern, timezone.localdate()
        )
        _settle(contract)
        contract.save()
        for kind, revision in ((ContractFile.Kind.ORIGINAL, original), (ContractFile.Kind.SIGNED, signed)):
            if revision is None:
                continue
            # the envelope's stored revision is never rewritten: the record points at the same file
            ContractFile.objects.create(
                contract=contract,
                kind=kind,
                name=f"{_file_stem(envelope.title)}-{kind}.pdf",
                content_type="application/pdf",
                size=revision.file.size,
                sha256=revision.sha256,
                file=revision.file.name,
                uploaded_by=creator,
            )
        record_event(
            "contract_archived",
            contract,
            context,
            organization=organization,
            document_sha256=signed.sha256,
            payload={"number": contract.number, "verdict": contract.verdict, "envelope": str(envelope.pk)},
        )
    _reindex(contract)
    return contract


def _file_stem(title: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in title).strip("_")
    return cleaned[:80] or "contract"


def reverify(contract: Contract, user: User, context: RequestContext) -> Contract:
    """Judge the signed PDF again now (a certificate may have been revoked since)."""
    _require(may_edit(user, contract), "re-verify")
    signed = contract.files.filter(kind=ContractFile.Kind.SIGNED).order_by("-created_at").first()
    if signed is None:
        raise InvalidContract("the contract has no signed PDF")
    verdict, report = verify_signed_pdf(signed.read_bytes())
    with transaction.atomic():
        previous = contract.verdict
        contract.verdict, contract.verification = verdict, report
        contract.save(update_fields=["verdict", "verification", "updated_at"])
        record_event(
            "contract_reverified",
            contract,
            context,
            organization=contract.organization,
            document_sha256=signed.sha256,
            payload={"from": previous, "to": verdict},
        )
    return contract


# --- changing ------------------------------------------------------------------------------------


def update_contract(
    contract: Contract, user: User, changes: dict[str, Any], context: RequestContext
) -> Contract:
    _require(may_edit(user, contract), "edit")
    changes = dict(changes)
    tag_names = changes.pop("tags", None)
    with transaction.atomic():
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        changed = _apply(locked, user, changes)
        _settle(locked)
        locked.save()
        if tag_names is not None and _set_tags(locked, tag_names):
            changed.append("tags")
        if changed:
            record_event(
                "contract_updated",
                locked,
                context,
                organization=locked.organization,
                payload={"fields": changed},
            )
    _reindex(locked)
    return locked


def add_attachment(
    contract: Contract, user: User, upload: Upload, context: RequestContext, *, description: str = ""
) -> ContractFile:
    """Any type, stored as given (never opened, never executed); served only as a download."""
    _require(may_edit(user, contract), "add files to")
    limit = _max_attachment_bytes()
    if len(upload.data) > limit:
        raise AttachmentTooLarge(f"an attachment may be at most {limit // (1024 * 1024)} MB")
    if not upload.data:
        raise InvalidContract("the attachment is empty")
    with transaction.atomic():
        stored = _store_file(contract, ContractFile.Kind.ATTACHMENT, upload, user, description)
        record_event(
            "contract_attachment_added",
            contract,
            context,
            organization=contract.organization,
            document_sha256=stored.sha256,
            payload={"file": str(stored.pk), "name": stored.name, "size": stored.size},
        )
    _reindex(contract)
    return stored


def _note_amendment(parent: Contract, amendment: Contract, context: RequestContext) -> None:
    if amendment.relation == Contract.Relation.TERMINATION and parent.status != Contract.Status.TERMINATED:
        parent.status = Contract.Status.TERMINATED
        parent.save(update_fields=["status", "updated_at"])
    record_event(
        "contract_amended",
        parent,
        context,
        organization=parent.organization,
        payload={"amendment": str(amendment.pk), "relation": amendment.relation, "number": amendment.number},
    )


def add_amendment(
    contract: Contract,
    user: User,
    *,
    relation: str,
    context: RequestContext,
    envelope: Any = None,
    document: Upload | None = None,
    metadata: dict[str, Any] | None = None,
) -> Contract:
    """An amendment, supplementary or termination agreement of ``contract``: from an envelope completed on
    the platform (its record is linked) or a signed PDF (archived and linked)."""
    _require(may_edit(user, contract), "amend")
    if relation not in Contract.Relation.values:
        raise InvalidContract(f"relation must be one of {', '.join(Contract.Relation.values)}")
    if (envelope is None) == (document is None):
        raise InvalidContract("give either an envelope or a signed PDF")
    if document is not None:
        base = {"counterparties": contract.counterparties, "category": contract.category_id}
        return archive_upload(
            user,
            contract.organization,
            document=document,
            metadata={**{k: v for k, v in base.items() if v}, **(metadata or {})},
            context=context,
            amends=contract,
            relation=relation,
        )
    if envelope.organization_id != contract.organization_id or envelope.status != "completed":
        raise InvalidContract("the envelope must be a completed envelope of this organisation")
    record = Contract.objects.filter(envelope=envelope).first() or archive_envelope(envelope, context)
    if record.pk == contract.pk or record.amends_id not in (None, contract.pk):
        raise InvalidContract("that envelope's contract already belongs to another chain")
    with transaction.atomic():
        record.amends, record.relation = contract, relation
        if metadata:
            _apply(record, user, dict(metadata))
        record.save()
        _note_amendment(contract, record, context)
    return record


def amendment_chain(contract: Contract, user: User) -> list[Contract]:
    """The contract's root and every amendment below it that she may see, oldest first."""
    root = contract
    seen = {root.pk}
    while root.amends_id is not None and root.amends_id not in seen:
        parent = Contract.objects.visible_to(user).alive().filter(pk=root.amends_id).first()
        if parent is None:
            break
        seen.add(parent.pk)
        root = parent
    chain, queue = [root], [root]
    visible = Contract.objects.visible_to(user).alive()
    while queue:
        node = queue.pop(0)
        for child in visible.filter(amends=node).order_by("signed_at", "created_at"):
            if child.pk not in seen:
                seen.add(child.pk)
                chain.append(child)
                queue.append(child)
    return chain


# --- hold, delete, share, access -----------------------------------------------------------------


def set_legal_hold(
    contract: Contract, user: User, *, on: bool, reason: str, context: RequestContext
) -> Contract:
    _require(may_manage(user, contract), "place or lift a legal hold on")
    reason = details.line(reason, "reason", 300)
    if on and not reason:
        raise InvalidContract("reason: say why the contract is held")
    with transaction.atomic():
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        locked.legal_hold, locked.legal_hold_reason = on, reason if on else ""
        locked.save(update_fields=["legal_hold", "legal_hold_reason", "updated_at"])
        record_event(
            "contract_hold_placed" if on else "contract_hold_lifted",
            locked,
            context,
            organization=locked.organization,
            payload={"reason": reason} if on else {},
        )
    return locked


def delete_contract(
    contract: Contract, user: User, context: RequestContext, *, today: dt.date | None = None
) -> Contract:
    """Soft: hidden at once, restorable for 30 days; refused under a legal hold or its retention period."""
    _require(may_manage(user, contract), "delete")
    today = today or timezone.localdate()
    with transaction.atomic():
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        if locked.legal_hold:
            raise DeletionBlocked("the contract is under a legal hold", code="legal_hold")
        if locked.retain_until is not None and today <= locked.retain_until:
            raise DeletionBlocked(
                f"the contract must be kept until {locked.retain_until.isoformat()}", code="retention"
            )
        locked.deleted_at, locked.deleted_by = timezone.now(), user
        locked.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
        record_event("contract_deleted", locked, context, organization=locked.organization, payload={})
    return locked


def restore_contract(user: User, contract_id: Any, context: RequestContext) -> Contract:
    contract = Contract.objects.visible_to(user).filter(deleted_at__isnull=False).get(pk=contract_id)
    _require(may_manage(user, contract), "restore")
    assert contract.deleted_at is not None
    if timezone.now() - contract.deleted_at > dt.timedelta(days=RESTORE_DAYS):
        raise InvalidContract(
            f"a contract can be restored only within {RESTORE_DAYS} days", code="restore_expired"
        )
    with transaction.atomic():
        contract.deleted_at, contract.deleted_by = None, None
        contract.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
        record_event("contract_restored", contract, context, organization=contract.organization, payload={})
    return contract


def share_contract(
    contract: Contract, user: User, *, email: str, right: str, context: RequestContext
) -> ContractShare:
    _require(may_manage(user, contract), "share")
    if right not in ContractShare.Right.values:
        raise InvalidContract(f"right must be one of {', '.join(ContractShare.Right.values)}")
    email = details.line(email, "email", 254, required=True).lower()
    member = (
        Membership.objects.filter(organization=contract.organization, user__email__iexact=email)
        .select_related("user")
        .first()
    )
    if member is None:
        raise InvalidContract(
            "contracts can be shared only with members of the organisation", code="not_a_member"
        )
    with transaction.atomic():
        share, _ = ContractShare.objects.update_or_create(
            contract=contract, user=member.user, defaults={"right": right}
        )
        record_event(
            "contract_shared",
            contract,
            context,
            organization=contract.organization,
            payload={"with": str(member.user.pk), "right": right},
        )
    return share


def record_access(
    contract: Contract, kind: str, context: RequestContext, *, file: ContractFile | None = None
) -> None:
    """A view or a download, in the contract's chain of events (who read what, when)."""
    assert kind in {"viewed", "downloaded", "package_downloaded", "exported"}
    record_event(
        f"contract_{kind}",
        contract,
        context,
        organization=contract.organization,
        document_sha256=file.sha256 if file else "",
        payload={"file": str(file.pk), "kind": file.kind} if file else {},
    )


# --- filing in bulk, and the organisation's rules ------------------------------------------------


def bulk_file(
    contracts: list[Contract],
    user: User,
    *,
    category: str | None,
    department: str | None,
    add_tags: list[str],
    context: RequestContext,
) -> int:
    """Move and tag many contracts in one transaction: she must be allowed to edit every one."""
    for contract in contracts:
        _require(may_edit(user, contract), "file")
    with transaction.atomic():
        for contract in contracts:
            changes: dict[str, Any] = {}
            if category is not None:
                changes["category"] = category
            if department is not None:
                changes["department"] = department
            changed = _apply(contract, user, changes) if changes else []
            contract.save()
            if add_tags:
                current = list(contract.tags.values_list("name", flat=True))
                if _set_tags(contract, current + [name for name in add_tags if name not in current]):
                    changed.append("tags")
            if changed:
                record_event(
                    "contract_updated",
                    contract,
                    context,
                    organization=contract.organization,
                    payload={"fields": changed, "bulk": True},
                )
            _reindex(contract)
    return len(contracts)

"""The contract archive over the API (thin: contracts.services, contracts.search, contracts.packages)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, cast
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Query, Router, Status
from ninja.files import UploadedFile
from pydantic import ValidationError

from econtract.accounts.models import User
from econtract.api.auth import acting_organization
from econtract.api.openapi import responses
from econtract.contracts import listing, rules, services
from econtract.contracts.errors import InvalidContract
from econtract.contracts.lifecycle import archive_settings
from econtract.contracts.models import Category, Contract, ContractFile, CustomField
from econtract.contracts.numbering import parse_pattern
from econtract.contracts.schemas import (
    ArchiveSettingsIn,
    ArchiveSettingsOut,
    BulkIn,
    BulkOut,
    CategoryIn,
    CategoryOut,
    CategoryPage,
    ContractDetailsIn,
    ContractExportQuery,
    ContractFileOut,
    ContractListQuery,
    ContractOut,
    ContractPage,
    ContractShareIn,
    ContractShareOut,
    CustomFieldIn,
    CustomFieldOut,
    CustomFieldPage,
    HoldIn,
    PackagesIn,
)
from econtract.evidence.services import RequestContext
from econtract.jsoninput import JsonRefused, JsonTooLarge, load_json
from econtract.signing.models import Envelope

router = Router(tags=["contracts"])
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _context(request: HttpRequest) -> RequestContext:
    return RequestContext.from_request(request)


def _contract(request: HttpRequest, contract_id: UUID) -> Contract:
    return services.visible_contract(_user(request), contract_id)


# --- output --------------------------------------------------------------------------------------


def _item(contract: Contract, snippet: str = "") -> dict[str, Any]:
    return {
        "id": contract.pk,
        "number": contract.number,
        "title": contract.title,
        "counterparties": contract.counterparties,
        "status": contract.status,
        "verdict": contract.verdict,
        "signed_at": contract.signed_at,
        "expires_at": contract.expires_on,
        "snippet": snippet,
    }


def contract_out(contract: Contract, user: User) -> dict[str, Any]:
    chain = [c for c in services.amendment_chain(contract, user) if c.amends_id == contract.pk]
    return {
        "id": contract.pk,
        "number": contract.number,
        "archive_number": contract.archive_number,
        "title": contract.title,
        "source": contract.source,
        "envelope": contract.envelope_id,
        "counterparties": contract.counterparties,
        "amount": str(contract.amount) if contract.amount is not None else None,
        "currency": contract.currency,
        "signed_at": contract.signed_at,
        "effective_on": contract.effective_on,
        "expires_on": contract.expires_on,
        "status": contract.status,
        "verdict": contract.verdict,
        "verification_warnings": list((contract.verification or {}).get("warnings", [])),
        "department": contract.department_id,
        "category": contract.category_id,
        "tags": sorted(contract.tags.values_list("name", flat=True)),
        "metadata": contract.metadata,
        "amends": contract.amends_id,
        "relation": contract.relation,
        "amendments": [
            {"id": c.pk, "number": c.number, "title": c.title, "relation": c.relation, "status": c.status}
            for c in chain
        ],
        "legal_hold": contract.legal_hold,
        "legal_hold_reason": contract.legal_hold_reason,
        "retain_until": contract.retain_until,
        "files": list(contract.files.order_by("created_at", "id")),
        "may_edit": services.may_edit(user, contract),
        "may_manage": services.may_manage(user, contract),
        "created_at": contract.created_at,
    }


def _metadata(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        parsed = ContractDetailsIn.model_validate(load_json(text))
    except JsonTooLarge:
        raise
    except JsonRefused as exc:
        raise InvalidContract(f"metadata is not valid JSON: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidContract(f"metadata.{where}: {first['msg']}") from exc
    return _details(parsed)


def _details(body: ContractDetailsIn) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if "counterparties" in changes and changes["counterparties"] is not None:
        changes["counterparties"] = [
            {k: v for k, v in party.items() if v is not None} for party in changes["counterparties"]
        ]
    if changes.get("amount") is not None:
        changes["amount"] = str(changes["amount"])
    for name in ("department", "category"):
        if changes.get(name) is not None:
            changes[name] = str(changes[name])
    return changes


def _upload(file: UploadedFile, limit: int) -> services.Upload:
    data = file.read(limit + 1)
    if len(data) > limit:
        from econtract.contracts.errors import AttachmentTooLarge

        raise AttachmentTooLarge(f"the file is larger than {limit // (1024 * 1024)} MB")
    return services.Upload(name=file.name or "", data=data, content_type=file.content_type or "")


def _attachment_response(stored: ContractFile, data: bytes) -> HttpResponse:
    # never rendered by the browser: a PDF as a PDF download, anything else as bytes, nothing sniffed
    content_type = (
        "application/pdf" if stored.content_type == "application/pdf" else "application/octet-stream"
    )
    response = HttpResponse(data, content_type=content_type)
    ascii_name = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in stored.name)
    from urllib.parse import quote

    response["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name or 'file'}\"; filename*=UTF-8''{quote(stored.name)}"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-SHA256"] = stored.sha256
    return response


# --- the list and search -------------------------------------------------------------------------


@router.get("/contracts", response=responses({200: ContractPage}, 400, 401, 422))
def list_contracts(request: HttpRequest, query: Query[ContractListQuery]) -> dict[str, Any]:
    """The contracts she may see, filtered and searched; snippets only from those."""
    filters = listing.Filters(**query.model_dump(exclude={"sort", "limit", "cursor"}))
    page = listing.find(_user(request), filters, sort=query.sort, limit=query.limit, cursor=query.cursor)
    return {"items": [_item(c, snippet) for c, snippet in page.items], "next_cursor": page.next_cursor}


# --- one contract --------------------------------------------------------------------------------


@router.post("/contracts/bulk", response=responses({200: BulkOut}, 400, 401, 403, 404, 422))
def bulk_update(request: HttpRequest, body: BulkIn) -> dict[str, Any]:
    """File many contracts at once: a category, a department, tags added. All or nothing."""
    user = _user(request)
    found = list(Contract.objects.visible_to(user).alive().filter(pk__in=body.ids))
    if len(found) != len(set(body.ids)):
        raise Contract.DoesNotExist("no such contract")
    updated = services.bulk_file(
        found,
        user,
        category=str(body.category) if body.category else None,
        department=str(body.department) if body.department else None,
        add_tags=body.add_tags,
        context=_context(request),
    )
    return {"updated": updated}


@router.get(
    "/contracts/export",
    response=responses({}, 400, 401, 422),
    openapi_extra={
        "responses": {
            200: {
                "description": "the filtered list (at most 10,000 rows) as CSV (UTF-8 with BOM) or XLSX",
                "content": {
                    "text/csv": {"schema": {"type": "string", "format": "binary"}},
                    XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
                },
            }
        }
    },
)
def export_contracts(request: HttpRequest, query: Query[ContractExportQuery]) -> HttpResponse:
    from econtract.contracts import exports

    filters = listing.Filters(**query.model_dump(exclude={"sort", "limit", "cursor", "format"}))
    rows = listing.filtered(_user(request), filters)
    if filters.q and filters.q.strip():
        from econtract.contracts import search

        rows = search.matching(rows, filters.q.strip()).contracts
    rows = rows.order_by("-signed_at", "-id")
    stamp = dt.date.today().isoformat()
    if query.format == "xlsx":
        response = HttpResponse(exports.as_xlsx(rows), content_type=XLSX_TYPE)
    else:
        response = HttpResponse(exports.as_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="contracts-{stamp}.{query.format}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@router.post(
    "/contracts/packages",
    response=responses({}, 400, 401, 404, 422),
    openapi_extra={
        "responses": {
            200: {
                "description": "a zip of each contract's package zip (evidence packages are issued one by one)",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def export_packages(request: HttpRequest, body: PackagesIn) -> HttpResponse:
    from econtract.contracts import exports

    user = _user(request)
    wanted = list(dict.fromkeys(body.ids))
    found = {c.pk: c for c in Contract.objects.visible_to(user).alive().filter(pk__in=wanted)}
    if len(found) != len(wanted):
        raise Contract.DoesNotExist("no such contract")
    contracts = [found[pk] for pk in wanted]
    content = exports.bulk_packages(contracts, user, _context(request))
    for contract in contracts:
        services.record_access(contract, "exported", _context(request))
    response = HttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="contracts-{dt.date.today().isoformat()}.zip"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@router.post("/contracts", response=responses({201: ContractOut}, 400, 401, 403, 409, 413, 415, 422))
def archive_contract(request: HttpRequest, document: File[UploadedFile], metadata: Form[str] = "") -> Status:
    """Archive an already-signed PDF: its signatures are verified and the verdict stored (`valid`, `altered`,
    `untrusted`, `revoked` or `unsigned`); a tampered file is archived as `altered`, not refused."""
    details = _metadata(metadata)
    upload = _upload(document, settings.ECONTRACT_MAX_UPLOAD_BYTES)
    contract = services.archive_upload(
        _user(request),
        acting_organization(request),
        document=upload,
        metadata=details,
        context=_context(request),
    )
    return Status(201, contract_out(contract, _user(request)))


@router.get("/contracts/{contract_id}", response=responses({200: ContractOut}, 401, 404, 422))
def get_contract(request: HttpRequest, contract_id: UUID) -> dict[str, Any]:
    contract = _contract(request, contract_id)
    services.record_access(contract, "viewed", _context(request))
    return contract_out(contract, _user(request))


@router.patch(
    "/contracts/{contract_id}", response=responses({200: ContractOut}, 400, 401, 403, 404, 409, 422)
)
def update_contract(request: HttpRequest, contract_id: UUID, body: ContractDetailsIn) -> dict[str, Any]:
    contract = _contract(request, contract_id)
    updated = services.update_contract(contract, _user(request), _details(body), _context(request))
    return contract_out(updated, _user(request))


@router.delete("/contracts/{contract_id}", response=responses({204: None}, 401, 403, 404, 409, 422))
def delete_contract(request: HttpRequest, contract_id: UUID) -> Status:
    """Soft deletion, restorable for 30 days; 409 `legal_hold` or `retention` when either applies."""
    services.delete_contract(_contract(request, contract_id), _user(request), _context(request))
    return Status(204, None)


@router.post(
    "/contracts/{contract_id}/restore", response=responses({200: ContractOut}, 400, 401, 403, 404, 409, 422)
)
def restore_contract(request: HttpRequest, contract_id: UUID) -> dict[str, Any]:
    contract = services.restore_contract(_user(request), contract_id, _context(request))
    return contract_out(contract, _user(request))


@router.post(
    "/contracts/{contract_id}/reverify", response=responses({200: ContractOut}, 400, 401, 403, 404, 422)
)
def reverify_contract(request: HttpRequest, contract_id: UUID) -> dict[str, Any]:
    contract = services.reverify(_contract(request, contract_id), _user(request), _context(request))
    return contract_out(contract, _user(request))


@router.post(
    "/contracts/{contract_id}/legal-hold", response=responses({200: ContractOut}, 400, 401, 403, 404, 422)
)
def place_legal_hold(request: HttpRequest, contract_id: UUID, body: HoldIn) -> dict[str, Any]:
    contract = services.set_legal_hold(
        _contract(request, contract_id),
        _user(request),
        on=True,
        reason=body.reason,
        context=_context(request),
    )
    return contract_out(contract, _user(request))


@router.delete(
    "/contracts/{contract_id}/legal-hold", response=responses({200: ContractOut}, 401, 403, 404, 422)
)
def lift_legal_hold(request: HttpRequest, contract_id: UUID) -> dict[str, Any]:
    contract = services.set_legal_hold(
        _contract(request, contract_id), _user(request), on=False, reason="", context=_context(request)
    )
    return contract_out(contract, _user(request))


@router.post(
    "/contracts/{contract_id}/shares", response=responses({201: ContractShareOut}, 400, 401, 403, 404, 422)
)
def share_contract(request: HttpRequest, contract_id: UUID, body: ContractShareIn) -> Status:
    share = services.share_contract(
        _contract(request, contract_id),
        _user(request),
        email=body.email,
        right=body.right,
        context=_context(request),
    )
    return Status(201, {"user": share.user_id, "right": share.right})


@router.post(
    "/contracts/{contract_id}/attachments",
    response=responses({201: ContractFileOut}, 400, 401, 403, 404, 413, 422),
)
def add_attachment(
    request: HttpRequest, contract_id: UUID, file: File[UploadedFile], description: Form[str] = ""
) -> Status:
    """A file of any type: stored as it is, never opened; downloaded only as an attachment."""
    contract = _contract(request, contract_id)
    upload = _upload(file, services._max_attachment_bytes())
    stored = services.add_attachment(
        contract, _user(request), upload, _context(request), description=description
    )
    return Status(201, stored)


@router.post(
    "/contracts/{contract_id}/amendments",
    response=responses({201: ContractOut}, 400, 401, 403, 404, 409, 413, 415, 422),
)
def add_amendment(
    request: HttpRequest,
    contract_id: UUID,
    relation: Form[Literal["amendment", "supplement", "termination"]] = "amendment",
    envelope: Form[UUID | None] = None,
    document: File[UploadedFile | None] = None,
    metadata: Form[str] = "",
) -> Status:
    """An amendment, supplementary or termination agreement: a completed envelope's id or a signed PDF."""
    contract = _contract(request, contract_id)
    user = _user(request)
    found = Envelope.objects.visible_to(user).get(pk=envelope) if envelope else None
    upload = _upload(document, settings.ECONTRACT_MAX_UPLOAD_BYTES) if document is not None else None
    record = services.add_amendment(
        contract,
        user,
        relation=relation,
        context=_context(request),
        envelope=found,
        document=upload,
        metadata=_metadata(metadata),
    )
    return Status(201, contract_out(record, user))


@router.get(
    "/contracts/{contract_id}/files/{file_id}",
    response=responses({}, 401, 404, 422),
    openapi_extra={
        "responses": {
            200: {
                "description": "the file as stored (Content-Disposition: attachment; X-Content-SHA256)",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def download_file(request: HttpRequest, contract_id: UUID, file_id: UUID) -> HttpResponse:
    contract = _contract(request, contract_id)
    stored = contract.files.get(pk=file_id)
    data = stored.read_bytes()
    services.record_access(contract, "downloaded", _context(request), file=stored)
    return _attachment_response(stored, data)


@router.get(
    "/contracts/{contract_id}/package",
    response=responses({}, 401, 404, 422, 429),
    openapi_extra={
        "responses": {
            200: {
                "description": "a zip: manifest.json, the signed PDF, the original, attachments, amendments, "
                "certificates and, for a contract signed here, the evidence package",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def download_package(request: HttpRequest, contract_id: UUID) -> HttpResponse:
    from econtract.contracts.packages import build_package

    contract = _contract(request, contract_id)
    user = _user(request)
    package = build_package(contract, user, _context(request), requester_key=f"user:{user.pk}")
    services.record_access(contract, "package_downloaded", _context(request))
    response = HttpResponse(package.content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{package.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Content-SHA256"] = package.sha256
    return response


# --- the organisation's filing rules -------------------------------------------------------------


@router.get("/contract-categories", response=responses({200: CategoryPage}, 401, 422))
def list_categories(request: HttpRequest) -> dict[str, Any]:
    organization = acting_organization(request)
    items = Category.objects.for_org(organization)
    return {
        "items": [{"id": c.pk, "name": c.name, "parent": c.parent_id} for c in items],
        "next_cursor": None,
    }


@router.post("/contract-categories", response=responses({201: CategoryOut}, 400, 401, 403, 409, 422))
def create_category(request: HttpRequest, body: CategoryIn) -> Status:
    category = rules.create_category(
        _user(request),
        acting_organization(request),
        name=body.name,
        parent=body.parent,
        context=_context(request),
    )
    return Status(201, {"id": category.pk, "name": category.name, "parent": category.parent_id})


@router.get("/contract-fields", response=responses({200: CustomFieldPage}, 401, 422))
def list_custom_fields(request: HttpRequest) -> dict[str, Any]:
    fields = CustomField.objects.for_org(acting_organization(request))
    return {"items": list(fields), "next_cursor": None}


@router.post("/contract-fields", response=responses({201: CustomFieldOut}, 400, 401, 403, 409, 422))
def create_custom_field(request: HttpRequest, body: CustomFieldIn) -> Status:
    field = rules.create_custom_field(
        _user(request), acting_organization(request), context=_context(request), **body.model_dump()
    )
    return Status(201, field)


@router.get("/contract-settings", response=responses({200: ArchiveSettingsOut}, 401, 422))
def get_archive_settings(request: HttpRequest) -> Any:
    return archive_settings(acting_organization(request))


@router.patch("/contract-settings", response=responses({200: ArchiveSettingsOut}, 400, 401, 403, 422))
def update_archive_settings(request: HttpRequest, body: ArchiveSettingsIn) -> Any:
    if body.number_pattern is not None:
        parse_pattern(body.number_pattern)
    return rules.update_archive_settings(
        _user(request),
        acting_organization(request),
        context=_context(request),
        **body.model_dump(exclude_unset=True),
    )

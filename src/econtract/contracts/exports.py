"""The contract list as CSV or XLSX (openpyxl), and many contracts' packages in one zip.

A cell that a spreadsheet would run as a formula (= + - @, tab, carriage return first: OWASP "CSV
injection") is written with a leading apostrophe, so a counterparty named ``=HYPERLINK(…)`` stays text."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from typing import Any

from econtract.contracts.models import Contract
from econtract.evidence.services import RequestContext

MAX_EXPORT_ROWS = 10_000
MAX_BULK_PACKAGES = 50
COLUMNS = [
    ("number", "Number 编号"),
    ("title", "Title 标题"),
    ("counterparties", "Counterparties 相对方"),
    ("amount", "Amount 金额"),
    ("currency", "Currency 币种"),
    ("status", "Status 状态"),
    ("verdict", "Signatures 签名验证"),
    ("signed_at", "Signed 签署时间"),
    ("effective_on", "Effective 生效日期"),
    ("expires_on", "Expires 到期日期"),
    ("category", "Category 分类"),
    ("tags", "Tags 标签"),
    ("department", "Department 部门"),
    ("archive_number", "Archive number 档案号"),
    ("relation", "Relation 关系"),
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def rows(contracts: Iterable[Contract]) -> Iterable[list[str]]:
    for contract in contracts:
        values: dict[str, Any] = {
            "number": contract.number,
            "title": contract.title,
            "counterparties": "; ".join(party.get("name", "") for party in contract.counterparties or []),
            "amount": f"{contract.amount:.2f}" if contract.amount is not None else "",
            "currency": contract.currency if contract.amount is not None else "",
            "status": contract.status,
            "verdict": contract.verdict,
            "signed_at": contract.signed_at.isoformat() if contract.signed_at else "",
            "effective_on": contract.effective_on.isoformat() if contract.effective_on else "",
            "expires_on": contract.expires_on.isoformat() if contract.expires_on else "",
            "category": contract.category.name if contract.category else "",
            "tags": ", ".join(sorted(tag.name for tag in contract.tags.all())),
            "department": contract.department.name if contract.department else "",
            "archive_number": contract.archive_number,
            "relation": contract.relation,
        }
        yield [_text(str(values[key])) for key, _ in COLUMNS]


def _prepared(contracts: Any) -> Any:
    return contracts.select_related("category", "department").prefetch_related("tags")[:MAX_EXPORT_ROWS]


def as_csv(contracts: Any) -> bytes:
    """UTF-8 with a byte-order mark: Excel opens Chinese text right only with it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([label for _, label in COLUMNS])
    writer.writerows(rows(_prepared(contracts)))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def as_xlsx(contracts: Any) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Contracts 合同")
    sheet.append([label for _, label in COLUMNS])
    for values in rows(_prepared(contracts)):
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # never a formula, whatever the text starts with
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def bulk_packages(contracts: list[Contract], user: Any, context: RequestContext) -> bytes:
    """One zip holding each contract's package zip (``<number>-package.zip``), as she may see them."""
    from econtract.contracts.packages import build_package

    buffer = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for number, contract in enumerate(contracts, 1):
            # evidence packages are issued one contract at a time (each is signed and rate-limited)
            package = build_package(
                contract, user, context, requester_key=f"user:{user.pk}", with_evidence=False
            )
            name = package.filename if package.filename not in used else f"{number:03d}-{package.filename}"
            used.add(name)
            archive.writestr(zipfile.ZipInfo(name, (2000, 1, 1, 0, 0, 0)), package.content)
    return buffer.getvalue()

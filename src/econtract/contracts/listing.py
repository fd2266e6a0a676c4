"""Finding contracts: filters, full-text search and keyset pages, one function for the API and the web.

Everything starts from ``Contract.objects.visible_to(user).alive()``: a filter, a search hit or a snippet
can only come from a contract she may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import F, Q, QuerySet

from econtract.api.pagination import InvalidCursor, decode_cursor, encode_cursor
from econtract.contracts.models import Category, Contract

SORT_FIELDS = {"signed_at": "signed_at", "expires_on": "expires_on", "amount": "amount"}
SORTS = ("-signed_at", "signed_at", "-expires_on", "expires_on", "-amount", "amount", "relevance")


@dataclass
class Filters:
    q: str | None = None
    status: str | None = None
    verdict: str | None = None
    category: UUID | None = None
    tag: str | None = None
    counterparty: str | None = None
    department: UUID | None = None
    signed_from: dt.date | None = None
    signed_to: dt.date | None = None
    expires_from: dt.date | None = None
    expires_to: dt.date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None


@dataclass
class Page:
    items: list[tuple[Contract, str]] = field(default_factory=list)  # the contract and its snippet (HTML)
    next_cursor: str | None = None


def _category_subtree(organization_ids: list[Any], category_id: UUID) -> list[Any]:
    rows = list(Category.objects.filter(organization_id__in=organization_ids).values_list("id", "parent_id"))
    children: dict[Any, list[Any]] = {}
    for node, parent in rows:
        children.setdefault(parent, []).append(node)
    found, queue = [], [category_id]
    while queue:
        node = queue.pop()
        found.append(node)
        queue.extend(children.get(node, []))
    return found


def filtered(user: Any, filters: Filters) -> QuerySet[Contract]:
    """Her visible, live contracts narrowed by every filter given (no text search)."""
    rows = Contract.objects.visible_to(user).alive()
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.verdict:
        rows = rows.filter(verdict=filters.verdict)
    if filters.category:
        organizations = list(user.memberships.values_list("organization_id", flat=True))
        rows = rows.filter(category_id__in=_category_subtree(organizations, filters.category))
    if filters.tag and filters.tag.strip():
        rows = rows.filter(tags__name=filters.tag.strip())
    if filters.department:
        rows = rows.filter(department_id=filters.department)
    if filters.counterparty and filters.counterparty.strip():
        rows = rows.filter(counterparty_text__icontains=filters.counterparty.strip())
    if filters.signed_from:
        rows = rows.filter(signed_at__date__gte=filters.signed_from)
    if filters.signed_to:
        rows = rows.filter(signed_at__date__lte=filters.signed_to)
    if filters.expires_from:
        rows = rows.filter(expires_on__gte=filters.expires_from)
    if filters.expires_to:
        rows = rows.filter(expires_on__lte=filters.expires_to)
    if filters.amount_min is not None:
        rows = rows.filter(amount__gte=filters.amount_min)
    if filters.amount_max is not None:
        rows = rows.filter(amount__lte=filters.amount_max)
    return rows.distinct()


def find(
    user: Any, filters: Filters, *, sort: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page:
    """One page of her contracts: by relevance when searching (unless sorted otherwise), else newest signed first."""
    rows = filtered(user, filters)
    text = (filters.q or "").strip()
    sort = sort or ("relevance" if text else "-signed_at")
    if sort not in SORTS:
        raise InvalidCursor(f"sort must be one of {', '.join(SORTS)}")
    if not text:
        return keyset_page(rows, "-signed_at" if sort == "relevance" else sort, limit, cursor)
    from econtract.contracts import search

    results = search.matching(rows, text)
    if sort != "relevance":
        return keyset_page(results.contracts, sort, limit, cursor, snippets=results.snippets)
    return _relevance_page(results, limit, cursor)


MAX_RELEVANCE_OFFSET = 10_000


def _relevance_page(results: Any, limit: int, cursor: str | None) -> Page:
    """By relevance: the cursor is a position. A rank is a float the database computes, which a keyset
    cannot compare exactly; a result list re-ranked between two pages may shift by a row, never leak one."""
    offset = 0
    if cursor:
        (value,) = decode_cursor("contracts:relevance", cursor, 1)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RELEVANCE_OFFSET:
            raise InvalidCursor("the cursor is not valid; use the next_cursor of a previous page")
        offset = value
    found = list(results.contracts[offset : offset + limit + 1])
    more = len(found) > limit and offset + limit < MAX_RELEVANCE_OFFSET
    found = found[:limit]
    texts = results.snippets(found)
    return Page(
        items=[(contract, str(texts.get(contract.pk, ""))) for contract in found],
        next_cursor=encode_cursor("contracts:relevance", [offset + limit]) if more else None,
    )


def keyset_page(
    rows: QuerySet[Contract], sort: str, limit: int, cursor: str | None, snippets: Any = None
) -> Page:
    """Keyset pagination on (sort field, id), nulls last either way; ``snippets(page) -> {id: html}``."""
    descending = sort.startswith("-")
    name = SORT_FIELDS[sort.lstrip("-")]
    rows = rows.order_by(
        F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True),
        "-id" if descending else "id",
    )
    if cursor:
        value, last_id = decode_cursor(f"contracts:{sort}", cursor, 2)
        try:
            last = UUID(str(last_id))
            key = _cursor_value(name, value)
        except ValueError:
            raise InvalidCursor("the cursor is not valid; use the next_cursor of a previous page") from None
        after = {"id__lt": last} if descending else {"id__gt": last}
        if key is None:  # among the nulls at the end: only the id orders them
            rows = rows.filter(**{f"{name}__isnull": True}, **after)
        else:
            beyond = f"{name}__lt" if descending else f"{name}__gt"
            rows = rows.filter(
                Q(**{beyond: key}) | Q(**{name: key}, **after) | Q(**{f"{name}__isnull": True})
            )
    found = list(rows[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    next_cursor = None
    if more:
        tail = found[-1]
        next_cursor = encode_cursor(f"contracts:{sort}", [_cursor_text(getattr(tail, name)), tail.pk.hex])
    texts = snippets(found) if snippets is not None else {}
    return Page(
        items=[(contract, str(texts.get(contract.pk, ""))) for contract in found], next_cursor=next_cursor
    )


def _cursor_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _cursor_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    text = str(value)
    if name == "signed_at":
        parsed = dt.datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            raise ValueError("no offset")
        return parsed
    if name == "expires_on":
        return dt.date.fromisoformat(text)
    try:
        return Decimal(text)
    except ArithmeticError:
        raise ValueError("not a number") from None

"""In-app notice endpoints. Thin: scope to the caller, call notifications.inapp, shape the answer."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import Q
from django.http import Http404, HttpRequest
from ninja import Router, Schema

from econtract.api.openapi import responses
from econtract.api.pagination import InvalidCursor, PageQuery, decode_cursor, encode_cursor
from econtract.notifications import inapp
from econtract.notifications.models import Notice

router = Router(tags=["notices"])


class NoticeOut(Schema):
    id: UUID
    kind: str
    title: str
    body: str
    url: str  # a path on this site ("" when the notice points nowhere)
    about_type: str
    about_id: str
    created_at: datetime
    read_at: datetime | None = None


class NoticePage(Schema):
    items: list[NoticeOut]
    next_cursor: str | None = None


@router.get("/notices", response=responses({200: NoticePage}, 400, 401, 422))
def list_notices(request: HttpRequest, page: PageQuery, unread: bool = False) -> dict[str, object]:
    """The caller's notices, newest first, ``limit`` at a time; ``unread=true`` for those not yet read."""
    query = inapp.unread_for(request.user) if unread else inapp.notices_for(request.user)
    if page.cursor:
        created, notice_id = _notice_cursor(page.cursor)
        query = query.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=notice_id))
    rows = list(query[: page.limit + 1])
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = (
        encode_cursor("notices", [rows[-1].created_at.isoformat(), rows[-1].id.hex]) if more else None
    )
    return {"items": rows, "next_cursor": next_cursor}


def _notice_cursor(cursor: str) -> tuple[datetime, UUID]:
    created, notice_id = decode_cursor("notices", cursor, 2)
    try:
        parsed = datetime.fromisoformat(str(created))
        if parsed.tzinfo is None:
            raise ValueError("no offset")
        return parsed, UUID(str(notice_id))
    except ValueError:
        raise InvalidCursor("the cursor is not valid; use the next_cursor of a previous page") from None


@router.post("/notices/{notice_id}/read", response=responses({200: NoticeOut}, 401, 404, 422))
def read_notice(request: HttpRequest, notice_id: UUID) -> Notice:
    """Marks one of the caller's notices read; another user's notice is not found."""
    try:
        return inapp.mark_read(request.user, notice_id)
    except Notice.DoesNotExist:
        raise Http404("no such notice") from None

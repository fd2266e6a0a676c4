"""One list shape for every API list: ``{"items": [...], "next_cursor": "…" | null}``.

Keyset pagination: the cursor names the last item of the page (its sort key), so a page never
repeats or skips an item when rows are added meanwhile, and deep pages cost no OFFSET scan. Cursors
are opaque to clients (base64url of a small JSON array tagged with the list it belongs to); they
carry no authority, since every page is read through the caller's own scope.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ninja import Query, Schema
from pydantic import Field

from econtract.jsoninput import load_json

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_LENGTH = 512


class InvalidCursor(Exception):
    """The ``cursor`` is not one this API issued for this list."""

    code = "invalid_cursor"


class PageParams(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="items per page, 1 to 200")
    cursor: str | None = Field(
        None,
        max_length=MAX_CURSOR_LENGTH,
        description="`next_cursor` of the previous page; omit for the first page",
    )


PageQuery = Query[PageParams]


def encode_cursor(kind: str, key: list[Any]) -> str:
    raw = json.dumps([kind, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(kind: str, cursor: str, arity: int) -> list[Any]:
    """The sort key inside ``cursor``; InvalidCursor for anything this list did not issue."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = load_json(base64.urlsafe_b64decode(padded.encode("ascii")), max_bytes=4096, max_depth=2)
    except (UnicodeError, binascii.Error, ValueError):
        raise InvalidCursor("the cursor is not valid; use the next_cursor of a previous page") from None
    if not isinstance(value, list) or len(value) != arity + 1 or value[0] != kind:
        raise InvalidCursor("the cursor belongs to another list or is damaged")
    return value[1:]

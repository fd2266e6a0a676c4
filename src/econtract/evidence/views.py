"""The public log (c2sp.org/tlog-tiles): checkpoint, verifier key, hash tiles and entry bundles.

Every tile path is immutable: a full tile never changes and a partial tile `.p/<W>` of width W holds the
same W hashes forever, so both are served with an immutable cache lifetime. The checkpoint is not.
"""

from __future__ import annotations

import re

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from econtract.evidence import log
from econtract.evidence.models import Leaf, TreeHash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
IMMUTABLE = "public, max-age=31536000, immutable"
_INDEX = re.compile(r"^(?:x\d{3}/)*\d{3}$")


def parse_tile_index(text: str) -> int:
    """c2sp.org/tlog-tiles index path: 3-digit elements, all but the last prefixed with x."""
    if not _INDEX.match(text) or len(text) > 40:
        raise Http404("malformed tile index")
    return int(text.replace("x", "").replace("/", ""))


def tile_index_path(index: int) -> str:
    digits = f"{index:03d}"
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])


def _width(partial: str | None) -> int:
    if partial is None:
        return TILE_WIDTH
    if not partial.isdigit() or partial.startswith("0") or not 1 <= int(partial) < TILE_WIDTH:
        raise Http404("malformed partial width")
    return int(partial)


def _text(body: str, cache: str = "no-cache") -> HttpResponse:
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = cache
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def checkpoint(request: HttpRequest) -> HttpResponse:
    latest = log.latest_checkpoint()
    if latest is None or latest.tree_size < log.get_log().tree_size:
        latest = log.checkpoint_if_due() or log.latest_checkpoint()
    if latest is None:
        latest = log.make_checkpoint()
    return _text(latest.note)


@require_GET
def vkey(request: HttpRequest) -> HttpResponse:
    return _text(log.log_verifier_key() + "\n", "public, max-age=86400")


@require_GET
def hash_tile(request: HttpRequest, level: str, index: str, partial: str | None = None) -> HttpResponse:
    number, width = parse_tile_index(index), _width(partial)
    tree_level = int(level) * TILE_HEIGHT
    if int(level) > 7:
        raise Http404("no such tile level")
    first = number * TILE_WIDTH
    rows = list(
        TreeHash.objects.filter(level=tree_level, index__gte=first, index__lt=first + width)
        .order_by("index")
        .values_list("hash", flat=True)
    )
    if len(rows) != width:
        raise Http404("tile not yet complete to that width")
    response = HttpResponse(b"".join(bytes(h) for h in rows), content_type="application/octet-stream")
    response["Cache-Control"] = IMMUTABLE
    return response


@require_GET
def entry_bundle(request: HttpRequest, index: str, partial: str | None = None) -> HttpResponse:
    number, width = parse_tile_index(index), _width(partial)
    first = number * TILE_WIDTH
    rows = list(
        Leaf.objects.filter(index__gte=first, index__lt=first + width)
        .order_by("index")
        .values_list("data", flat=True)
    )
    if len(rows) != width:
        raise Http404("entry bundle not yet complete to that width")
    body = b"".join(len(bytes(d)).to_bytes(2, "big") + bytes(d) for d in rows)
    response = HttpResponse(body, content_type="application/octet-stream")
    response["Cache-Control"] = IMMUTABLE
    return response

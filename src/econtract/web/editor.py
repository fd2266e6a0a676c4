"""The field editor's data: what the page script starts from, and how its answer is read back.

The script works in fractions of the rendered page (origin top-left) and sends PDF points of the
*displayed* page (origin lower-left, y up). For a page with /Rotate that differs from the page's
user space, which signing.services expects: ``to_user_fields`` converts, ``editor_state`` and
``field_overlays`` convert back (signing.geometry).
"""

from __future__ import annotations

import math
from typing import Any

from econtract.jsoninput import JsonRefused, load_json
from econtract.signing.geometry import displayed_size, to_display, to_user_space
from econtract.signing.models import Envelope
from econtract.signing.services import MAX_FIELDS, MAX_PARTIES, FieldSpec, PartySpec
from econtract.textinput import UnsafeText, clean_line

MAX_PAYLOAD_CHARS = 200_000


class EditorPayloadError(ValueError):
    """The editor's answer is not the shape the page script sends."""


def _rotation(envelope: Envelope, page: int) -> int:
    rotations = envelope.page_rotations or []
    return int(rotations[page - 1]) if page <= len(rotations) else 0


def _user_size(envelope: Envelope, page: int) -> tuple[float, float]:
    llx, lly, urx, ury = envelope.page_sizes[page - 1]
    return urx - llx, ury - lly


def page_dimensions(envelope: Envelope) -> list[dict[str, float]]:
    """Each page's size as displayed (a page rotated by 90 or 270 degrees shows landscape)."""
    pages = []
    for number in range(1, len(envelope.page_sizes) + 1):
        width, height = displayed_size(*_user_size(envelope, number), _rotation(envelope, number))
        pages.append({"number": number, "width": round(width, 3), "height": round(height, 3)})
    return pages


def _displayed_box(
    envelope: Envelope, page: int, x: float, y: float, w: float, h: float
) -> tuple[float, ...]:
    return to_display((x, y, w, h), *_user_size(envelope, page), _rotation(envelope, page))


def to_user_fields(envelope: Envelope, fields: list[FieldSpec]) -> list[FieldSpec]:
    """The editor's boxes (displayed page) in each page's user space; unknown pages pass unchanged
    so that signing.services reports them."""
    converted = []
    for spec in fields:
        if not 1 <= spec.page <= len(envelope.page_sizes):
            converted.append(spec)
            continue
        x, y, w, h = to_user_space(
            (spec.x, spec.y, spec.width, spec.height),
            *_user_size(envelope, spec.page),
            _rotation(envelope, spec.page),
        )
        converted.append(
            FieldSpec(
                party=spec.party,
                page=spec.page,
                x=round(x, 2),
                y=round(y, 2),
                width=round(w, 2),
                height=round(h, 2),
            )
        )
    return converted


def editor_state(envelope: Envelope) -> dict[str, Any]:
    parties = list(envelope.parties.all())
    index = {party.pk: position for position, party in enumerate(parties)}
    fields = []
    for f in envelope.fields.order_by("position"):
        if f.party_id not in index:
            continue
        x, y, w, h = _displayed_box(envelope, f.page, f.x, f.y, f.width, f.height)
        fields.append({"party": index[f.party_id], "page": f.page, "x": x, "y": y, "width": w, "height": h})
    return {
        "pages": page_dimensions(envelope),
        "parties": [
            {
                "name": p.name,
                "email": p.email,
                "order": p.order,
                "phone": p.phone,
                "min_assurance": p.min_assurance,
                "willingness": list(p.willingness or []),
            }
            for p in parties
        ],
        "fields": fields,
    }


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EditorPayloadError(f"{what} must be a number")
    return float(value)


def _integer(value: Any, what: str) -> int:
    number = _number(value, what)
    if number != int(number):
        raise EditorPayloadError(f"{what} must be a whole number")
    return int(number)


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise EditorPayloadError(f"{what} must be text of at most {limit} characters")
    try:
        return clean_line(value, field=what, max_length=limit)
    except UnsafeText as exc:
        raise EditorPayloadError(str(exc)) from exc


def _methods(value: Any, number: int) -> tuple[str, ...]:
    """Willingness method names as given; signing.services checks them."""
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 16 for v in value):
        raise EditorPayloadError(f"party {number} willingness must be a list of method names")
    return tuple(value[:8])


def parse_payload(raw: str) -> tuple[list[PartySpec], list[FieldSpec]]:
    if not raw or len(raw) > MAX_PAYLOAD_CHARS:
        raise EditorPayloadError("the editor sent nothing, or too much")
    try:
        data = load_json(raw)
    except JsonRefused as exc:
        raise EditorPayloadError(f"the editor's answer is not JSON we read: {exc}") from exc
    if not isinstance(data, dict):
        raise EditorPayloadError("the editor's answer is not an object")
    raw_parties, raw_fields = data.get("parties", []), data.get("fields", [])
    if not isinstance(raw_parties, list) or not isinstance(raw_fields, list):
        raise EditorPayloadError("parties and fields must be lists")
    if len(raw_parties) > MAX_PARTIES or len(raw_fields) > MAX_FIELDS:
        raise EditorPayloadError("too many parties or fields")
    parties = []
    for number, item in enumerate(raw_parties, start=1):
        if not isinstance(item, dict):
            raise EditorPayloadError(f"party {number} is not an object")
        parties.append(
            PartySpec(
                name=_text(item.get("name", ""), f"party {number} name", 200),
                email=_text(item.get("email", ""), f"party {number} email", 254).lower(),
                order=_integer(item.get("order", 1), f"party {number} order"),
                phone=_text(item.get("phone", ""), f"party {number} phone", 40),
                min_assurance=_text(item.get("min_assurance", ""), f"party {number} min_assurance", 2),
                willingness=_methods(item.get("willingness", []), number),
            )
        )
    fields = []
    for number, item in enumerate(raw_fields, start=1):
        if not isinstance(item, dict):
            raise EditorPayloadError(f"field {number} is not an object")
        fields.append(
            FieldSpec(
                party=_integer(item.get("party"), f"field {number} party"),
                page=_integer(item.get("page"), f"field {number} page"),
                x=round(_number(item.get("x"), f"field {number} x"), 2),
                y=round(_number(item.get("y"), f"field {number} y"), 2),
                width=round(_number(item.get("width"), f"field {number} width"), 2),
                height=round(_number(item.get("height"), f"field {number} height"), 2),
            )
        )
    return parties, fields


def state_from_payload(envelope: Envelope, raw: str) -> dict[str, Any] | None:
    """The editor's unsaved answer, to show it again next to an error; None when unreadable."""
    try:
        parties, fields = parse_payload(raw)
    except EditorPayloadError:
        return None
    return {
        "pages": page_dimensions(envelope),
        "parties": [
            {
                "name": p.name,
                "email": p.email,
                "order": p.order,
                "phone": p.phone,
                "min_assurance": p.min_assurance,
                "willingness": list(p.willingness or []),
            }
            for p in parties
        ],
        "fields": [
            {"party": f.party, "page": f.page, "x": f.x, "y": f.y, "width": f.width, "height": f.height}
            for f in fields
        ],
    }


def field_overlays(envelope: Envelope, fields) -> dict[int, list[dict[str, float]]]:  # type: ignore[no-untyped-def]
    """Fields as fractions of their page (top-left origin), grouped by page, for read-only overlays."""
    overlays: dict[int, list[dict[str, float]]] = {}
    for field in fields:
        width, height = displayed_size(*_user_size(envelope, field.page), _rotation(envelope, field.page))
        x, y, w, h = _displayed_box(envelope, field.page, field.x, field.y, field.width, field.height)
        overlays.setdefault(field.page, []).append(
            {
                "left": x / width,
                "top": 1 - (y + h) / height,
                "width": w / width,
                "height": h / height,
                "party": getattr(field.party, "name", ""),
            }
        )
    return overlays

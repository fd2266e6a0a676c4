"""The field editor's data: what the page script starts from, and how its answer is read back.

The script works in fractions of the rendered page (origin top-left) and sends PDF points of the
*displayed* page (origin lower-left, y up). For a page with /Rotate that differs from the page's
user space, which signing.services expects: ``to_user_fields`` converts, ``editor_state`` and
``field_overlays`` convert back (signing.geometry).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any
from uuid import UUID

from econtract.jsoninput import JsonRefused, load_json
from econtract.signing.geometry import displayed_size, to_display, to_user_space
from econtract.signing.models import FILLED_KINDS, Envelope, Party, SignatureField
from econtract.signing.services import MAX_FIELDS, MAX_PARTIES, FieldSpec, PartySpec
from econtract.signing.services.envelopes import FIELD_NAME, kinds_for_party
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
        # a cross-page seal's y and height are the same on every page, in the API's terms
        if spec.kind == SignatureField.Kind.CROSS_PAGE_SEAL or not 1 <= spec.page <= len(envelope.page_sizes):
            converted.append(spec)
            continue
        x, y, w, h = to_user_space(
            (spec.x, spec.y, spec.width, spec.height),
            *_user_size(envelope, spec.page),
            _rotation(envelope, spec.page),
        )
        # only the box turns: kind, name, label and required stay as drawn
        converted.append(replace(spec, x=round(x, 2), y=round(y, 2), width=round(w, 2), height=round(h, 2)))
    return converted


def field_kinds() -> dict[str, Any]:
    """What the script offers for a box: the kinds per party (an automatic party is an organisation
    signed unattended), which kinds are filled form fields, and the PDF field name's pattern."""
    return {
        "person": kinds_for_party(PartySpec(name="", email="")),
        "organization": kinds_for_party(PartySpec(name="", email="", kind=Party.Kind.ORGANIZATION)),
        "automatic": kinds_for_party(
            PartySpec(name="", email="", kind=Party.Kind.ORGANIZATION, automatic=True)
        ),
        "filled": sorted(FILLED_KINDS),
        "name_pattern": FIELD_NAME.pattern,
    }


def _field_state(spec: FieldSpec | SignatureField, party: int, box: tuple[float, ...]) -> dict[str, Any]:
    """A box as the script reads it: ``box`` is (x, y, width, height) on the displayed page."""
    x, y, w, h = box
    filled = spec.kind in FILLED_KINDS
    return {
        "party": party,
        "page": spec.page,
        "x": x,
        "y": y,
        "width": w,
        "height": h,
        "kind": spec.kind,
        "name": spec.name if filled else "",
        "label": spec.label if filled else "",
        "required": spec.required if filled else True,
    }


def _party_state(party: PartySpec | Party, cross_page: dict[str, float] | None) -> dict[str, Any]:
    if isinstance(party, Party):
        seal_id = party.automatic_seal_id
    else:
        seal_id = party.seal_id if party.automatic else None
    return {
        "name": party.name,
        "email": party.email,
        "order": party.order,
        "phone": party.phone,
        "min_assurance": party.min_assurance,
        "willingness": list(party.willingness or []),
        "kind": party.kind,
        "organization_uscc": party.organization_uscc,
        "cross_page_seal": cross_page,
        # set through the API only; the editor keeps it as it was
        "automatic_seal_id": str(seal_id) if seal_id else None,
    }


def editor_state(envelope: Envelope) -> dict[str, Any]:
    parties = list(envelope.parties.all())
    index = {party.pk: position for position, party in enumerate(parties)}
    fields = []
    # A cross-page seal is stored as one strip per page; the editor shows it as the party's y and height.
    cross_page: dict[int, dict[str, float]] = {}
    for f in envelope.fields.order_by("position", "page"):
        if f.party_id not in index:
            continue
        if f.kind == SignatureField.Kind.CROSS_PAGE_SEAL:
            cross_page.setdefault(index[f.party_id], {"y": f.y, "height": f.height})
            continue
        box = _displayed_box(envelope, f.page, f.x, f.y, f.width, f.height)
        fields.append(_field_state(f, index[f.party_id], box))
    return {
        "pages": page_dimensions(envelope),
        "parties": [_party_state(p, cross_page.get(position)) for position, p in enumerate(parties)],
        "fields": fields,
        "kinds": field_kinds(),
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


def _kind(value: Any, number: int) -> str:
    if value not in Party.Kind.values:
        raise EditorPayloadError(f"party {number} kind must be person or organization")
    return str(value)


def _box_kind(value: Any, number: int, sealed: bool) -> str:
    """A box's kind as given (signing.services judges it for the party); none given: the party's mark."""
    if value is None:
        return SignatureField.Kind.SEAL if sealed else SignatureField.Kind.SIGNATURE
    if not isinstance(value, str) or len(value) > 32:
        raise EditorPayloadError(f"field {number} kind must be a kind's name")
    if value == SignatureField.Kind.CROSS_PAGE_SEAL:
        raise EditorPayloadError(f"field {number}: a cross-page seal is set on its party, not drawn")
    return value


def _required(value: Any, number: int) -> bool:
    if not isinstance(value, bool):
        raise EditorPayloadError(f"field {number} required must be true or false")
    return value


def _seal_id(value: Any, number: int) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(str(value))
    except ValueError:
        raise EditorPayloadError(f"party {number} automatic_seal_id must be a seal's id") from None


def _cross_page(value: Any, number: int) -> tuple[float, float] | None:
    """A party's cross-page seal as (y, height) in points, or None; signing.services checks the range."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise EditorPayloadError(f"party {number} cross_page_seal must be an object with y and height")
    return (
        round(_number(value.get("y"), f"party {number} cross-page seal y"), 2),
        round(_number(value.get("height"), f"party {number} cross-page seal height"), 2),
    )


def parse_payload(raw: str) -> tuple[list[PartySpec], list[FieldSpec]]:
    """Parties and fields as signing.services takes them.

    A box without a kind is its party's mark (an organisation's box is a seal, a person's a
    signature); a box's ``name``, ``label`` and ``required`` are read as given, and signing.services
    judges them with its kind. A party's ``cross_page_seal`` ``{"y", "height"}`` becomes one
    cross_page_seal field after the boxes.
    """
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
    cross_pages: list[FieldSpec] = []
    for number, item in enumerate(raw_parties, start=1):
        if not isinstance(item, dict):
            raise EditorPayloadError(f"party {number} is not an object")
        kind = _kind(item.get("kind", Party.Kind.PERSON), number)
        organization = kind == Party.Kind.ORGANIZATION
        seal_id = _seal_id(item.get("automatic_seal_id"), number)
        parties.append(
            PartySpec(
                name=_text(item.get("name", ""), f"party {number} name", 200),
                email=_text(item.get("email", ""), f"party {number} email", 254).lower(),
                order=_integer(item.get("order", 1), f"party {number} order"),
                phone=_text(item.get("phone", ""), f"party {number} phone", 40),
                min_assurance=_text(item.get("min_assurance", ""), f"party {number} min_assurance", 2),
                willingness=_methods(item.get("willingness", []), number),
                kind=kind,
                # a person's row may still hold what was typed before switching; it is not sent on
                organization_uscc=_text(item.get("organization_uscc", ""), f"party {number} USCC", 40)
                if organization
                else "",
                # an automatic party (made through the API) stays automatic with its seal
                automatic=organization and seal_id is not None,
                seal_id=seal_id if organization else None,
            )
        )
        cross_page = _cross_page(item.get("cross_page_seal"), number) if organization else None
        if cross_page is not None:
            y, height = cross_page
            cross_pages.append(
                FieldSpec(
                    party=number - 1,
                    page=1,
                    x=0,
                    y=y,
                    width=0,
                    height=height,
                    kind=SignatureField.Kind.CROSS_PAGE_SEAL,
                )
            )
    if len(raw_fields) + len(cross_pages) > MAX_FIELDS:
        raise EditorPayloadError("too many parties or fields")
    fields = []
    for number, item in enumerate(raw_fields, start=1):
        if not isinstance(item, dict):
            raise EditorPayloadError(f"field {number} is not an object")
        party = _integer(item.get("party"), f"field {number} party")
        sealed = 0 <= party < len(parties) and parties[party].kind == Party.Kind.ORGANIZATION
        fields.append(
            FieldSpec(
                party=party,
                page=_integer(item.get("page"), f"field {number} page"),
                x=round(_number(item.get("x"), f"field {number} x"), 2),
                y=round(_number(item.get("y"), f"field {number} y"), 2),
                width=round(_number(item.get("width"), f"field {number} width"), 2),
                height=round(_number(item.get("height"), f"field {number} height"), 2),
                kind=_box_kind(item.get("kind"), number, sealed),
                name=_text(item.get("name", ""), f"field {number} name", 64),
                label=_text(item.get("label", ""), f"field {number} label", 200),
                required=_required(item.get("required", True), number),
            )
        )
    return parties, fields + cross_pages


def state_from_payload(envelope: Envelope, raw: str) -> dict[str, Any] | None:
    """The editor's unsaved answer, to show it again next to an error; None when unreadable."""
    try:
        parties, fields = parse_payload(raw)
    except EditorPayloadError:
        return None
    cross_page = {
        f.party: {"y": f.y, "height": f.height}
        for f in fields
        if f.kind == SignatureField.Kind.CROSS_PAGE_SEAL
    }
    return {
        "pages": page_dimensions(envelope),
        "parties": [_party_state(p, cross_page.get(position)) for position, p in enumerate(parties)],
        "fields": [
            _field_state(f, f.party, (f.x, f.y, f.width, f.height))
            for f in fields
            if f.kind != SignatureField.Kind.CROSS_PAGE_SEAL
        ],
        "kinds": field_kinds(),
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

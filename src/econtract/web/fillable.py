"""The fields a signer fills, on the signing pages: what to ask, and her answers as sign-request values."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

from econtract.signing.models import Party, SignatureField
from econtract.signing.services.filling import filled_fields

INPUT_PREFIX = "field_"


def fields_to_fill(party: Party, post: QueryDict | None = None) -> list[dict[str, Any]]:
    """Her text, number and checkbox fields (date-signed ones are filled for her), with what she typed."""
    rows = []
    for spec in filled_fields(party):
        if spec.kind == SignatureField.Kind.DATE_SIGNED:
            continue
        key = INPUT_PREFIX + spec.name
        rows.append(
            {
                "input": key,
                "name": spec.name,
                "kind": spec.kind,
                "label": spec.label or spec.name,
                "required": spec.required,
                "value": (post.get(key, "") if post is not None else ""),
                "checked": post is not None and post.get(key) == "on",
            }
        )
    return rows


def values_from(party: Party, post: QueryDict) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for row in fields_to_fill(party, post):
        if row["kind"] == SignatureField.Kind.CHECKBOX:
            values[row["name"]] = row["checked"]
        elif row["value"].strip():
            values[row["name"]] = row["value"]
    return values

"""What the OpenAPI document says beyond the handlers' signatures: error answers and JSON form parts."""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import BaseModel


class ErrorOut(Schema):
    """Every error answer (api.errors.error_response); some add fields, e.g. ``remaining_attempts``."""

    error: str
    detail: str


# What each status means here; the codes themselves are listed in docs/api.md and api.errors.
ERROR_STATUSES = {400, 401, 403, 404, 409, 413, 415, 422, 423, 429, 503}


def responses(ok: dict[int, Any], *errors: int) -> dict[int, Any]:
    """``response=`` for an operation: its success schema(s) and ErrorOut for each error it can return."""
    unknown = set(errors) - ERROR_STATUSES
    if unknown:
        raise ValueError(f"not an error status of this API: {sorted(unknown)}")
    return {**ok, **dict.fromkeys(sorted(errors), ErrorOut)}


def json_part_schema(model: type[BaseModel], description: str) -> dict[str, Any]:
    """The JSON Schema of ``model`` with every $ref inlined, for a multipart part holding JSON text.

    A form field is a string to django-ninja; the OpenAPI document should say it is this object.
    Inlined, because pydantic's ``$defs`` would not resolve inside a request body schema.
    """
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    inlined = inline(schema)
    inlined["description"] = description
    inlined["contentMediaType"] = "application/json"
    return inlined

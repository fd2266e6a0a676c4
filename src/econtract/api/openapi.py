"""What the OpenAPI document says beyond the handlers' signatures: error answers and JSON form parts."""

from __future__ import annotations

from http import HTTPStatus
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


# What the API's edge answers before any handler runs, whatever the operation: a body that is not
# JSON we read (api.jsonedge: 400 `invalid_json`, 413 `too_large`), a multipart body that cannot be
# split (api.urls: 400 `invalid_multipart`), any body past the upload limit (api.limits: 413), and
# input that does not match the operation's schema, a malformed path id included (ninja's
# ValidationError: 422 `invalid_request`).
EDGE_ERRORS_BODY = (400, 413, 422)
EDGE_ERRORS_PARAMETERS = (422,)


def edge_errors(operation: dict[str, Any]) -> set[int]:
    """The error statuses the API's edge can answer for ``operation`` (an OpenAPI operation object)."""
    statuses: set[int] = set()
    if (operation.get("requestBody") or {}).get("content"):
        statuses.update(EDGE_ERRORS_BODY)
    if operation.get("parameters"):
        statuses.update(EDGE_ERRORS_PARAMETERS)
    return statuses


def document_edge_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Add to every operation of an OpenAPI ``document`` the edge's error answers it does not list,
    with the ErrorOut schema, so a client (or a fuzzer) finds every status it can receive documented."""
    error_schema = {"$ref": "#/components/schemas/ErrorOut"}
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            answers = operation.setdefault("responses", {})  # keyed by int (ninja) or str (JSON)
            listed = {int(status) for status in answers}
            for status in sorted(edge_errors(operation) - listed):
                answers[status] = {
                    "description": HTTPStatus(status).phrase,
                    "content": {"application/json": {"schema": error_schema}},
                }
            operation["responses"] = dict(sorted(answers.items(), key=lambda item: int(item[0])))
    return document

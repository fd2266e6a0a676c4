"""The API's JSON edge: every request body is read by ``BoundedJsonParser`` and every answer
written by ``FiniteJSONRenderer``, so no handler sees an unbounded document and no client ever
receives ``NaN`` or ``Infinity`` (which are not JSON and which strict parsers reject)."""

from __future__ import annotations

import json
import logging
from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from ninja.parser import Parser
from ninja.renderers import JSONRenderer
from ninja.types import DictStrAny

from econtract.api.errors import error_response
from econtract.jsoninput import JsonNotFinite, JsonRefused, finite_only, load_json

logger = logging.getLogger("econtract.api")


class BoundedJsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> DictStrAny:
        return cast(DictStrAny, load_json(request.body))


class FiniteJSONRenderer(JSONRenderer):
    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> Any:
        try:
            return json.dumps(data, cls=self.encoder_class, allow_nan=False)
        except ValueError:
            # Only a row stored before input was bounded can hold one; null keeps the answer JSON.
            logger.warning("non-finite number in the answer to %s, rendered as null", request.path)
            return json.dumps(finite_only(data), cls=self.encoder_class, allow_nan=False)


def json_refused_response(request: HttpRequest, exc: JsonRefused) -> HttpResponse:
    """A body that is not JSON we read. A non-finite number is a schema error at its place, like
    any other value the schema does not allow; too large is 413, too deep or malformed 400."""
    if isinstance(exc, JsonNotFinite):
        return error_response(
            "invalid_request",
            "the request does not match the schema",
            422,
            errors=[{"type": "finite_number", "loc": ["body", *exc.path], "msg": str(exc)}],
        )
    return error_response(exc.code, str(exc), exc.status)

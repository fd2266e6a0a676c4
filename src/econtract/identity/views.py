"""The sandbox identity provider over HTTP, at /sandbox/idp/ (docs/identity.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from econtract.identity.providers.sandbox import TestIdentity, answer, answer_face, load_identities


@cache
def _identities() -> tuple[TestIdentity, ...]:
    return load_identities()


def _serve(request: HttpRequest, answerer: Callable[..., tuple[int, dict[str, Any]]]) -> HttpResponse:
    if not settings.ECONTRACT_IDP_SANDBOX:
        raise Http404("the sandbox identity provider is off")
    status, content = answerer(
        request.body,
        request.headers.get("Authorization", ""),
        settings.ECONTRACT_IDP_SANDBOX_KEY,
        _identities(),
    )
    return HttpResponse(
        json.dumps(content, ensure_ascii=False), status=status, content_type="application/json"
    )


@csrf_exempt  # a machine protocol authenticated by its bearer key, not by a session
@require_POST
def sandbox_idp(request: HttpRequest) -> HttpResponse:
    return _serve(request, answer)


@csrf_exempt  # the same machine protocol: face checks at /sandbox/idp/face
@require_POST
def sandbox_idp_face(request: HttpRequest) -> HttpResponse:
    return _serve(request, answer_face)

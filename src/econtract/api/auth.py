"""API authentication: `Authorization: Bearer <API key>`, or the browser session (with CSRF)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, django_auth

from econtract.accounts.errors import InvalidApiKey
from econtract.accounts.services import authenticate_api_key, primary_organization


class ApiKeyAuth(HttpBearer):
    openapi_description = "An econtract API key (`ek_…`), created with `econtract apikey create EMAIL`."

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        try:
            key = authenticate_api_key(token)
        except InvalidApiKey:
            return None
        request.user = key.user
        request.api_key = key  # type: ignore[attr-defined]
        return key.user


api_auth = [ApiKeyAuth(), django_auth]


def acting_organization(request: HttpRequest) -> Any:
    """An API key acts for the organisation it was issued in; a browser session for the user's primary one."""
    api_key = getattr(request, "api_key", None)
    return api_key.organization if api_key is not None else primary_organization(request.user)

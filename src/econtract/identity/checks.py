"""Start-up checks of the identity provider (run by every management command, `serve` included)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from econtract.identity.providers import get_identity_provider


def identity_provider(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        get_identity_provider()
    except ImproperlyConfigured as exc:
        # found at start, not at the first person's check: the name and number would cross in clear
        if settings.ECONTRACT_IDP_URL:
            return [checks.Error(f"ECONTRACT_IDP_URL: {exc}", id="identity.E001")]
        # the sandbox is reached at BASE_URL: a plain-http trial on a LAN still serves, without checks
        return [
            checks.Warning(f"the sandbox identity provider at ECONTRACT_BASE_URL: {exc}", id="identity.W002")
        ]
    if settings.ECONTRACT_IDP_URL and not settings.ECONTRACT_IDP_KEY:
        return [checks.Warning("ECONTRACT_IDP_URL is set without ECONTRACT_IDP_KEY", id="identity.W001")]
    return []

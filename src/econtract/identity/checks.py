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


def webauthn_relying_party(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Passkeys need a domain name as relying-party id: browsers refuse an IP address."""
    from econtract.identity.errors import WebAuthnUnavailable
    from econtract.identity.passkeys import check_rp_id, configured_rp_id

    try:
        check_rp_id(configured_rp_id())
    except WebAuthnUnavailable as exc:
        if getattr(settings, "ECONTRACT_WEBAUTHN_RP_ID", ""):  # set on purpose to something unusable
            return [checks.Error(f"ECONTRACT_WEBAUTHN_RP_ID: {exc}", id="identity.E002")]
        # the embedded default (http://127.0.0.1:8000) still serves; TOTP apps work, passkeys are refused
        return [checks.Warning(f"passkeys are off: {exc}", id="identity.W003")]
    return []


def oidc_provider(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The OpenID Connect settings are read at start: a plain-http issuer or an unknown document type
    is found by `serve`, not by the first person who presses "Log in with …"."""
    from econtract.identity.oidc import config

    try:
        config()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="identity.E003")]
    if settings.ECONTRACT_OIDC_ISSUER and not settings.ECONTRACT_OIDC_CLIENT_ID:
        return [
            checks.Warning(
                "ECONTRACT_OIDC_ISSUER is set without ECONTRACT_OIDC_CLIENT_ID", id="identity.W004"
            )
        ]
    return []

"""Identity providers: who is asked whether a name and a document number belong together.

``get_identity_provider()`` picks one from the settings: ECONTRACT_IDP_URL set, that provider over
HTTP; otherwise the sandbox (test identities only) over HTTP from the running server, or in-process
for callers that run before the server does.
"""

from __future__ import annotations

from django.conf import settings

from econtract.identity.providers.base import (
    CheckMethod,
    EnterpriseCheck,
    FaceCheck,
    IdentityCheck,
    IdentityCheckResult,
    IdentityProvider,
    Outcome,
)
from econtract.identity.providers.http import HttpJsonProvider
from econtract.identity.providers.sandbox import SandboxProvider

__all__ = [
    "CheckMethod",
    "EnterpriseCheck",
    "FaceCheck",
    "HttpJsonProvider",
    "IdentityCheck",
    "IdentityCheckResult",
    "IdentityProvider",
    "Outcome",
    "SandboxProvider",
    "get_identity_provider",
    "identity_provider_is_sandbox",
]

SANDBOX_PATH = "/sandbox/idp/"


def identity_provider_is_sandbox() -> bool:
    """True while identities are checked against test data: pages and API must say so."""
    return not settings.ECONTRACT_IDP_URL


def get_identity_provider(*, in_process: bool = False) -> IdentityProvider:
    if settings.ECONTRACT_IDP_URL:
        return HttpJsonProvider(
            settings.ECONTRACT_IDP_URL, settings.ECONTRACT_IDP_KEY, settings.ECONTRACT_IDP_TIMEOUT
        )
    if in_process:
        return SandboxProvider()
    return HttpJsonProvider(
        settings.BASE_URL + SANDBOX_PATH, settings.ECONTRACT_IDP_SANDBOX_KEY, settings.ECONTRACT_IDP_TIMEOUT
    )

"""Re-authentication before personal data is shown in full or exported (PIPL).

A logged-in session, or an API key, is not enough to read one's full ID number or to take away all
of one's data: whoever is at the keyboard proves again that she is the account holder, with the
password or, if she enrolled one, a code from her authenticator app or a recovery code
(``identity.factors.check_fresh_proof``, which counts wrong tries and locks like a login). The proof
opens a short window (``ECONTRACT_REAUTH_SECONDS``, 5 minutes) for this browser session or this API
key only; another session of the same account does not share it.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone

from econtract.evidence.services import RequestContext, record_event
from econtract.identity import factors
from econtract.identity.errors import ReauthenticationRequired

DEFAULT_SECONDS = 300


def window_seconds() -> int:
    return int(getattr(settings, "ECONTRACT_REAUTH_SECONDS", DEFAULT_SECONDS))


def _scope(request: HttpRequest) -> str:
    """What the window belongs to: the API key of the request, else the browser session."""
    key = getattr(request, "api_key", None)
    if key is not None:
        return f"apikey:{key.pk}"
    session = request.session
    if not session.session_key:
        session.save()
    return f"session:{session.session_key}"


def _cache_key(request: HttpRequest) -> str:
    user: Any = request.user
    scope = hashlib.sha256(f"{user.pk}|{_scope(request)}".encode()).hexdigest()
    return f"econtract:reauth:{scope}"


def reauthenticate(
    request: HttpRequest, *, password: str | None = None, code: str | None = None, context: RequestContext
) -> datetime.datetime:
    """Check the proof (raises ReauthenticationRequired, OtpInvalid, OtpRateLimited, FactorMissing) and
    open the window; returns when it closes."""
    user: Any = request.user
    factors.check_fresh_proof(user, code=code or None, password=password or None, context=context)
    seconds = window_seconds()
    until = timezone.now() + datetime.timedelta(seconds=seconds)
    cache.set(_cache_key(request), until.timestamp(), timeout=seconds)
    record_event(
        "reauthenticated",
        user,
        context,
        payload={"proof": "password" if password else "code", "valid_until": until.isoformat()},
    )
    return until


def fresh_until(request: HttpRequest) -> datetime.datetime | None:
    """When the open window closes, or None when there is none."""
    user: Any = request.user
    if not getattr(user, "is_authenticated", False):
        return None
    stamp = cache.get(_cache_key(request))
    if stamp is None:
        return None
    until = datetime.datetime.fromtimestamp(float(stamp), tz=datetime.UTC)
    return until if until > timezone.now() else None


def require_fresh(request: HttpRequest) -> None:
    if fresh_until(request) is None:
        raise ReauthenticationRequired(
            "confirm it is you first: POST your password (or an authenticator code) to "
            "/api/v1/me/reauthenticate, then retry within a few minutes"
        )


def forget(request: HttpRequest) -> None:
    cache.delete(_cache_key(request))

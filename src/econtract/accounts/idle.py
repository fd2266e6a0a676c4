"""Idle sessions end (MLPS 2.0 level 3, 8.1.4.1 b: log out a connection that stays idle too long).

A logged-in browser session records when it was last used; a request after more than
``ECONTRACT_SESSION_IDLE_SECONDS`` of silence logs it out first, records ``session_expired_idle`` and
lets the request go on as anonymous (pages then ask for the login). The absolute limit stays
``ECONTRACT_SESSION_SECONDS``. API keys are not sessions and are not affected. The timestamp is
written at most once a minute, so a busy page does not write its session on every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from econtract.evidence.services import RequestContext, record_event

LAST_SEEN_KEY = "econtract_last_seen"
WRITE_EVERY_SECONDS = 60


class IdleSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = int(getattr(settings, "ECONTRACT_SESSION_IDLE_SECONDS", 0) or 0)
        user = getattr(request, "user", None)
        if limit > 0 and user is not None and user.is_authenticated and hasattr(request, "session"):
            now = time.time()
            last_seen = request.session.get(LAST_SEEN_KEY)
            if isinstance(last_seen, int | float) and now - last_seen > limit:
                record_event(
                    "session_expired_idle",
                    user,
                    RequestContext.from_request(request, actor=user),
                    payload={"idle_seconds": int(now - last_seen)},
                )
                logout(request)
            elif not isinstance(last_seen, int | float) or now - last_seen >= WRITE_EVERY_SECONDS:
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)

"""An identity provider behind an HTTP JSON endpoint (docs/identity.md): ECONTRACT_IDP_URL and _KEY.

The request carries the person's name and document number, so it goes over TLS (plain http only to
this machine) and neither is ever logged; the answer is read through the bounded JSON loader.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import requests
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from econtract.identity.providers.base import (
    EnterpriseCheck,
    FaceCheck,
    IdentityCheck,
    IdentityCheckResult,
    Outcome,
)
from econtract.jsoninput import JsonRefused, load_json

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_ANSWER_BYTES = 16 * 1024  # a verdict is a few fields; anything larger is not one
MAX_ANSWER_DEPTH = 4
VERDICTS = frozenset({Outcome.MATCH, Outcome.MISMATCH, Outcome.NOT_FOUND})


class HttpJsonProvider:
    def __init__(self, url: str, key: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
            raise ImproperlyConfigured(
                "the identity provider URL must be an https:// URL (http only to localhost)"
            )
        self.url = url
        self.key = key
        self.timeout = timeout
        self.name = parts.hostname or url

    def check_identity(self, request: IdentityCheck) -> IdentityCheckResult:
        return self._ask(request.as_json())

    def check_enterprise(self, request: EnterpriseCheck) -> IdentityCheckResult:
        return self._ask(request.as_json())

    def check_face(self, request: FaceCheck) -> IdentityCheckResult:
        # A face check goes to the provider's "face" resource beside its check URL: <url>/face.
        return self._ask(request.as_json(), url=face_url(self.url))

    def _ask(self, question: dict[str, Any], url: str | None = None) -> IdentityCheckResult:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        try:
            with requests.post(
                url or self.url,
                json=question,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            ) as response:
                status = response.status_code
                body = _read_bounded(response)
        except requests.Timeout:
            return self._unavailable(f"timeout: no answer within {self.timeout:g}s")
        except requests.RequestException as exc:
            # the exception's text names the URL and the socket error, never the request body
            return self._unavailable(f"{type(exc).__name__}: provider unreachable")
        if status != 200:
            # only the status: an error body may quote the request
            return self._unavailable(
                f"{status} from the provider" + (" (our key was refused)" if status in {401, 403} else "")
            )
        if body is None:
            return self._unavailable(f"answer larger than {MAX_ANSWER_BYTES} bytes")
        try:
            answer = load_json(body, max_bytes=MAX_ANSWER_BYTES, max_depth=MAX_ANSWER_DEPTH)
        except JsonRefused as exc:
            return self._unavailable(f"unreadable answer: {exc}")
        return self._verdict(answer)

    def _verdict(self, answer: Any) -> IdentityCheckResult:
        if not isinstance(answer, dict):
            return self._unavailable("unreadable answer: not a JSON object")
        try:
            outcome = Outcome(str(answer.get("outcome")))
        except ValueError:
            outcome = Outcome.UNAVAILABLE
        if outcome not in VERDICTS:
            return self._unavailable("unreadable answer: no outcome")
        reference = answer.get("reference")
        provider = answer.get("provider")
        return IdentityCheckResult(
            outcome=outcome,
            provider=provider[:100] if isinstance(provider, str) and provider else self.name,
            reference=reference[:200] if isinstance(reference, str) else "",
            checked_at=timezone.now(),
            sandbox=answer.get("sandbox") is True,
        )

    def _unavailable(self, detail: str) -> IdentityCheckResult:
        logger.warning("identity provider %s gave no verdict: %s", self.name, detail)
        return IdentityCheckResult(
            outcome=Outcome.UNAVAILABLE,
            provider=self.name,
            reference="",
            checked_at=timezone.now(),
            sandbox=False,
            detail=detail,
        )


def face_url(url: str) -> str:
    """Where face checks are POSTed: the check URL's ``face`` sub-resource."""
    return url.rstrip("/") + "/face"


def _read_bounded(response: requests.Response) -> bytes | None:
    """The body, or None once it passes MAX_ANSWER_BYTES (read no further than one chunk past it)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=4096):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)

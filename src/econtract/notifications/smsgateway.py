"""Where text messages go: a file per message in embedded mode, or an HTTP JSON gateway.

Chosen by ECONTRACT_SMS_URL: unset writes $ECONTRACT_DATA_DIR/outbox/sms/<time>-<id>.json; an
https URL receives ``POST {"to", "text", "id"}`` with ``Authorization: Bearer <ECONTRACT_SMS_KEY>``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class OutgoingSms:
    id: str  # the delivery's id: the same on every attempt, so a gateway can drop a duplicate
    to: str  # E.164
    text: str


class SmsGatewayError(Exception):
    """The gateway did not take the message; ``permanent`` ones are never tried again."""

    def __init__(self, error: str, *, permanent: bool, reached: bool = True) -> None:
        super().__init__(error)
        self.error = error
        self.permanent = permanent
        self.reached = reached  # False: the gateway could not be reached at all (an outage)


class SmsBackend(Protocol):
    def send(self, message: OutgoingSms) -> str:
        """Hand the message over; returns the gateway's id for it ("" when it has none)."""
        ...


class OutboxSmsBackend:
    """One JSON file per message, written whole (temp file, then rename) so a reader never sees half."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: OutgoingSms) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"{stamp}-{message.id}.json"
        tmp = path.with_suffix(".tmp")
        content = {"id": message.id, "to": message.to, "text": message.text}
        tmp.write_text(json.dumps(content, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return ""


# 401/403 say our key is wrong and 408/429 ask to come back: an operator or time fixes those, and
# the queued messages then go out. Any other 4xx refuses the message itself.
RETRIED_CLIENT_ERRORS = frozenset({401, 403, 408, 429})


class HttpSmsGateway:
    def __init__(self, url: str, key: str, timeout: float) -> None:
        parts = urlsplit(url)
        # the bearer key and the codes travel in the request: plain http only to this machine
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
            raise ImproperlyConfigured("ECONTRACT_SMS_URL must be an https:// URL")
        self.url = url
        self.key = key
        self.timeout = timeout

    def send(self, message: OutgoingSms) -> str:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        try:
            response = requests.post(
                self.url,
                json={"to": message.to, "text": message.text, "id": message.id},
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise SmsGatewayError(
                f"timeout: no answer within {self.timeout:g}s", permanent=False, reached=False
            ) from exc
        except requests.RequestException as exc:
            # the exception's text names the URL and the socket error; the key is in a header, never there
            raise SmsGatewayError(
                f"{type(exc).__name__}: gateway unreachable", permanent=False, reached=False
            ) from exc
        status = response.status_code
        if 200 <= status < 300:
            return _gateway_id(response)
        # only the status: a gateway's error body may quote the text, and with it the code
        error = f"{status} {response.reason or ''}".strip()
        permanent = 400 <= status < 500 and status not in RETRIED_CLIENT_ERRORS
        raise SmsGatewayError(error, permanent=permanent)


def _gateway_id(response: requests.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return ""
    value = answer.get("id") if isinstance(answer, dict) else None
    return str(value)[:128] if isinstance(value, str | int) and not isinstance(value, bool) else ""


def sms_backend() -> SmsBackend:
    if settings.ECONTRACT_SMS_URL:
        return HttpSmsGateway(
            settings.ECONTRACT_SMS_URL, settings.ECONTRACT_SMS_KEY, settings.ECONTRACT_SMS_TIMEOUT
        )
    return OutboxSmsBackend(Path(settings.OUTBOX_DIR) / "sms")

"""The platform's bank, for verifying an organisation by a small transfer to its account.

Chosen by ECONTRACT_BANK_URL: unset (embedded mode, a sandbox) writes one JSON file per transfer to
$ECONTRACT_DATA_DIR/outbox/bank/<time>-<id>.json; an https URL receives ``POST {"id", "account_name",
"account_number", "bank", "amount", "currency", "remark"}`` with ``Authorization: Bearer
<ECONTRACT_BANK_KEY>`` and answers 2xx ``{"reference"}``. The request carries an account number and
the code, so neither it nor the answer's body is ever logged.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from econtract.accounts.errors import BankUnavailable
from econtract.jsoninput import JsonRefused, load_json

logger = logging.getLogger("econtract.accounts")

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_ANSWER_BYTES = 16 * 1024
SANDBOX_NAME = "econtract-bank-sandbox"


@dataclass(frozen=True)
class OutgoingTransfer:
    id: str  # the verification's id: the same on a retry, so the bank can drop a duplicate
    account_name: str
    account_number: str
    bank: str
    amount: Decimal  # CNY, two decimals
    remark: str  # carries the code the organisation reads back from its statement

    def as_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "account_name": self.account_name,
            "account_number": self.account_number,
            "bank": self.bank,
            "amount": f"{self.amount:.2f}",
            "currency": "CNY",
            "remark": self.remark,
        }


class BankBackend(Protocol):
    name: str
    sandbox: bool

    def send_transfer(self, transfer: OutgoingTransfer) -> str:
        """Order the transfer; returns the bank's reference for it. BankUnavailable when it could not."""
        ...


class OutboxBank:
    """The sandbox: one JSON file per transfer, written whole (temp file, then rename)."""

    name = SANDBOX_NAME
    sandbox = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send_transfer(self, transfer: OutgoingTransfer) -> str:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
            path = self.directory / f"{stamp}-{transfer.id}.json"
            tmp = path.with_suffix(".tmp")
            content = {**transfer.as_json(), "sandbox": True}
            tmp.write_text(json.dumps(content, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise BankUnavailable(f"the bank outbox cannot be written: {exc.strerror}") from exc
        return f"sandbox-{transfer.id}"


class HttpBank:
    sandbox = False

    def __init__(self, url: str, key: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
            raise ImproperlyConfigured("ECONTRACT_BANK_URL must be an https:// URL (http only to localhost)")
        self.url = url
        self.key = key
        self.timeout = timeout
        self.name = parts.hostname or url

    def send_transfer(self, transfer: OutgoingTransfer) -> str:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        try:
            response = requests.post(
                self.url,
                json=transfer.as_json(),
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise self._unavailable(f"timeout: no answer within {self.timeout:g}s") from exc
        except requests.RequestException as exc:
            raise self._unavailable(f"{type(exc).__name__}: bank unreachable") from exc
        if not 200 <= response.status_code < 300:
            raise self._unavailable(f"{response.status_code} from the bank")  # never the body
        try:
            answer = load_json(
                response.content[: MAX_ANSWER_BYTES + 1], max_bytes=MAX_ANSWER_BYTES, max_depth=3
            )
        except JsonRefused as exc:
            raise self._unavailable(f"unreadable answer: {exc}") from exc
        reference = answer.get("reference") if isinstance(answer, dict) else None
        if not isinstance(reference, str) or not reference:
            raise self._unavailable("unreadable answer: no reference")
        return reference[:200]

    def _unavailable(self, detail: str) -> BankUnavailable:
        logger.warning("bank %s did not take a transfer: %s", self.name, detail)
        return BankUnavailable("the bank could not be reached; try again later")


def bank_backend() -> BankBackend:
    if settings.ECONTRACT_BANK_URL:
        return HttpBank(
            settings.ECONTRACT_BANK_URL, settings.ECONTRACT_BANK_KEY, settings.ECONTRACT_BANK_TIMEOUT
        )
    return OutboxBank(Path(settings.OUTBOX_DIR) / "bank")

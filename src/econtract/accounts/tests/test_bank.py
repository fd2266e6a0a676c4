"""The bank adapter over real HTTP (a local server standing in for the bank) and the sandbox outbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from econtract.accounts.bank import HttpBank, OutboxBank, OutgoingTransfer, bank_backend
from econtract.accounts.errors import BankUnavailable
from econtract.identity.tests.test_providers import serve

TRANSFER = OutgoingTransfer(
    id="3f6c",
    account_name="福州示例科技有限公司",
    account_number="6222020200001234567",
    bank="工商银行",
    amount=Decimal("0.37"),
    remark="econtract ABC123",
)


class FakeBank(ThreadingHTTPServer):
    def __init__(self, status: int, reply: bytes) -> None:
        self.status, self.reply = status, reply
        self.received: list[tuple[str, dict]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/transfers"


class _Handler(BaseHTTPRequestHandler):
    server: FakeBank

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((self.headers.get("Authorization", ""), json.loads(body)))
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.reply)))
        self.end_headers()
        self.wfile.write(self.server.reply)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def bank() -> Iterator[FakeBank]:
    yield from serve(FakeBank(200, b'{"reference": "ICBC-0001"}'))


@pytest.fixture
def broken_bank() -> Iterator[FakeBank]:
    yield from serve(FakeBank(500, b'{"error": "account 6222020200001234567 frozen"}'))


def test_http_bank_posts_the_transfer_with_the_key(bank: FakeBank, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ECONTRACT_BANK_URL, settings.ECONTRACT_BANK_KEY = bank.url, "bank-key"
    backend = bank_backend()
    assert isinstance(backend, HttpBank) and backend.sandbox is False
    assert backend.send_transfer(TRANSFER) == "ICBC-0001"
    [(authorization, body)] = bank.received
    assert authorization == "Bearer bank-key"
    assert body == {**TRANSFER.as_json(), "amount": "0.37", "currency": "CNY"}


def test_http_bank_failure_is_unavailable_and_logged_without_the_account(
    broken_bank: FakeBank, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("DEBUG"), pytest.raises(BankUnavailable):
        HttpBank(broken_bank.url, "k", 5).send_transfer(TRANSFER)
    assert "500" in caplog.text and "6222020200001234567" not in caplog.text and "ABC123" not in caplog.text


def test_http_bank_refuses_plain_http_to_another_host() -> None:
    with pytest.raises(ImproperlyConfigured):
        HttpBank("http://bank.example.com/", "k", 5)


def test_outbox_bank_writes_one_json_file_per_transfer(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ECONTRACT_BANK_URL = ""
    settings.OUTBOX_DIR = tmp_path
    backend = bank_backend()
    assert isinstance(backend, OutboxBank) and backend.sandbox is True
    assert backend.send_transfer(TRANSFER) == "sandbox-3f6c"
    [path] = (tmp_path / "bank").glob("*.json")
    assert path.name.endswith("-3f6c.json")
    assert json.loads(path.read_text()) == {**TRANSFER.as_json(), "sandbox": True}

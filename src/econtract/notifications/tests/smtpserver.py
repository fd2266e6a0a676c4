"""A real SMTP server on a loopback port (aiosmtpd) whose answers a test scripts: refuse, then accept."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ScriptedHandler:
    """DATA is answered with the queued replies in turn, then accepted; RCPT of a listed address is
    answered with its reply. Everything accepted is kept, in order."""

    def __init__(self) -> None:
        self.data_replies: list[str] = []
        self.rcpt_replies: dict[str, str] = {}
        self.received: list[EmailMessage] = []
        self.refused = 0
        self._lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.rcpt_replies:
            with self._lock:
                self.refused += 1
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.data_replies:
                self.refused += 1
                return self.data_replies.pop(0)
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.received.append(message)  # type: ignore[arg-type]
        return "250 OK: queued"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if address.lower() in str(m.get("To", "")).lower()]


class SmtpServer:
    """Start and stop a scripted server on one fixed port, so a test can take it down and bring it back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = ScriptedHandler()
        self._controller: Controller | None = None

    def start(self) -> None:
        if self._controller is None:
            self._controller = Controller(
                self.handler, hostname="127.0.0.1", port=self.port, server_hostname="smtp.test"
            )
            self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

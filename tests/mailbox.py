"""Reading the embedded-mode outbox in tests: every email is one .eml file in a directory."""

from __future__ import annotations

import email
import email.policy
import re
import time
from email.message import Message
from pathlib import Path

CODE = r"^\s+(\d{6})\s*$"
SIGNING_LINK = r"(https?://\S+/sign/\S+)"


class Outbox:
    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)

    def messages(self, to: str | None = None) -> list[Message]:
        found = []
        for path in sorted(self.dir.glob("*.eml")) if self.dir.exists() else []:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if to is None or to.lower() in (message.get("To") or "").lower():
                found.append(message)
        return found

    @staticmethod
    def text(message: Message) -> str:
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
        return ""

    def find(self, to: str, pattern: str) -> str | None:
        """The first group of ``pattern`` in the newest mail to ``to`` that matches, else None."""
        for message in reversed(self.messages(to)):
            match = re.search(pattern, self.text(message), re.MULTILINE)
            if match:
                return match.group(1)
        return None

    def last(self, to: str, pattern: str) -> str:
        found = self.find(to, pattern)
        if found is None:
            raise AssertionError(f"nothing matching {pattern!r} was mailed to {to}")
        return found

    def wait_for(self, to: str, pattern: str, timeout: float = 10.0) -> str:
        """For mail sent by another thread or process (a live server sends after its commit)."""
        deadline = time.monotonic() + timeout
        while (found := self.find(to, pattern)) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail to {to} matching {pattern!r} within {timeout} s")
            time.sleep(0.1)
        return found

    def last_code(self, to: str) -> str:
        return self.last(to, CODE)

    def last_link(self, to: str) -> str:
        return self.last(to, SIGNING_LINK)

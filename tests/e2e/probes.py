"""Helpers for replaying hostile requests against a running platform: record every answer, count
what the platform stored, fire requests in parallel. Used by test_probe_replay.py."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Answer:
    method: str
    url: str
    status: int


@dataclass
class Recorder:
    """Every answer any session of the probe received, so a single 5xx anywhere fails the test."""

    answers: list[Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def session(self, api_key: str | None = None) -> requests.Session:
        session = requests.Session()
        session.headers["Accept-Language"] = "en"
        # Kept responses keep their sockets: 100 idle keep-alive connections and waitress (its
        # connection_limit) stops accepting, so every probe closes its connection after the answer.
        session.headers["Connection"] = "close"
        if api_key:
            session.headers["Authorization"] = f"Bearer {api_key}"

        def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            with self._lock:
                self.answers.append(Answer(response.request.method or "", response.url, response.status_code))

        session.hooks["response"].append(record)
        return session

    def server_errors(self) -> list[Answer]:
        return [a for a in self.answers if a.status >= 500]


def parallel(calls: list[Callable[[], Any]], *, barrier: bool = True) -> list[Any]:
    """Run each call in its own thread, all released at once (a barrier) so they truly overlap."""
    start = threading.Barrier(len(calls)) if barrier else None

    def run(call: Callable[[], Any]) -> Any:
        if start is not None:
            start.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def stored_files(data_dir: Path) -> set[str]:
    """Every file under the server's storage (``files/``), relative to it."""
    root = data_dir / "files"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def envelope_ids(session: requests.Session, base_url: str) -> set[str]:
    """Every envelope the caller sees, following pages (a bare list from an older server works too)."""
    ids: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        response = session.get(f"{base_url}/api/v1/envelopes", params=params, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        items = body["items"] if isinstance(body, dict) else body
        ids.update(item["id"] for item in items)
        cursor = body.get("next_cursor") if isinstance(body, dict) else None
        if not cursor:
            return ids


def csrf_form(session: requests.Session, url: str) -> str:
    """GET a form page with ``session`` (which keeps the CSRF cookie) and return the form's token."""
    page = session.get(url, timeout=30)
    assert page.status_code == 200, page.status_code
    match = CSRF_FIELD.search(page.text)
    assert match, "no CSRF token in the form"
    return match.group(1)

"""Real platform processes for end-to-end tests: their environment, database, CLI and `econtract serve`.

Every e2e test that needs a server of its own (killed, configured with a mail server, two processes
sharing Redis) builds it from these pieces, as the session-wide ``platform`` fixture does.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(data_dir: Path, base_url: str, **extra: str) -> dict[str, str]:
    """The environment of a platform process of its own: nothing of ours leaks in but ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECONTRACT_")}
    env.update(
        DJANGO_SETTINGS_MODULE="econtract.settings",
        ECONTRACT_DATA_DIR=str(data_dir),
        ECONTRACT_BASE_URL=base_url,
        ECONTRACT_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


@contextmanager
def own_database(env: dict[str, str]) -> Iterator[None]:
    """On PostgreSQL (ECONTRACT_TEST_DATABASE_URL set), a fresh database for this platform, dropped
    afterwards whatever happens; on SQLite the data directory already holds one."""
    base_url = os.environ.get("ECONTRACT_TEST_DATABASE_URL")
    if not base_url:
        yield
        return
    import psycopg

    name = f"econtract_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env["ECONTRACT_DATABASE_URL"] = base_url.rsplit("/", 1)[0] + "/" + name
    try:
        yield
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cli(
    env: dict[str, str], *args: str, check: bool = False, timeout: float = 180
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "econtract.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


class ServerProcess:
    """One `econtract serve`; its output (of every start) goes to ``log``, never to a pipe nobody reads."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as out:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "econtract.cli", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 90) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{self.url}/pki/root.pem", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server did not start:\n{self.log_text()}")
            time.sleep(0.2)

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)

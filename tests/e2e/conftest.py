"""A real platform process: `econtract demo` then `econtract serve` on a free port, driven over HTTP."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.mailbox import Outbox


@dataclass
class Platform:
    base_url: str
    data_dir: Path
    root_pem: Path
    keys: dict[str, str]
    pins: dict[str, str]
    env: dict[str, str]

    def outbox_code(self, to: str) -> str:
        return Outbox(self.data_dir / "outbox").last_code(to)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "econtract.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    def api(self, who: str) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.keys[who]}"
        return session


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_database(base_url: str) -> tuple[str, str]:
    import psycopg

    name = f"econtract_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base_url.rsplit("/", 1)[0] + "/" + name, name


def _drop_postgres_database(base_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def platform(tmp_path_factory) -> Platform:
    data_dir = tmp_path_factory.mktemp("platform")
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECONTRACT_")}
    env.update(
        DJANGO_SETTINGS_MODULE="econtract.settings",
        ECONTRACT_DATA_DIR=str(data_dir),
        ECONTRACT_BASE_URL=base_url,
        ECONTRACT_LOG_LEVEL="WARNING",
    )
    pg_url = os.environ.get("ECONTRACT_TEST_DATABASE_URL")
    pg_name = None
    if pg_url:
        env["ECONTRACT_DATABASE_URL"], pg_name = _postgres_database(pg_url)
    platform = Platform(base_url, data_dir, data_dir / "root.pem", {}, {}, env)
    demo = platform.cli("demo")
    users = re.findall(r"email=(\S+)\s+password=\S+\s+PIN=(\d+)", demo.stdout)
    assert len(users) == 2, demo.stdout + demo.stderr
    (alice, alice_pin), (bob, bob_pin) = users
    platform.pins = {"alice": alice_pin, "bob": bob_pin}
    platform.keys["alice"] = re.search(r"API key \(.*?\): (ek_\S+)", demo.stdout).group(1)
    platform.keys["bob"] = platform.cli("apikey", "create", bob).stdout.strip().splitlines()[-1]
    platform.emails = {"alice": alice, "bob": bob}  # type: ignore[attr-defined]
    platform.server_log = data_dir / "server.log"  # type: ignore[attr-defined]
    # The server's output goes to a file: a pipe nobody reads would fill up and stall the server.
    server_log = data_dir / "server.log"
    log_handle = server_log.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "econtract.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log_handle,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = requests.get(f"{base_url}/pki/root.pem", timeout=2)
                if response.status_code == 200:
                    platform.root_pem.write_bytes(response.content)
                    break
            except requests.ConnectionError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server did not start:\n{server_log.read_text()}")
            time.sleep(0.2)
        yield platform
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log_handle.close()
        if pg_name:
            _drop_postgres_database(pg_url, pg_name)

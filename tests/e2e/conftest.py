"""A real platform process: `econtract demo` then `econtract serve` on a free port, driven over HTTP."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.e2e.servers import ServerProcess, cli, free_port, own_database, server_env
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
        return cli(self.env, *args, check=check)

    def api(self, who: str) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.keys[who]}"
        return session


@pytest.fixture(scope="session")
def platform(tmp_path_factory) -> Iterator[Platform]:
    with running_platform(tmp_path_factory.mktemp("platform")) as platform:
        yield platform


@contextmanager
def running_platform(data_dir: Path) -> Iterator[Platform]:
    """A platform of its own in ``data_dir``, for a test that must not share (or spoil) the session's."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = server_env(data_dir, base_url)
    with own_database(env):
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
        server = ServerProcess(env, port, data_dir / "server.log")
        try:
            server.start()
            server.wait_ready(timeout=60)
            platform.root_pem.write_bytes(requests.get(f"{base_url}/pki/root.pem", timeout=10).content)
            yield platform
        finally:
            server.stop()

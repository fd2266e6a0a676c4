"""kill -9 during signing, then `econtract fsck` and a restart: no debris, no 5xx, exact counts.

A real server of this test alone (it is killed twice), on SQLite or, with ECONTRACT_TEST_DATABASE_URL,
on PostgreSQL. The kills land at two moments found by watching the server's own state, not by timing:

1. while Argon2 checks Alice's (right) PIN: her PIN check is in flight in the database;
2. after Bob's signed revision was written to storage, before its row committed (the document
   timestamp of the completing envelope runs in between): his file is on disk.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.servers import ServerProcess, cli, free_port, own_database, server_env
from tests.mailbox import Outbox

pytestmark = pytest.mark.e2e

FIELDS = [
    {"party": 0, "page": 2, "x": 60, "y": 80, "width": 200, "height": 60},
    {"party": 1, "page": 2, "x": 320, "y": 80, "width": 200, "height": 60},
]


class Database:
    """Read-only look at the server's database, to see where a request is (no ORM: another process's DB)."""

    def __init__(self, url: str | None, sqlite_path: Path) -> None:
        if url:
            import psycopg

            self._conn: Any = psycopg.connect(url, autocommit=True)
        else:
            self._conn = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True, isolation_level=None)

    def scalar(self, sql: str) -> Any:
        cursor = self._conn.cursor()
        cursor.execute(sql)
        row = cursor.fetchone()
        cursor.close()
        return row[0] if row else None

    def close(self) -> None:
        self._conn.close()


class CrashableServer(ServerProcess):
    """The test's own server: started, killed with SIGKILL and restarted on the same data."""

    def __init__(self, data_dir: Path, env: dict[str, str], port: int) -> None:
        super().__init__(env, port, data_dir / "server.log")
        self.data_dir, self.base_url = data_dir, self.url

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return cli(self.env, *args, check=check)

    def start(self) -> None:
        super().start()
        self.wait_ready()


@pytest.fixture
def crashable(tmp_path):
    data_dir = tmp_path / "platform"
    data_dir.mkdir()
    port = free_port()
    env = server_env(data_dir, f"http://127.0.0.1:{port}")
    with own_database(env):
        server = CrashableServer(data_dir, env, port)
        try:
            yield server
        finally:
            server.stop()


def _watch(server: CrashableServer, request: threading.Thread, condition, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll until ``condition()`` holds while ``request`` is still in flight, then kill -9 the server."""
    deadline = time.monotonic() + 120
    while not condition():
        assert request.is_alive(), f"the request finished before {what}: the kill came too late"
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.001)
    server.kill9()
    request.join(timeout=30)


def _in_flight(session: requests.Session, url: str, body: dict, outcome: list) -> threading.Thread:
    def post() -> None:
        try:
            outcome.append(session.post(url, json=body, timeout=180))
        except requests.ConnectionError as exc:  # the server died under the request
            outcome.append(exc)

    thread = threading.Thread(target=post)
    thread.start()
    return thread


def test_kill_9_during_signing_then_fsck_leaves_a_consistent_platform(crashable, tmp_path):
    server = crashable
    demo = server.cli("demo")
    (alice, alice_pin), (bob, bob_pin) = re.findall(r"email=(\S+)\s+password=\S+\s+PIN=(\d+)", demo.stdout)
    keys = {
        alice: re.search(r"API key \(.*?\): (ek_\S+)", demo.stdout).group(1),
        bob: server.cli("apikey", "create", bob).stdout.strip().splitlines()[-1],
    }
    pins = {alice: alice_pin, bob: bob_pin}
    statuses: list[int] = []

    def api(who: str) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {keys[who]}"
        session.hooks["response"].append(lambda r, *a, **k: statuses.append(r.status_code))
        return session

    server.start()
    db = Database(server.env.get("ECONTRACT_DATABASE_URL"), server.data_dir / "econtract.sqlite3")
    try:
        from econtract.documents.samples import make_contract_pdf

        pdf = make_contract_pdf("崩溃测试 Crash Test", ["甲方 Party A", "乙方 Party B"], pages=2)
        spec = {
            "title": "崩溃测试 Crash Test",
            "parties": [
                {"name": "张丽", "email": alice, "order": 1},
                {"name": "李明", "email": bob, "order": 2},
            ],
            "fields": FIELDS,
        }
        created = api(alice).post(
            f"{server.base_url}/api/v1/envelopes",
            files={"document": ("c.pdf", pdf, "application/pdf")},
            data={"spec": json.dumps(spec, ensure_ascii=False)},
            timeout=60,
        )
        assert created.status_code == 201, created.text
        envelope = api(alice).post(
            f"{server.base_url}/api/v1/envelopes/{created.json()['id']}/send", timeout=30
        )
        assert envelope.status_code == 200, envelope.text
        envelope_id = uuid.UUID(envelope.json()["id"])
        party_ids = {alice: envelope.json()["parties"][0]["id"], bob: envelope.json()["parties"][1]["id"]}
        party_url = {
            who: f"{server.base_url}/api/v1/envelopes/{envelope_id}/parties/{pid}"
            for who, pid in party_ids.items()
        }
        outbox = Outbox(server.data_dir / "outbox")
        stored = server.data_dir / "files" / "envelopes" / str(envelope_id)

        def revisions() -> int:
            return int(
                db.scalar(
                    f"SELECT count(*) FROM signing_documentrevision WHERE envelope_id = '{envelope_id.hex}'"
                )
            )

        def failed_pins(who: str) -> int:
            return int(
                db.scalar(
                    "SELECT k.failed_pin_attempts FROM pki_signerkey k JOIN accounts_user u ON u.id = k.user_id "
                    f"WHERE u.email = '{who}'"
                )
            )

        # 1. Alice's right PIN is being checked when the server dies.
        assert api(alice).post(f"{party_url[alice]}/otp", timeout=30).status_code == 200
        alice_code = outbox.last_code(alice)
        outcome: list = []
        request = _in_flight(
            api(alice), f"{party_url[alice]}/sign", {"otp": alice_code, "pin": pins[alice]}, outcome
        )
        _watch(
            server, request, lambda: db.scalar("SELECT count(*) FROM pki_pincheck") > 0, "Alice's PIN check"
        )
        assert isinstance(outcome[0], requests.ConnectionError)
        assert failed_pins(alice) == 0  # her right PIN was never judged wrong
        assert revisions() == 1

        checked = server.cli("fsck", check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "0 orphan(s) removed, 0 missing, 0 damaged" in checked.stdout

        server.start()
        signed = api(alice).post(
            f"{party_url[alice]}/sign", json={"otp": alice_code, "pin": pins[alice]}, timeout=180
        )
        assert signed.status_code == 200, signed.text
        assert failed_pins(alice) == 0 and revisions() == 2

        # 2. Bob's signed revision is on disk, its row not committed, when the server dies.
        assert api(bob).post(f"{party_url[bob]}/otp", timeout=30).status_code == 200
        bob_code = outbox.last_code(bob)
        outcome = []
        request = _in_flight(api(bob), f"{party_url[bob]}/sign", {"otp": bob_code, "pin": pins[bob]}, outcome)
        _watch(
            server,
            request,
            lambda: any(name.startswith("v002-") for name in os.listdir(stored)),
            "Bob's revision file",
        )
        assert isinstance(outcome[0], requests.ConnectionError)
        orphans = sorted(name for name in os.listdir(stored) if name.startswith("v002-"))
        assert len(orphans) == 1 and revisions() == 2  # the debris: a file with no row

        listed = server.cli("fsck", "--dry-run", check=False)
        assert listed.returncode == 1 and f"orphan: envelopes/{envelope_id}/{orphans[0]}" in listed.stdout
        assert (stored / orphans[0]).exists()
        swept = server.cli("fsck", check=False)
        assert swept.returncode == 0, swept.stdout + swept.stderr
        assert f"removed orphan: envelopes/{envelope_id}/{orphans[0]}" in swept.stdout
        assert not (stored / orphans[0]).exists()

        server.start()
        signed = api(bob).post(
            f"{party_url[bob]}/sign", json={"otp": bob_code, "pin": pins[bob]}, timeout=180
        )
        assert signed.status_code == 200, signed.text
        assert signed.json()["status"] == "completed"

        # 3. Consistent: one file per row, each party signed once, the PDF valid.
        assert revisions() == 4
        rows = {
            db.scalar(
                f"SELECT file FROM signing_documentrevision WHERE envelope_id = '{envelope_id.hex}' AND version = {v}"
            ).rsplit("/", 1)[-1]
            for v in range(4)
        }
        assert set(os.listdir(stored)) == rows
        signed_events = db.scalar(
            f"SELECT count(*) FROM evidence_event WHERE subject_id = '{envelope_id}' AND kind = 'signed'"
        )
        assert signed_events == 2
        assert failed_pins(alice) == 0 and failed_pins(bob) == 0
        final = server.cli("fsck", "--digests", check=False)
        assert final.returncode == 0 and "0 orphan(s) removed, 0 missing, 0 damaged" in final.stdout, (
            final.stdout
        )
        document = api(alice).get(f"{server.base_url}/api/v1/envelopes/{envelope_id}/document", timeout=60)
        assert document.status_code == 200
        path = tmp_path / "signed.pdf"
        path.write_bytes(document.content)
        root = tmp_path / "root.pem"
        root.write_bytes(requests.get(f"{server.base_url}/pki/root.pem", timeout=10).content)
        verdict = server.cli("verify", str(path), "--json", "--trust-root", str(root), check=False)
        report = json.loads(verdict.stdout)
        # Each party's signature once, cryptographically sound, plus the document timestamp. (The
        # visual comparison of appearances is the verifier's own concern, judged in its own tests.)
        assert [s["signer"].split()[0] for s in report["signatures"]] == ["张丽", "李明"], verdict.stdout
        assert all(
            s["intact"] and s["valid"] and s["trusted"] and s["timestamp_valid"] for s in report["signatures"]
        )
        assert len(report["document_timestamps"]) == 1
        assert not [status for status in statuses if status >= 500], statuses
    finally:
        db.close()

"""Witnesses (c2sp.org/tlog-witness): a separate server cosigns checkpoints, refuses forks, survives restart."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from econtract.evidence import log, merkle, notes, witnessing
from econtract.evidence.models import Cosignature
from econtract.evidence.tests.log_helpers import drop_evidence_triggers, raw, record_many
from econtract.evidence.witness_server import Witness, WitnessHTTPServer


class Running:
    def __init__(self, state: Path, logs: list[str]) -> None:
        self.state, self.logs = state, logs
        self.start()

    def start(self) -> None:
        self.witness = Witness(self.state, self.logs)
        self.server = WitnessHTTPServer(self.witness)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def post(self, body: str) -> requests.Response:
        return requests.post(f"{self.server.url}/add-checkpoint", data=body.encode(), timeout=10)


@pytest.fixture
def witness(tmp_path, db, settings) -> Iterator[Running]:
    running = Running(tmp_path / "witness", [log.log_verifier_key()])
    settings.ECONTRACT_WITNESSES = f"{running.server.url} {running.witness.verifier_key()}"
    settings.ECONTRACT_CHECKPOINT_EXPORT_DIR = str(tmp_path / "export")
    yield running
    running.stop()


def _checkpoint_after(enterprise, n: int):
    record_many(enterprise, n)
    return log.make_checkpoint()


def _forged(size: int, root: bytes) -> str:
    state = log.get_log()
    return notes.sign_note(
        notes.checkpoint_text(state.origin, size, root), state.origin, log.log_private_key(state)
    )


def _state(running: Running) -> bytes:
    return (running.state / "state.json").read_bytes()


def test_push_stores_a_cosignature_that_verifies_then_a_consistency_proof(witness, enterprise, tmp_path):
    first = _checkpoint_after(enterprise, 3)
    [row] = witnessing.push_checkpoint(first)
    verifier = notes.parse_verifier_key(witness.witness.verifier_key())
    text, _ = notes.split_note(first.note)
    assert notes.verify_cosignature(text, row.line, verifier) == row.timestamp
    assert row.key_id == verifier.id.hex() and verifier.key_type == notes.COSIGNATURE_V1
    assert witness.witness.records[log.get_log().origin].size == first.tree_size

    second = _checkpoint_after(enterprise, 4)
    sent: list[str] = []
    original = witnessing._post
    witnessing._post = lambda w, body: (sent.append(body), original(w, body))[1]  # type: ignore[assignment]
    try:
        [again] = witnessing.push_checkpoint(second)
    finally:
        witnessing._post = original  # type: ignore[assignment]
    head = sent[0].split("\n\n", 1)[0].split("\n")
    assert head[0] == f"old {first.tree_size}" and len(head) > 1  # proof lines from the last cosigned size
    assert Cosignature.objects.filter(checkpoint=second).get() == again
    assert json.loads(_state(witness))["logs"][log.get_log().origin]["size"] == second.tree_size
    assert witnessing.audit_cosignatures() is None
    exported = (tmp_path / "export" / f"{second.tree_size}-{second.id}.checkpoint").read_text()
    assert exported == second.note + again.line + "\n"
    assert (
        notes.open_note(exported, notes.parse_verifier_key(log.log_verifier_key()))
        == notes.split_note(second.note)[0]
    )
    # GET /<sha256(origin)>/checkpoint serves the witness's latest cosigned view
    origin_hash = hashlib.sha256(log.get_log().origin.encode()).hexdigest()
    assert requests.get(f"{witness.server.url}/{origin_hash}/checkpoint", timeout=10).text == exported


def test_forks_are_refused_and_state_is_unchanged_also_after_restart(witness, enterprise):
    first = _checkpoint_after(enterprise, 3)
    witnessing.push_checkpoint(first)
    before = _state(witness)
    n = first.tree_size
    same_size_other_root = _forged(n, b"\x01" * 32)
    for attempt in range(2):
        response = witness.post(f"old {n}\n\n" + same_size_other_root)
        assert response.status_code == 422
        # a larger tree that does not extend ours: the real proof does not match its root
        record_many(enterprise, 2)
        log.integrate_pending()
        proof = "".join(log.b64(h) + "\n" for h in log.consistency_proof(n, n + 2 + 2 * attempt))
        response = witness.post(f"old {n}\n{proof}\n" + _forged(n + 2 + 2 * attempt, b"\x02" * 32))
        assert response.status_code == 422
        # a smaller size: 409 with the witness's size
        response = witness.post("old 0\n\n" + _forged(1, b"\x03" * 32))
        assert response.status_code == 409
        assert response.headers["Content-Type"] == "text/x.tlog.size"
        assert response.text == f"{n}\n"
        assert _state(witness) == before
        witness.restart()


def test_refusals_by_status(witness, enterprise):
    checkpoint = _checkpoint_after(enterprise, 2)
    state = log.get_log()
    text = notes.split_note(checkpoint.note)[0]
    other_key = notes.sign_note(text, state.origin, Ed25519PrivateKey.generate())
    assert witness.post("old 0\n\n" + other_key).status_code == 403
    unknown = notes.sign_note(
        notes.checkpoint_text("other.example/log", 2, b"\0" * 32),
        "other.example/log",
        Ed25519PrivateKey.generate(),
    )
    assert witness.post("old 0\n\n" + unknown).status_code == 404
    assert witness.post("old 01\n\n" + checkpoint.note).status_code == 400
    assert witness.post("old 99999\n\n" + checkpoint.note).status_code == 400
    assert witness.post("old 0\nAAAA\n\n" + checkpoint.note).status_code == 400
    assert witness.post("old 0\n" + log.b64(b"\0" * 32) + "\n\n" + checkpoint.note).status_code == 422
    assert witness.post("old 0\n\n" + _forged(0, b"\x01" * 32)).status_code == 422
    assert witness.post("old 0\n\n" + checkpoint.note).status_code == 200
    assert not (witness.state / "state.json").stat().st_mode & 0o002
    assert (witness.state / "witness.key").stat().st_mode & 0o777 == 0o600


def test_push_retries_once_on_409_and_network_errors_are_logged(witness, enterprise, settings):
    checkpoint = _checkpoint_after(enterprise, 2)
    assert witness.post("old 0\n\n" + checkpoint.note).status_code == 200  # cosigned behind our back
    later = _checkpoint_after(enterprise, 2)
    [row] = witnessing.push_checkpoint(later)  # we believe 0, the witness says its size, we retry
    assert row.checkpoint == later
    settings.ECONTRACT_WITNESSES = f"http://127.0.0.1:9 {witness.witness.verifier_key()}"
    assert witnessing.push_checkpoint(_checkpoint_after(enterprise, 1)) == []


def test_audit_flags_a_tampered_cosignature(witness, enterprise):
    checkpoint = _checkpoint_after(enterprise, 2)
    [row] = witnessing.push_checkpoint(checkpoint)
    assert witnessing.audit_cosignatures() is None
    other = Witness(witness.state.parent / "other", [log.log_verifier_key()], name=witness.witness.name)
    forged = notes.cosign(notes.split_note(checkpoint.note)[0], other.name, other.private_key, row.timestamp)
    drop_evidence_triggers()
    raw("UPDATE evidence_cosignature SET line = %s WHERE id = %s", [forged.rstrip("\n"), row.id])
    problem = witnessing.audit_cosignatures()
    assert problem is not None and f"cosignature {row.id}" in problem


def test_serve_command_prints_its_key_and_real_port(tmp_path, db):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "econtract.settings_test"}
    vkey = notes.verifier_key("example.test/log", merkle.EMPTY_ROOT)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "django",
            "witness",
            "serve",
            "--state",
            str(tmp_path),
            "--log",
            vkey,
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        key_line = process.stdout.readline()
        assert key_line.startswith("witness key: ")
        line = process.stdout.readline()
        while not line.startswith("listening on "):
            line = process.stdout.readline()
        url = line.removeprefix("listening on ").strip().removesuffix("/add-checkpoint")
        assert not url.endswith(":0")
        assert (
            requests.get(url + "/", timeout=10).text.strip() == key_line.removeprefix("witness key: ").strip()
        )
    finally:
        process.terminate()
        process.wait(timeout=10)

"""The log checked by an independent implementation: Go's golang.org/x/mod/sumdb/note and sumdb/tlog.

tests/interop/tlogcheck is built once per session from Debian's golang-go and golang-golang-x-mod-dev (offline:
a go.mod `replace` points at /usr/share/gocode). Without Go the tests skip, except under ECONTRACT_CI=1 (set by
.ci/run), where a missing toolchain fails them.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from econtract.evidence import log
from econtract.evidence.models import Leaf
from econtract.evidence.tests.log_helpers import record_many

SOURCE = Path(__file__).resolve().parents[4] / "tests" / "interop" / "tlogcheck"
X_MOD = Path("/usr/share/gocode/src/golang.org/x/mod/sumdb/tlog")
SIZES = (1, 2, 3, 7, 13, 100)


def _unavailable(reason: str) -> None:
    if os.environ.get("ECONTRACT_CI") == "1":
        pytest.fail(f"{reason} (ECONTRACT_CI=1: .ci/run must install golang-go golang-golang-x-mod-dev)")
    pytest.skip(f"{reason}: apt-get install golang-go golang-golang-x-mod-dev to run the Go interop check")


@pytest.fixture(scope="session")
def tlogcheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        _unavailable("no `go` on PATH")
    if not X_MOD.is_dir():
        _unavailable(f"golang.org/x/mod is not at {X_MOD.parent.parent}")
    work = tmp_path_factory.mktemp("tlogcheck")
    for name in ("go.mod", "main.go"):
        shutil.copy(SOURCE / name, work / name)
    binary = work / "tlogcheck"
    env = {
        **os.environ,
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GOSUMDB": "off",
        "GOTOOLCHAIN": "local",
        "GOCACHE": str(work / "cache"),
        "GOPATH": str(work / "gopath"),
        "CGO_ENABLED": "0",
    }
    built = subprocess.run(
        [go, "build", "-o", str(binary), "."], cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    assert built.returncode == 0, f"go build failed:\n{built.stdout}{built.stderr}"
    return binary


def check(binary: Path, request: dict[str, Any]) -> tuple[bool, str]:
    done = subprocess.run(
        [str(binary)], input=json.dumps(request), capture_output=True, text=True, timeout=30
    )
    output = (done.stdout + done.stderr).strip()
    assert (done.returncode == 0) == (output == "ok"), output
    return done.returncode == 0, output


def _entries(client: Client, size: int) -> list[str]:
    """All leaves of a tree of `size` < 256 from the public entry bundle (2-byte big-endian lengths)."""
    response = client.get(f"/log/tile/entries/000.p/{size}")
    assert response.status_code == 200
    body, leaves = response.content, []
    while body:
        length = int.from_bytes(body[:2], "big")
        leaves.append(base64.b64encode(body[2 : 2 + length]).decode())
        body = body[2 + length :]
    return leaves


class LogView:
    def __init__(self, client: Client) -> None:
        self.client = client
        response = client.get("/log/vkey")
        assert response.status_code == 200
        self.vkey = response.content.decode().strip()

    def event_at(self, index: int) -> str:
        return str(Leaf.objects.get(index=index).event_id)

    def inclusion(self, index: int, size: int) -> dict[str, Any]:
        event = self.event_at(index)
        proof = self.client.get(f"/api/v1/events/{event}/proof", {"tree_size": size})
        assert proof.status_code == 200, proof.content
        leaf = self.client.get(f"/api/v1/events/{event}/leaf")
        assert leaf.status_code == 200 and leaf["X-Leaf-Index"] == str(index)
        body = proof.json()
        assert body["tree_size"] == size and body["leaf_index"] == index
        return {
            "vkey": self.vkey,
            "checkpoint": body["checkpoint"],
            "leaf": base64.b64encode(leaf.content).decode(),
            "leaf_index": index,
            "inclusion_proof": body["inclusion_proof"],
        }

    def consistency(self, old: int, new: int) -> dict[str, Any]:
        response = self.client.get("/api/v1/log/consistency", {"from": old, "to": new})
        assert response.status_code == 200, response.content
        checkpoints = {size: log.checkpoint_of_size(size) for size in (old, new)}
        assert all(checkpoints.values())
        return {
            "vkey": self.vkey,
            "checkpoint": checkpoints[new].note,  # type: ignore[union-attr]
            "old_checkpoint": checkpoints[old].note,  # type: ignore[union-attr]
            "consistency_proof": response.json()["proof"],
        }


@pytest.fixture
def grown(db: None, client: Client, monkeypatch: pytest.MonkeyPatch) -> LogView:
    """A log with a checkpoint at each of SIZES, grown from empty on one plain subject (no other events).
    No RFC 3161 token: the first one would create the platform PKI, whose events would enter the log."""
    monkeypatch.setattr(log, "_timestamp_token", lambda note: b"")
    subject = get_user_model().objects.create(email="subject@example.test", username="subject")
    assert log.get_log().tree_size == 0
    for size in SIZES:
        record_many(subject, size - log.get_log().tree_size)
        checkpoint = log.make_checkpoint()
        assert checkpoint.tree_size == size
    return LogView(client)


def test_go_accepts_every_inclusion_proof_and_derives_the_same_proofs(
    tlogcheck: Path, grown: LogView
) -> None:
    for size in SIZES:
        leaves = _entries(grown.client, size)
        for index in sorted({0, size // 2, size - 2 if size > 1 else 0, size - 1}):
            request = grown.inclusion(index, size)
            assert check(tlogcheck, request) == (True, "ok"), (size, index)
            # the whole tree given: Go recomputes the root and its own ProveRecord must equal our proof
            assert check(tlogcheck, {**request, "leaves": leaves}) == (True, "ok"), (size, index)


def test_go_accepts_every_consistency_proof_and_derives_the_same_proofs(
    tlogcheck: Path, grown: LogView
) -> None:
    for new in SIZES:
        leaves = _entries(grown.client, new)
        for old in (s for s in SIZES if s <= new):
            request = grown.consistency(old, new)
            assert check(tlogcheck, request) == (True, "ok"), (old, new)
            assert check(tlogcheck, {**request, "leaves": leaves}) == (True, "ok"), (old, new)


def _flip(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.fixture
def busy(enterprise: Any, client: Client) -> LogView:
    """The enterprise's own events plus 10 more, checkpointed at 7 and at the end."""
    record_many(enterprise, 7 - log.get_log().tree_size if log.get_log().tree_size < 7 else 1)
    log.make_checkpoint()
    record_many(enterprise, 10)
    log.make_checkpoint()
    return LogView(client)


def test_go_rejects_tampering(tlogcheck: Path, busy: LogView) -> None:
    size = log.latest_checkpoint().tree_size  # type: ignore[union-attr]
    old = log.Checkpoint.objects.order_by("id").first().tree_size  # type: ignore[union-attr]
    good = busy.inclusion(5, size)
    assert check(tlogcheck, good) == (True, "ok")

    leaf = json.loads(base64.b64decode(good["leaf"]))
    leaf["document_sha256"] = "cd" * 32
    other = json.dumps(leaf, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    tampered_checkpoint = good["checkpoint"].replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    assert tampered_checkpoint != good["checkpoint"]
    lines = good["checkpoint"].split("\n")
    lines[2] = _flip(lines[2])
    other_root = "\n".join(lines)
    stranger = log.notes.verifier_key("someone.example/log", b"\x07" * 32)
    refused = {
        "tampered leaf": {**good, "leaf": base64.b64encode(other).decode()},
        "leaf bit flipped": {**good, "leaf": _flip(good["leaf"])},
        "wrong index": {**good, "leaf_index": 4},
        "proof hash flipped": {
            **good,
            "inclusion_proof": [_flip(good["inclusion_proof"][0])] + good["inclusion_proof"][1:],
        },
        "proof reordered": {**good, "inclusion_proof": list(reversed(good["inclusion_proof"]))},
        "proof one short": {**good, "inclusion_proof": good["inclusion_proof"][:-1]},
        "checkpoint size tampered": {**good, "checkpoint": tampered_checkpoint},
        "checkpoint root tampered": {**good, "checkpoint": other_root},
        "another log's key": {**good, "vkey": stranger},
    }
    for name, request in refused.items():
        accepted, output = check(tlogcheck, request)
        assert not accepted, name
        assert output.startswith("error:"), (name, output)
    assert "signature" in check(tlogcheck, refused["checkpoint root tampered"])[1].lower()

    consistent = busy.consistency(old, size)
    assert check(tlogcheck, consistent) == (True, "ok")
    for name, request in {
        "consistency hash flipped": {
            **consistent,
            "consistency_proof": [_flip(consistent["consistency_proof"][0])]
            + consistent["consistency_proof"][1:],
        },
        "consistency reordered": {
            **consistent,
            "consistency_proof": list(reversed(consistent["consistency_proof"])),
        },
        "old checkpoint tampered": {
            **consistent,
            "old_checkpoint": consistent["old_checkpoint"].replace(f"\n{old}\n", f"\n{old + 1}\n", 1),
        },
        "old and new swapped": {
            **consistent,
            "checkpoint": consistent["old_checkpoint"],
            "old_checkpoint": consistent["checkpoint"],
        },
    }.items():
        assert not check(tlogcheck, request)[0], name

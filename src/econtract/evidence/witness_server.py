"""A c2sp.org/tlog-witness witness: a party separate from the platform, cosigning the log's checkpoints.

It shares no database with the platform. Its state lives in one directory: `witness.key` (its Ed25519
key, PKCS#8 PEM, mode 0600, made on first start), `config.json` (its name and the verifier keys of
the logs it witnesses) and `state.json` (per origin: the log's key, the last cosigned size, root
hash and note), rewritten atomically (temporary file, fsync, rename). One lock covers the whole
check-and-persist of add-checkpoint, so two requests cannot roll the recorded size back.

Only Python's standard HTTP server and `notes`/`merkle` from this package are used, so it can run on
another machine from the same wheel: `econtract witness serve --state DIR --log VKEY`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from econtract.evidence import merkle, notes

DEFAULT_NAME = "localhost/econtract-witness"
MAX_BODY = 64 * 1024
MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"


class WitnessError(Exception):
    """A refusal with its HTTP status (c2sp.org/tlog-witness add-checkpoint)."""

    def __init__(
        self, status: int, message: str, body: str | None = None, content_type: str = "text/plain"
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else message + "\n"
        self.content_type = content_type


@dataclass(frozen=True)
class LogRecord:
    size: int
    root_hash: bytes
    note: str


def _write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def load_or_create_key(state_dir: Path) -> Ed25519PrivateKey:
    path = state_dir / "witness.key"
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first; read theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
    loaded = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return loaded


class Witness:
    """The witness's state and its add-checkpoint logic, independent of HTTP."""

    def __init__(self, state_dir: Path | str, logs: list[str] | None = None, name: str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.lock = threading.Lock()
        self.private_key = load_or_create_key(self.state_dir)
        config_path = self.state_dir / "config.json"
        config: dict[str, Any] = json.loads(config_path.read_text()) if config_path.exists() else {}
        configured_logs = list(config.get("logs", []))
        self.name = name or str(config.get("name") or DEFAULT_NAME)
        notes.verifier_key(self.name, b"\0" * 32)  # checks the name
        for key in logs or []:
            if key not in configured_logs:
                configured_logs.append(key)
        if config != {"name": self.name, "logs": configured_logs}:
            config = {"name": self.name, "logs": configured_logs}
            _write_atomically(config_path, json.dumps(config, indent=2).encode())
        self.logs: dict[str, notes.Verifier] = {}
        for key in configured_logs:
            verifier = notes.parse_verifier_key(key)
            if verifier.key_type != notes.ED25519:
                raise ValueError(f"{key}: a log key is of type 0x01")
            self.logs[verifier.name] = verifier
        self.state_path = self.state_dir / "state.json"
        self.records: dict[str, LogRecord] = {}
        if self.state_path.exists():
            for origin, row in json.loads(self.state_path.read_text()).get("logs", {}).items():
                self.records[origin] = LogRecord(int(row["size"]), base64.b64decode(row["root"]), row["note"])

    @property
    def public_key(self) -> bytes:
        return notes.raw_public_key(self.private_key.public_key())

    def verifier_key(self) -> str:
        return notes.verifier_key(self.name, self.public_key, notes.COSIGNATURE_V1)

    def _persist(self) -> None:
        data = {
            "logs": {
                origin: {
                    "vkey": notes.verifier_key(self.logs[origin].name, self.logs[origin].public_key)
                    if origin in self.logs
                    else "",
                    "size": record.size,
                    "root": base64.b64encode(record.root_hash).decode(),
                    "note": record.note,
                }
                for origin, record in self.records.items()
            }
        }
        _write_atomically(self.state_path, json.dumps(data, indent=2).encode())

    def latest(self, origin: str) -> LogRecord | None:
        with self.lock:
            return self.records.get(origin)

    def add_checkpoint(self, body: bytes) -> str:
        """The response body (cosignature lines) or WitnessError with the spec's status."""
        old_size, proof, note = parse_request(body)
        try:
            text, _ = notes.split_note(note)
            checkpoint = notes.parse_checkpoint(text)
        except notes.NoteError as exc:
            raise WitnessError(400, f"malformed checkpoint: {exc}") from exc
        verifier = self.logs.get(checkpoint.origin)
        if verifier is None:
            raise WitnessError(404, "unknown log origin")
        try:
            notes.open_note(note, verifier)
        except notes.NoteError as exc:
            raise WitnessError(403, "no valid signature by the log's key") from exc
        if old_size > checkpoint.tree_size:
            raise WitnessError(400, "old size is larger than the checkpoint size")
        with self.lock:
            record = self.records.get(checkpoint.origin)
            known_size = record.size if record else 0
            if old_size != known_size:
                raise WitnessError(409, "old size does not match", f"{known_size}\n", SIZE_CONTENT_TYPE)
            if checkpoint.tree_size == 0 and checkpoint.root_hash != merkle.EMPTY_ROOT:
                raise WitnessError(422, "an empty tree has the empty root")
            if old_size == 0 and proof:
                raise WitnessError(422, "a proof from size 0 must be empty")
            old_root = record.root_hash if record else merkle.EMPTY_ROOT
            try:
                merkle.verify_consistency(
                    old_size, checkpoint.tree_size, old_root, checkpoint.root_hash, proof
                )
            except merkle.ProofError as exc:
                raise WitnessError(422, f"not consistent with the last cosigned checkpoint: {exc}") from exc
            line = notes.cosign(text, self.name, self.private_key, int(time.time()))
            previous = self.records.get(checkpoint.origin)
            self.records[checkpoint.origin] = LogRecord(
                checkpoint.tree_size, checkpoint.root_hash, note + line
            )
            try:
                self._persist()
            except BaseException:
                if previous is None:
                    self.records.pop(checkpoint.origin, None)
                else:
                    self.records[checkpoint.origin] = previous
                raise
        return line


def _parse_size(text: str) -> int:
    if not text.isdigit() or not text.isascii() or (text != "0" and text.startswith("0")):
        raise WitnessError(400, "malformed size")
    return int(text)


def parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    """`old N`, proof lines, a blank line, the checkpoint note."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WitnessError(400, "the body is not UTF-8") from exc
    position = decoded.find("\n\n")
    if position < 0:
        raise WitnessError(400, "no blank line before the checkpoint")
    head, note = decoded[:position].split("\n"), decoded[position + 2 :]
    if not head[0].startswith("old "):
        raise WitnessError(400, "the first line is `old <size>`")
    old_size = _parse_size(head[0][4:])
    if len(head) - 1 > MAX_PROOF_LINES:
        raise WitnessError(400, "too many proof lines")
    proof: list[bytes] = []
    for line in head[1:]:
        try:
            digest = base64.b64decode(line, validate=True)
        except binascii.Error as exc:
            raise WitnessError(400, "a proof line is not base64") from exc
        if len(digest) != 32:
            raise WitnessError(400, "a proof line is not a SHA-256 hash")
        proof.append(digest)
    return old_size, proof, note


class WitnessHandler(BaseHTTPRequestHandler):
    server: WitnessHTTPServer
    protocol_version = "HTTP/1.1"

    def _reply(self, status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.rstrip("/") != "/add-checkpoint":
            self._reply(404, "not found\n")
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._reply(411, "Content-Length required\n")
            return
        if not 0 < length <= MAX_BODY:
            self._reply(400, "body too large or empty\n")
            return
        body = self.rfile.read(length)
        try:
            line = self.server.witness.add_checkpoint(body)
        except WitnessError as exc:
            self._reply(exc.status, exc.body, exc.content_type)
            return
        self._reply(200, line)

    def do_GET(self) -> None:  # noqa: N802
        witness = self.server.witness
        if self.path in ("/", "/vkey"):
            self._reply(200, witness.verifier_key() + "\n")
            return
        parts = self.path.strip("/").split("/")
        if len(parts) == 2 and parts[1] == "checkpoint":  # monitoring: <sha256 hex of origin>/checkpoint
            for origin in witness.logs:
                if hashlib.sha256(origin.encode()).hexdigest() == parts[0]:
                    record = witness.latest(origin)
                    if record is not None:
                        self._reply(200, record.note)
                        return
        self._reply(404, "not found\n")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class WitnessHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, witness: Witness, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), WitnessHandler)
        self.witness = witness

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

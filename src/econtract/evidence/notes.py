"""C2SP signed notes, checkpoints and cosignatures (c2sp.org/signed-note, tlog-checkpoint, tlog-cosignature).

Written by hand because no maintained Python library implements these formats; each is a few lines of
text framing around Ed25519 from `cryptography` (decision 137). Go's golang.org/x/mod/sumdb/note reads
what this writes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
SIGNATURE_DASH = "\u2014 "


class NoteError(ValueError):
    """A note, checkpoint, key or cosignature that is malformed or does not verify."""


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError("a key name must be non-empty, without spaces or '+'")


def verifier_key(name: str, public_key: bytes, key_type: int = ED25519) -> str:
    """`name+hex(key id)+base64(type ‖ public key)` (c2sp.org/signed-note)."""
    _check_name(name)
    encoded = base64.b64encode(bytes([key_type]) + public_key).decode()
    return f"{name}+{key_id(name, key_type, public_key).hex()}+{encoded}"


@dataclass(frozen=True)
class Verifier:
    name: str
    key_type: int
    public_key: bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.key_type, self.public_key)


def parse_verifier_key(text: str) -> Verifier:
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key is name+id+key")
    name, hex_id, encoded = parts
    _check_name(name)
    try:
        raw = base64.b64decode(encoded, validate=True)
        wanted = bytes.fromhex(hex_id)
    except (binascii.Error, ValueError) as exc:
        raise NoteError("verifier key is not hex and base64") from exc
    if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
        raise NoteError("only Ed25519 verifier keys (types 0x01 and 0x04) are supported")
    verifier = Verifier(name, raw[0], raw[1:])
    if verifier.id != wanted:
        raise NoteError("verifier key id does not match its name and key")
    return verifier


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    _check_name(name)
    public = raw_public_key(private_key.public_key())
    signature = private_key.sign(text.encode())
    line = base64.b64encode(key_id(name, ED25519, public) + signature).decode()
    return f"{text}\n{SIGNATURE_DASH}{name} {line}\n"


@dataclass(frozen=True)
class SignatureLine:
    name: str
    key_id: bytes
    signature: bytes


def split_note(note: str) -> tuple[str, list[SignatureLine]]:
    """The note text (with its final newline) and its signature lines, checked for form only."""
    if "\r" in note:
        raise NoteError("a note has no carriage returns")
    position = note.rfind("\n\n")
    if position < 0 or not note.endswith("\n"):
        raise NoteError("a note is text, a blank line, then signature lines")
    text, block = note[: position + 1], note[position + 2 :]
    lines: list[SignatureLine] = []
    for line in block.splitlines():
        if not line.startswith(SIGNATURE_DASH):
            raise NoteError("malformed signature line")
        name, _, encoded = line[len(SIGNATURE_DASH) :].partition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise NoteError("signature is not base64") from exc
        if len(raw) < 5:
            raise NoteError("signature too short")
        lines.append(SignatureLine(name, raw[:4], raw[4:]))
    if not lines:
        raise NoteError("the note has no signatures")
    return text, lines


def open_note(note: str, verifier: Verifier) -> str:
    """The text of a note carrying a valid Ed25519 signature by `verifier`; NoteError otherwise."""
    if verifier.key_type != ED25519:
        raise NoteError("not a note-signing key")
    text, lines = split_note(note)
    for line in lines:
        if line.name == verifier.name and line.key_id == verifier.id:
            try:
                Ed25519PublicKey.from_public_bytes(verifier.public_key).verify(line.signature, text.encode())
            except InvalidSignature as exc:
                raise NoteError("the log's signature on the note does not verify") from exc
            return text
    raise NoteError("the note carries no signature by this key")


@dataclass(frozen=True)
class CheckpointBody:
    origin: str
    tree_size: int
    root_hash: bytes


def checkpoint_text(origin: str, tree_size: int, root_hash: bytes) -> str:
    return f"{origin}\n{tree_size}\n{base64.b64encode(root_hash).decode()}\n"


def parse_checkpoint(text: str) -> CheckpointBody:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("a checkpoint has an origin, a size and a root hash line")
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise NoteError("malformed checkpoint origin or size")
    try:
        root_hash = base64.b64decode(root, validate=True)
    except binascii.Error as exc:
        raise NoteError("checkpoint root is not base64") from exc
    if len(root_hash) != 32:
        raise NoteError("checkpoint root is not a SHA-256 hash")
    return CheckpointBody(origin, int(size), root_hash)


def cosigned_message(checkpoint: str, timestamp: int) -> bytes:
    """What a tlog-cosignature/v1 signs: a header line, the time line, then the checkpoint text."""
    return f"cosignature/v1\ntime {timestamp}\n".encode() + checkpoint.encode()


def cosign(checkpoint: str, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """A signature line of type 0x04 over `checkpoint` (the note text), as a witness returns it."""
    public = raw_public_key(private_key.public_key())
    signature = private_key.sign(cosigned_message(checkpoint, timestamp))
    raw = key_id(name, COSIGNATURE_V1, public) + struct.pack(">Q", timestamp) + signature
    return f"{SIGNATURE_DASH}{name} {base64.b64encode(raw).decode()}\n"


def verify_cosignature(checkpoint: str, line: str, verifier: Verifier) -> int:
    """Check one cosignature line against the checkpoint text; returns its timestamp."""
    if verifier.key_type != COSIGNATURE_V1:
        raise NoteError("not a cosignature key")
    _, lines = split_note("x\n\n" + line.rstrip("\n") + "\n")
    parsed = lines[0]
    if parsed.name != verifier.name or parsed.key_id != verifier.id or len(parsed.signature) != 72:
        raise NoteError("the cosignature is not by this witness key")
    (timestamp,) = struct.unpack(">Q", parsed.signature[:8])
    if timestamp >= 2**63:
        raise NoteError("a cosignature timestamp does not exceed 2^63 - 1")
    try:
        Ed25519PublicKey.from_public_bytes(verifier.public_key).verify(
            parsed.signature[8:], cosigned_message(checkpoint, timestamp)
        )
    except InvalidSignature as exc:
        raise NoteError("the cosignature does not verify") from exc
    return timestamp

"""The key-encryption key (KEK) and sealing of secrets at rest under it.

Everything secret the platform stores (CA, TSA and OCSP private keys; signer keys, together with the
signer's PIN) is encrypted under a 256-bit KEK that must not live beside the database. Production sets
``ECONTRACT_KEK_FILE`` to a file outside the data directory (a mounted secret). Only when it is unset
does the embedded mode generate ``DATA_DIR/kek.key``, and then every process start logs a warning.

Sealed blob, version 1::

    0x01 || kek_id (8) || nonce (12) || AES-256-GCM ciphertext+tag

The key is HKDF-SHA256(KEK, info="econtract/kek/seal/v1"); the associated data is the 9-byte header
followed by the caller's ``aad``, so a blob cannot be moved to another purpose or row. ``kek_id`` is a
truncated HMAC of the KEK: it tells "sealed under another KEK" apart from tampering, and reveals nothing
usable about the KEK.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from econtract.pki.errors import KekError, KekMismatch, SealError

logger = logging.getLogger("econtract.pki")

KEK_BYTES = 32
KEK_ID_BYTES = 8
NONCE_BYTES = 12
SEAL_VERSION = 1
EMBEDDED_KEK_NAME = "kek.key"

_cache: dict[tuple[str, str], bytes] = {}
_cache_lock = threading.Lock()


def load_kek() -> bytes:
    """The 32-byte KEK, read once per process (per configured location)."""
    configured = str(getattr(settings, "ECONTRACT_KEK_FILE", "") or "").strip()
    data_dir = Path(settings.DATA_DIR)
    cache_key = (configured, str(data_dir))
    with _cache_lock:
        cached = _cache.get(cache_key)
        if cached is not None:
            return cached
        if configured:
            kek = _read_configured_kek(Path(configured).expanduser())
        else:
            path = data_dir / EMBEDDED_KEK_NAME
            kek = _embedded_kek(path)
            warn_if_embedded()
        _cache[cache_key] = kek
        return kek


_warned: set[str] = set()


def warn_if_embedded() -> None:
    """Log, once per process, that the KEK sits beside the data: at `econtract serve` start and
    whenever a process first loads an embedded KEK (commands that never touch keys stay quiet)."""
    if str(getattr(settings, "ECONTRACT_KEK_FILE", "") or "").strip():
        return
    path = str(Path(settings.DATA_DIR) / EMBEDDED_KEK_NAME)
    if path in _warned:
        return
    _warned.add(path)
    logger.warning(
        "The key-encryption key is %s, beside the data it protects. Anyone with a copy of the data "
        "directory can decrypt the CA keys and brute-force signer PINs. Production must set "
        "ECONTRACT_KEK_FILE to a secret kept outside the data directory.",
        path,
    )


def derive_subkey(purpose: str) -> bytes:
    """A 32-byte key for one purpose, so the KEK itself never keys two different constructions."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"econtract/kek/" + purpose.encode())
    return hkdf.derive(load_kek())


def kek_id(kek: bytes | None = None) -> bytes:
    key = load_kek() if kek is None else kek
    return hmac.new(key, b"econtract/kek-id", hashlib.sha256).digest()[:KEK_ID_BYTES]


def seal(plaintext: bytes, aad: bytes) -> bytes:
    header = bytes([SEAL_VERSION]) + kek_id()
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(derive_subkey("seal/v1")).encrypt(nonce, plaintext, header + aad)
    return header + nonce + ciphertext


def unseal(blob: bytes, aad: bytes) -> bytes:
    blob = bytes(blob)
    header_len = 1 + KEK_ID_BYTES
    if len(blob) < header_len + NONCE_BYTES + 16 or blob[0] != SEAL_VERSION:
        raise SealError("not a sealed blob of a known version")
    header = blob[:header_len]
    nonce = blob[header_len : header_len + NONCE_BYTES]
    ciphertext = blob[header_len + NONCE_BYTES :]
    if not hmac.compare_digest(header[1:], kek_id()):
        raise KekMismatch("sealed under a different key-encryption key than ECONTRACT_KEK_FILE provides")
    try:
        return AESGCM(derive_subkey("seal/v1")).decrypt(nonce, ciphertext, header + aad)
    except InvalidTag as exc:
        raise SealError("sealed blob failed authentication (tampered, or bound to other data)") from exc


def parse_kek(data: bytes) -> bytes:
    """Accept raw 32 bytes, 64 hex digits, or base64 (standard or URL-safe) of 32 bytes."""
    if len(data) == KEK_BYTES:
        return data
    text = data.strip()
    if re.fullmatch(rb"[0-9a-fA-F]{64}", text):
        return bytes.fromhex(text.decode("ascii"))
    if re.fullmatch(rb"[A-Za-z0-9+/_-]+={0,2}", text):
        normalised = text.rstrip(b"=").replace(b"-", b"+").replace(b"_", b"/")
        try:
            raw = base64.b64decode(normalised + b"=" * (-len(normalised) % 4), validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) == KEK_BYTES:
            return raw
    raise KekError("the KEK must be 32 bytes: raw, 64 hex digits, or base64 of 32 bytes")


def _read_configured_kek(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as exc:
        raise KekError(f"cannot read ECONTRACT_KEK_FILE {path}: {exc.strerror or exc}") from exc
    if stat.S_ISREG(mode) and mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("ECONTRACT_KEK_FILE %s is readable by group or others; chmod 600 it.", path)
    try:
        return parse_kek(data)
    except KekError as exc:
        raise KekError(f"ECONTRACT_KEK_FILE {path}: {exc}") from exc


def _embedded_kek(path: Path) -> bytes:
    try:
        return parse_kek(path.read_bytes())
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise KekError(f"cannot read {path}: {exc.strerror or exc}") from exc
    kek = os.urandom(KEK_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64encode(kek) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link() never replaces an existing file: if another process won the race, use its KEK.
            os.link(tmp, path)
        except FileExistsError:
            kek = parse_kek(path.read_bytes())
    finally:
        tmp.unlink(missing_ok=True)
    return kek

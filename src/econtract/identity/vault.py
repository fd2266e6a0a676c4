"""Personal data sealed at rest: ID numbers, phone numbers, bank cards, document images.

Format, version 1::

    blob = 0x01 || key_id (8) || nonce (12) || AES-256-GCM(key, plaintext, aad = 0x01 || key_id || purpose)

The keys form a ring, ``ECONTRACT_PERSONAL_DATA_KEYS``: a comma-separated list of 32-byte keys (64 hex
digits or base64), the first seals, every one of them unseals. Rotation: put the new key first, keep
the old one after it, run ``econtract identity rotate-keys`` (re-seals every row under the first key),
then drop the old key. Unset, the ring is one key derived from the KEK (pki.kek), so the embedded mode
needs no setup and a database copied without the KEK reveals nothing.

``purpose`` is bound as associated data: a sealed ID number pasted into the phone column, or into
another row's image, fails to unseal instead of being read as something else.

``digest_id_number`` is a keyed HMAC under its own key (``ECONTRACT_PERSONAL_DATA_DIGEST_KEY``, or one
derived from the KEK), so the same document can be found across accounts without decrypting, and the
digest reveals nothing to a reader of the database who lacks the key. Rotating the ring leaves it as
it is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from econtract.pki import kek

VERSION = 1
KEY_BYTES = 32
KEY_ID_BYTES = 8
NONCE_BYTES = 12


class VaultError(Exception):
    """A sealed value that cannot be opened: unknown key, tampered, or bound to another purpose."""

    code = "vault_error"


def _parse_key(text: str) -> bytes:
    text = text.strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
    if len(raw) != KEY_BYTES:
        raise ImproperlyConfigured(
            "ECONTRACT_PERSONAL_DATA_KEYS: each key must be 32 bytes, as 64 hex digits or base64"
        )
    return raw


def _key_id(key: bytes) -> bytes:
    return hmac.new(key, b"econtract/personal-data/key-id", hashlib.sha256).digest()[:KEY_ID_BYTES]


@cache
def _ring(configured: str, kek_id: bytes) -> tuple[tuple[bytes, bytes], ...]:
    """(key id, key) pairs, the sealing key first. Cached per configuration and KEK."""
    if configured.strip():
        keys = [_parse_key(part) for part in configured.split(",") if part.strip()]
    else:
        keys = [kek.derive_subkey("personal-data/v1")]
    return tuple((_key_id(key), key) for key in keys)


def _keys() -> tuple[tuple[bytes, bytes], ...]:
    return _ring(str(getattr(settings, "ECONTRACT_PERSONAL_DATA_KEYS", "") or ""), kek.kek_id())


def current_key_id() -> bytes:
    return _keys()[0][0]


def key_id_of(blob: bytes) -> bytes:
    blob = bytes(blob)
    if len(blob) < 1 + KEY_ID_BYTES or blob[0] != VERSION:
        raise VaultError("not a sealed value of a known version")
    return blob[1 : 1 + KEY_ID_BYTES]


def seal_bytes(data: bytes, *, purpose: str) -> bytes:
    key_id, key = _keys()[0]
    header = bytes([VERSION]) + key_id
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + AESGCM(key).encrypt(nonce, data, header + purpose.encode())


def unseal_bytes(blob: bytes, *, purpose: str) -> bytes:
    blob = bytes(blob)
    key_id = key_id_of(blob)
    key = next((key for kid, key in _keys() if hmac.compare_digest(kid, key_id)), None)
    if key is None:
        raise VaultError("sealed under a key that ECONTRACT_PERSONAL_DATA_KEYS no longer holds")
    header = blob[: 1 + KEY_ID_BYTES]
    nonce = blob[1 + KEY_ID_BYTES : 1 + KEY_ID_BYTES + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, blob[1 + KEY_ID_BYTES + NONCE_BYTES :], header + purpose.encode())
    except InvalidTag as exc:
        raise VaultError("sealed value failed authentication (tampered, or sealed for another use)") from exc


def seal_text(value: str, *, purpose: str) -> bytes:
    return seal_bytes(value.encode(), purpose=purpose)


def unseal_text(blob: bytes, *, purpose: str) -> str:
    return unseal_bytes(blob, purpose=purpose).decode()


def reseal(blob: bytes, *, purpose: str) -> bytes | None:
    """The blob sealed under the current key, or None when it already is (rotation is idempotent)."""
    if not blob or hmac.compare_digest(key_id_of(blob), current_key_id()):
        return None
    return seal_bytes(unseal_bytes(blob, purpose=purpose), purpose=purpose)


@cache
def _digest_key(configured: str, kek_id: bytes) -> bytes:
    if configured.strip():
        return _parse_key(configured)
    return kek.derive_subkey("personal-data/digest/v1")


def digest_id_number(id_type: str, number: str) -> str:
    """A keyed hash of a normalised document number, stable across key rotations."""
    key = _digest_key(str(getattr(settings, "ECONTRACT_PERSONAL_DATA_DIGEST_KEY", "") or ""), kek.kek_id())
    return hmac.new(key, f"{id_type}|{number}".encode(), hashlib.sha256).hexdigest()

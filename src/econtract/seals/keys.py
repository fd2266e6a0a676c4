"""A seal's private key: ECDSA P-256, PKCS#8 DER sealed under the KEK (an HSM in step 9).

The associated data names the seal and its public key, so a sealed key cannot be moved to another
seal's row, nor paired with another certificate, without unsealing failing.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from econtract.pki import kek
from econtract.seals.models import Seal

AAD_PREFIX = b"econtract/seal-key/v1|"


def seal_key_aad(seal_id: UUID | str, public_der: bytes) -> bytes:
    return AAD_PREFIX + str(seal_id).encode("ascii") + b"|" + hashlib.sha256(public_der).digest()


def new_seal_key(seal_id: UUID | str) -> tuple[ec.EllipticCurvePrivateKey, bytes, bytes]:
    """(private key, SubjectPublicKeyInfo DER, sealed PKCS#8 DER) for the seal ``seal_id``."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    public_der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pkcs8 = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return private_key, public_der, kek.seal(pkcs8, seal_key_aad(seal_id, public_der))


def unseal_seal_key(seal: Seal) -> ec.EllipticCurvePrivateKey:
    """The seal's private key, in memory only; pki.errors.SealError when the blob was tampered with or
    moved from another row, KekMismatch when it was sealed under another KEK."""
    public_der = bytes(seal.public_key_der)
    pkcs8 = kek.unseal(bytes(seal.sealed_private_key), seal_key_aad(seal.id, public_der))
    private_key = serialization.load_der_private_key(pkcs8, password=None)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise ValueError("a seal key must be an ECDSA key")
    stored = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if stored != public_der:  # the AAD binds the hash already; this guards a mis-sealed row
        raise ValueError("the sealed key does not match the seal's public key")
    return private_key

"""A software WebAuthn authenticator for tests: an ES256 key that answers the server's real ceremonies.

It builds what a browser hands back (W3C WebAuthn §6.1 authenticator data, §5.8.1 client data):
``authenticatorData`` = SHA-256(rp id) | flags | counter (| attested credential data at
registration), ``clientDataJSON`` with the challenge and origin, and for an assertion an ECDSA
signature over ``authenticatorData || SHA-256(clientDataJSON)``. Registration uses the "none"
attestation format. Nothing in econtract is mocked: the server verifies these with py_webauthn.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from econtract.identity.passkeys import b64url, b64url_decode

FLAG_UP = 0x01  # user present
FLAG_UV = 0x04  # user verified
FLAG_AT = 0x40  # attested credential data included
AAGUID = bytes(16)


@dataclass
class SoftAuthenticator:
    """One credential for one relying party, with its own counter."""

    rp_id: str
    origin: str
    user_verified: bool = True
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    sign_count: int = 0

    def _flags(self, extra: int = 0) -> int:
        return FLAG_UP | (FLAG_UV if self.user_verified else 0) | extra

    def _cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        # COSE_Key (RFC 9053): kty EC2, alg ES256, crv P-256, x, y
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        ).encode()

    def register(self, options: dict[str, Any]) -> dict[str, Any]:
        """The answer to PublicKeyCredentialCreationOptions (as JSON, as the server sends them)."""
        assert options["rp"]["id"] == self.rp_id, options["rp"]
        attested = AAGUID + struct.pack(">H", len(self.credential_id)) + self.credential_id
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags(FLAG_AT)])
            + struct.pack(">I", self.sign_count)
            + attested
            + self._cose_public_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(self._client_data("webauthn.create", options["challenge"])),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
        }

    def assert_(self, options: dict[str, Any], *, challenge: str | None = None) -> dict[str, Any]:
        """The answer to PublicKeyCredentialRequestOptions; ``challenge`` overrides the one asked."""
        self.sign_count += 1
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags()])
            + struct.pack(">I", self.sign_count)
        )
        client_data = self._client_data("webauthn.get", challenge or options["challenge"])
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": None,
            },
        }

    def allowed_by(self, options: dict[str, Any]) -> bool:
        return any(b64url_decode(c["id"]) == self.credential_id for c in options.get("allowCredentials", []))


def enrol(user: Any, *, rp_id: str, origin: str) -> SoftAuthenticator:
    """A new software passkey registered for ``user`` through the real registration ceremony."""
    from econtract.identity import passkeys

    authenticator = SoftAuthenticator(rp_id=rp_id, origin=origin)
    passkeys.finish_registration(user, authenticator.register(passkeys.begin_registration(user)), name="Soft")
    return authenticator

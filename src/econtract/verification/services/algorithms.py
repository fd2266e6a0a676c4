"""Signature mechanisms beyond pyHanko's own: plain-format ECDSA (BSI TR-03111).

German and other European signing tools write ECDSA signatures in the "plain" format of BSI TR-03111
§5.2.1: the two integers r and s as fixed-length big-endian octet strings, concatenated, under the
``ecdsa-plain-*`` OIDs (0.4.0.127.0.7.1.1.4.1.x). pyHanko only knows the X9.62 DER encoding. The
mathematics is the same: re-encode (r, s) as DER and let ``cryptography`` verify it.
"""

from __future__ import annotations

from asn1crypto import algos
from asn1crypto.keys import PublicKeyInfo
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
)

_PLAIN_ECDSA_ARC = "0.4.0.127.0.7.1.1.4.1"
# BSI TR-03111 §5.2.1: ecdsa-plain-<hash> OIDs
PLAIN_ECDSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    f"{_PLAIN_ECDSA_ARC}.1": hashes.SHA1,
    f"{_PLAIN_ECDSA_ARC}.2": hashes.SHA224,
    f"{_PLAIN_ECDSA_ARC}.3": hashes.SHA256,
    f"{_PLAIN_ECDSA_ARC}.4": hashes.SHA384,
    f"{_PLAIN_ECDSA_ARC}.5": hashes.SHA512,
    f"{_PLAIN_ECDSA_ARC}.8": hashes.SHA3_224,
    f"{_PLAIN_ECDSA_ARC}.9": hashes.SHA3_256,
    f"{_PLAIN_ECDSA_ARC}.10": hashes.SHA3_384,
    f"{_PLAIN_ECDSA_ARC}.11": hashes.SHA3_512,
}


def algorithm_name(signature_algorithm: algos.SignedDigestAlgorithm) -> str:
    """A readable name for the report (``sha256_ecdsa``, ``ecdsa-plain-sha256``, or the OID)."""
    oid = signature_algorithm["algorithm"].dotted
    if oid in PLAIN_ECDSA_HASHES:
        return f"ecdsa-plain-{PLAIN_ECDSA_HASHES[oid]().name.replace('-', '')}"
    return str(signature_algorithm["algorithm"].native)


class SignatureValidator(DefaultSignatureValidator):
    """pyHanko's validator, plus plain-format ECDSA."""

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        hash_type = PLAIN_ECDSA_HASHES.get(signature_algorithm["algorithm"].dotted)
        if hash_type is None:
            super().validate_signature(signature, signed_data, public_key_info, signature_algorithm, context)
            return
        public_key = serialization.load_der_public_key(public_key_info.dump())
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise InvalidSignature("a plain ECDSA signature needs an EC key")
        half = (public_key.curve.key_size + 7) // 8
        if len(signature) != 2 * half:
            # TR-03111: r and s are each exactly as long as the group order
            raise InvalidSignature("a plain ECDSA signature of the wrong length")
        der = encode_dss_signature(
            int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
        )
        algorithm: hashes.HashAlgorithm | Prehashed = hash_type()
        if context.prehashed:
            algorithm = Prehashed(hash_type())
        public_key.verify(der, signed_data, ec.ECDSA(algorithm))


SIGNATURE_VALIDATOR = SignatureValidator()

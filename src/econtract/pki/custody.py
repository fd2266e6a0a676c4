"""Signer key custody, mode 1: the platform holds each signer's ECDSA P-256 key, wrapped under her PIN.

Wrapping scheme, version 1 (recorded per key: salt and Argon2 parameters in their own columns)::

    stretched = Argon2id(secret=PIN (ASCII digits), salt=16 random bytes,
                         memory=kdf_memory_kib, passes=kdf_passes, lanes=kdf_lanes, length=32)
    wrap_key  = HKDF-SHA256(ikm=stretched, salt=KEK-subkey("pin-wrap/v1"),
                            info="econtract/signer-key-wrap/v1")
    blob      = 0x01 || kek_id (8) || nonce (12) || AES-256-GCM(wrap_key, PKCS#8 DER,
                aad = 0x01 || kek_id || "econtract/signer-key/v1|" || user id || "|" || SHA-256(public key))

Neither the PIN nor the KEK alone unwraps a key: a database thief without the KEK has nothing to
brute-force against, and whoever holds the KEK still needs the PIN (online: 5 tries per lockout).
Someone holding both the database and the KEK can brute-force a 6-digit PIN offline (~32 hours at
RFC 9106's second recommended Argon2 parameters), which is why the KEK must live elsewhere.

Attempt counting is race-safe, crash-safe and cannot be rolled back by a caller. Only a PIN that was
checked and found wrong counts (``failed_pin_attempts``). Before Argon2 runs, the check takes one of
the attempts left as a ``PinCheck`` with a lease, committed at once; at most
MAX_PIN_ATTEMPTS - failures - checks in flight may run, so parallel guesses never get more real checks
than the limit. The check then resolves in its own committed transaction: wrong counts, right clears
the count. A request killed in between never resolves: its lease lapses after PIN_CHECK_LEASE_SECONDS
and it counts as nothing (nor does a check that outlived its lease answer: no free guess either).
All of this runs in ``transaction.atomic(durable=True)`` blocks, so calling these functions inside
another atomic block raises RuntimeError instead of silently losing a count. Call them first, then
open your own transaction for the signing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from econtract.identity import assurance
from econtract.identity.errors import AssuranceRequired
from econtract.pki import kek
from econtract.pki.errors import (
    CertificateExpired,
    CertificateRevoked,
    CurrentPinRequired,
    IdentityNotVerified,
    KekMismatch,
    NoSigningKey,
    PinBusy,
    PinLocked,
    SealError,
    WeakPin,
    WrongPin,
)
from econtract.pki.issuance import issue_signing_certificate, revoke_certificate
from econtract.pki.models import IssuedCertificate, PinCheck, SignerKey
from econtract.ratelimit import seconds_until

# RFC 9106 §4, second recommended option: 64 MiB, 3 passes, 4 lanes.
DEFAULT_KDF_MEMORY_KIB = 64 * 1024
DEFAULT_KDF_PASSES = 3
KDF_LANES = 4
SALT_BYTES = 16
WRAP_VERSION = 1
MAX_PIN_ATTEMPTS = 5
PIN_LOCKOUT_SECONDS = 1800  # default of ECONTRACT_PIN_LOCKOUT_SECONDS
# Far longer than one Argon2 run (~0.1 s); a check still unresolved after it belongs to a dead request.
PIN_CHECK_LEASE_SECONDS = 60
PIN_PATTERN = re.compile(r"[0-9]{6,12}", re.ASCII)

PrivateKey = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class KdfParams:
    memory_kib: int
    passes: int
    lanes: int


def kdf_params() -> KdfParams:
    """Argon2id parameters for new wraps, from settings (tests may lower them; stored per key)."""
    memory = int(getattr(settings, "ECONTRACT_PIN_KDF_MEMORY_KIB", DEFAULT_KDF_MEMORY_KIB))
    passes = int(getattr(settings, "ECONTRACT_PIN_KDF_PASSES", DEFAULT_KDF_PASSES))
    if memory < 8 * KDF_LANES or passes < 1:
        raise ValueError("Argon2id needs at least 8 KiB per lane and one pass")
    return KdfParams(memory_kib=memory, passes=passes, lanes=KDF_LANES)


def _lockout() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "ECONTRACT_PIN_LOCKOUT_SECONDS", PIN_LOCKOUT_SECONDS)))


def _is_guessable(pin: str) -> bool:
    """The PINs tried first by anyone guessing: one digit repeated, straight runs (123456, 987654),
    and short patterns repeated (121212, 123123)."""
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)}
    if steps <= {0} or steps == {1} or steps == {-1}:
        return True
    return any(len(pin) % size == 0 and pin == pin[:size] * (len(pin) // size) for size in (2, 3))


def check_pin_strength(pin: str) -> None:
    if not isinstance(pin, str) or not PIN_PATTERN.fullmatch(pin):
        raise WeakPin("the PIN must be 6 to 12 digits")
    if _is_guessable(pin):
        raise WeakPin("this PIN is too easy to guess (repeated digits, a straight run or a repeated pattern)")


def pseudonym_for(user: Any) -> str:
    """A stable, opaque identifier for certificates: reveals neither the user id nor any ID number."""
    return "EC-" + hashlib.sha256(b"econtract/pseudonym/v1|" + str(user.pk).encode()).hexdigest()[:20].upper()


def _aad(user_id: object, public_key_der: bytes) -> bytes:
    return (
        b"econtract/signer-key/v1|" + str(user_id).encode() + b"|" + hashlib.sha256(public_key_der).digest()
    )


def _wrap_key(pin: str, salt: bytes, params: KdfParams, kek_bytes: bytes) -> bytes:
    stretched = hash_secret_raw(
        secret=pin.encode("ascii"),
        salt=salt,
        time_cost=params.passes,
        memory_cost=params.memory_kib,
        parallelism=params.lanes,
        hash_len=32,
        type=Type.ID,
    )
    pepper = hmac.new(kek_bytes, b"econtract/kek/pin-wrap/v1", hashlib.sha256).digest()
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=pepper, info=b"econtract/signer-key-wrap/v1")
    return hkdf.derive(stretched)


def wrap_private_key(
    private_key: PrivateKey, pin: str, *, user_id: object, salt: bytes, params: KdfParams, kek_bytes: bytes
) -> bytes:
    public_der = _public_der(private_key)
    header = bytes([WRAP_VERSION]) + kek.kek_id(kek_bytes)
    nonce = os.urandom(12)
    plaintext = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = _wrap_key(pin, salt, params, kek_bytes)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + _aad(user_id, public_der))


def unwrap_private_key(
    blob: bytes,
    pin: str,
    *,
    user_id: object,
    public_key_der: bytes,
    salt: bytes,
    params: KdfParams,
    kek_bytes: bytes,
) -> PrivateKey:
    """Raises InvalidTag for a wrong PIN (or wrong KEK), KekMismatch when the blob names another KEK."""
    blob = bytes(blob)
    if len(blob) < 1 + kek.KEK_ID_BYTES + 12 + 16 or blob[0] != WRAP_VERSION:
        raise SealError("unknown signer key wrapping version")
    header, nonce, ciphertext = blob[:9], blob[9:21], blob[21:]
    if not hmac.compare_digest(header[1:], kek.kek_id(kek_bytes)):
        raise KekMismatch("signer key was wrapped under another key-encryption key")
    key = _wrap_key(pin, salt, params, kek_bytes)
    der = AESGCM(key).decrypt(nonce, ciphertext, header + _aad(user_id, public_key_der))
    private_key = serialization.load_der_private_key(der, password=None)
    if not isinstance(private_key, PrivateKey) or _public_der(private_key) != public_key_der:
        raise SealError("unwrapped key does not match the stored public key")
    return private_key


def _public_der(private_key: PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _stored_params(key: SignerKey) -> KdfParams:
    return KdfParams(memory_kib=key.kdf_memory_kib, passes=key.kdf_passes, lanes=key.kdf_lanes)


def _begin_check(key_pk: int) -> tuple[SignerKey, int]:
    """Take one of the attempts left for a check about to run (committed now); refuse while locked.

    Returns the key and the id of its PinCheck.
    """
    with transaction.atomic(durable=True):
        key = SignerKey.objects.select_for_update(of=("self",)).select_related("certificate").get(pk=key_pk)
        now = timezone.now()
        if key.locked_until is not None and key.locked_until > now:
            raise PinLocked(key.locked_until)
        if key.locked_until is not None:  # the lock expired: a fresh allowance
            key.locked_until = None
            key.failed_pin_attempts = 0
            key.save(update_fields=["locked_until", "failed_pin_attempts", "updated_at"])
        if key.failed_pin_attempts >= MAX_PIN_ATTEMPTS:
            key.locked_until = now + _lockout()
            key.save(update_fields=["locked_until", "updated_at"])
            raise PinLocked(key.locked_until)
        PinCheck.objects.filter(signer_key=key, lease_expires_at__lte=now).delete()  # of dead requests
        in_flight = sorted(PinCheck.objects.filter(signer_key=key).values_list("lease_expires_at", flat=True))
        if key.failed_pin_attempts + len(in_flight) >= MAX_PIN_ATTEMPTS:
            raise PinBusy(retry_after=seconds_until(in_flight[0]))
        check = PinCheck.objects.create(
            signer_key=key, lease_expires_at=now + timedelta(seconds=PIN_CHECK_LEASE_SECONDS)
        )
        return key, check.pk


def _resolve_check(key_pk: int, check_pk: int) -> SignerKey:
    """Lock the key and end its check (inside the caller's durable transaction).

    A check whose lease lapsed meanwhile answers nothing (PinBusy) and counts nothing: its attempt may
    already have gone to another check, and telling right from wrong would be a guess beyond the limit.
    """
    key = SignerKey.objects.select_for_update().filter(pk=key_pk).first()
    if key is None:
        raise NoSigningKey("the signing key was reset meanwhile; set a signing PIN first")
    if not PinCheck.objects.filter(pk=check_pk, lease_expires_at__gt=timezone.now()).delete()[0]:
        raise PinBusy(retry_after=1)
    return key


def _found_wrong(key_pk: int, check_pk: int) -> WrongPin | PinLocked:
    """Count the wrong PIN (committed now); the last allowed one locks the key."""
    with transaction.atomic(durable=True):
        key = _resolve_check(key_pk, check_pk)
        key.failed_pin_attempts += 1
        if key.failed_pin_attempts >= MAX_PIN_ATTEMPTS:
            key.locked_until = timezone.now() + _lockout()
        key.save(update_fields=["failed_pin_attempts", "locked_until", "updated_at"])
    if key.locked_until is not None:
        return PinLocked(key.locked_until)
    return WrongPin(remaining_attempts=MAX_PIN_ATTEMPTS - key.failed_pin_attempts)


def _found_right(key_pk: int, check_pk: int) -> None:
    """The PIN was right: clear the count (committed now)."""
    with transaction.atomic(durable=True):
        key = _resolve_check(key_pk, check_pk)
        key.failed_pin_attempts, key.locked_until = 0, None
        key.save(update_fields=["failed_pin_attempts", "locked_until", "updated_at"])


def _abandon_check(check_pk: int) -> None:
    """Give back an attempt whose check failed for a reason other than the PIN (e.g. configuration)."""
    with transaction.atomic(durable=True):
        PinCheck.objects.filter(pk=check_pk).delete()


def _check_certificate(certificate: IssuedCertificate) -> None:
    if certificate.revoked_at is not None:
        raise CertificateRevoked("the signing certificate is revoked")
    if certificate.not_after <= timezone.now():
        raise CertificateExpired("the signing certificate has expired")


def _unwrap_counted(user: Any, pin: str) -> tuple[PrivateKey, SignerKey]:
    stored = SignerKey.objects.select_related("certificate").filter(user=user).first()
    if stored is None:
        raise NoSigningKey("set a signing PIN first")
    _check_certificate(stored.certificate)
    # Before the key is used: below today's minimum its certificate is revoked and the use refused;
    # a certificate naming an outdated identity is re-issued first.
    current = follow_identity(user, refuse_below_minimum=True)
    if current is not None and current.pk != stored.certificate.pk:
        stored = SignerKey.objects.select_related("certificate").get(pk=stored.pk)
    key, check = _begin_check(stored.pk)
    if not isinstance(pin, str) or not PIN_PATTERN.fullmatch(pin):
        raise _found_wrong(key.pk, check)  # cannot be right; judged wrong without running Argon2
    try:
        # Argon2 runs outside any transaction: no row lock is held for its ~100 ms.
        private_key = unwrap_private_key(
            key.wrapped_private_key,
            pin,
            user_id=user.pk,
            public_key_der=bytes(key.public_key_der),
            salt=bytes(key.salt),
            params=_stored_params(key),
            kek_bytes=kek.load_kek(),
        )
    except InvalidTag:
        raise _found_wrong(key.pk, check) from None
    except Exception:
        _abandon_check(check)
        raise
    _found_right(key.pk, check)
    return private_key, key


def unwrap_signing_key(user: Any, pin: str) -> tuple[PrivateKey, IssuedCertificate]:
    """The signer's private key (in memory only) and her certificate, if ``pin`` is right.

    Raises NoSigningKey, CertificateRevoked, CertificateExpired, PinLocked (``locked_until``) or
    WrongPin (``remaining_attempts``). Five wrong PINs in a row lock the key for PIN_LOCKOUT_SECONDS.
    Must be called outside ``transaction.atomic`` (enforced): the attempt counter commits on its own.
    """
    private_key, key = _unwrap_counted(user, pin)
    return private_key, key.certificate


def set_signing_pin(user: Any, pin: str, current_pin: str | None = None) -> SignerKey:
    """Create the signer's key and certificate under ``pin``, or re-wrap the key under a new PIN.

    Changing the PIN needs ``current_pin`` (a wrong one counts towards the lockout); the key and
    certificate stay the same, the salt is new. A key whose certificate was revoked or has expired is
    replaced by a fresh key and certificate instead (its PIN is not needed: that key is dead).
    Call outside ``transaction.atomic`` (enforced).
    """
    check_pin_strength(pin)
    params = kdf_params()
    kek_bytes = kek.load_kek()
    salt = os.urandom(SALT_BYTES)
    existing = SignerKey.objects.select_related("certificate").filter(user=user).first()
    if existing is None or _certificate_unusable(existing.certificate):
        if not getattr(user, "email_verified", False):
            raise IdentityNotVerified("verify your email before a signing certificate is issued")
        # AssuranceRequired below ECONTRACT_MIN_SIGNING_ASSURANCE: no certificate names an unverified person.
        subject = assurance.certificate_subject(user)
        return _create_signer_key(user, pin, params, kek_bytes, salt, replaces=existing, subject=subject)
    if current_pin is None:
        raise CurrentPinRequired("enter the current PIN to change it")
    private_key, key = _unwrap_counted(user, current_pin)
    blob = wrap_private_key(private_key, pin, user_id=user.pk, salt=salt, params=params, kek_bytes=kek_bytes)
    with transaction.atomic(durable=True):
        locked = SignerKey.objects.select_for_update().get(pk=key.pk)
        if bytes(locked.wrapped_private_key) != bytes(key.wrapped_private_key):
            raise CurrentPinRequired("the PIN was changed concurrently; try again")
        locked.wrapped_private_key = blob
        locked.salt = salt
        locked.kdf_memory_kib, locked.kdf_passes, locked.kdf_lanes = (
            params.memory_kib,
            params.passes,
            params.lanes,
        )
        locked.save()
    return locked


def _certificate_unusable(certificate: IssuedCertificate) -> bool:
    return certificate.revoked_at is not None or certificate.not_after <= timezone.now()


def _create_signer_key(
    user: Any,
    pin: str,
    params: KdfParams,
    kek_bytes: bytes,
    salt: bytes,
    *,
    replaces: SignerKey | None,
    subject: assurance.CertificateSubject,
) -> SignerKey:
    private_key = ec.generate_private_key(ec.SECP256R1())
    blob = wrap_private_key(private_key, pin, user_id=user.pk, salt=salt, params=params, kek_bytes=kek_bytes)
    try:
        with transaction.atomic(durable=True):
            if replaces is not None:
                # Only the key we judged unusable, and only if nobody replaced it meanwhile.
                deleted, _ = SignerKey.objects.filter(
                    pk=replaces.pk, certificate_id=replaces.certificate_id
                ).delete()
                if deleted == 0:
                    raise IntegrityError("signer key replaced concurrently")
            issued = _issue_for(user, private_key.public_key(), subject)
            return SignerKey.objects.create(
                user=user,
                public_key_der=_public_der(private_key),
                wrapped_private_key=blob,
                salt=salt,
                kdf_memory_kib=params.memory_kib,
                kdf_passes=params.passes,
                kdf_lanes=params.lanes,
                certificate=issued,
            )
    except IntegrityError as exc:  # another request created her key first
        raise CurrentPinRequired("a signing key already exists; enter its PIN to change it") from exc


def reset_signing_key(user: Any, reason: str = "superseded") -> None:
    """Forgotten PIN: revoke the certificate and discard the key, so a new PIN makes a new key.

    Only after the signer has re-established her identity (this bypasses the PIN).
    """
    with transaction.atomic():
        key = SignerKey.objects.select_for_update().select_related("certificate").filter(user=user).first()
        if key is None:
            return
        certificate = key.certificate
        key.delete()
        revoke_certificate(certificate, reason)


def _issue_for(
    user: Any, public_key: ec.EllipticCurvePublicKey, subject: assurance.CertificateSubject
) -> IssuedCertificate:
    return issue_signing_certificate(
        user,
        public_key,
        common_name=subject.common_name,
        pseudonym=pseudonym_for(user),
        assurance_level=str(subject.assurance_level),
        country=subject.country,
        email=subject.email,
    )


def _says(certificate: IssuedCertificate, subject: assurance.CertificateSubject) -> bool:
    """Whether the certificate states exactly this subject (name, country, address) and level."""
    loaded = x509.load_der_x509_certificate(bytes(certificate.certificate_der))

    def first(oid: x509.ObjectIdentifier) -> str:
        values = loaded.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else ""

    return (
        first(NameOID.COMMON_NAME) == subject.common_name
        and first(NameOID.COUNTRY_NAME) == subject.country
        and certificate.assurance_level == subject.assurance_level
    )


def follow_identity(user: Any, *, refuse_below_minimum: bool = False) -> IssuedCertificate | None:
    """Make the user's signing certificate say what her verified identity says, now.

    Below the platform minimum (a verification revoked, the setting raised) the certificate is revoked
    (``privilege_withdrawn``) and the key stays unusable until a new PIN makes a new one. When the
    verified name, country or level differs from the certificate (issued before verification, a name
    change, a stronger verification), the certificate is revoked (``superseded``) and a new one is
    issued for the same key: the public key is on file, so no PIN is needed and the signer's key is
    untouched. Returns the certificate now in force, or None; with ``refuse_below_minimum`` a revocation
    for too low a level raises its AssuranceRequired instead.
    """
    key = SignerKey.objects.select_related("certificate").filter(user=user).first()
    if key is None or _certificate_unusable(key.certificate):
        return None
    try:
        subject = assurance.certificate_subject(user)
    except AssuranceRequired:
        revoke_certificate(key.certificate, "privilege_withdrawn")
        if refuse_below_minimum:
            raise
        return None
    if _says(key.certificate, subject):
        return key.certificate
    public_key = serialization.load_der_public_key(bytes(key.public_key_der))
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise SealError("stored signer public key is not an EC key")
    with transaction.atomic():
        locked = SignerKey.objects.select_for_update().get(pk=key.pk)
        if locked.certificate_id != key.certificate_id:
            return locked.certificate  # re-issued meanwhile by a parallel call
        old = key.certificate
        issued = _issue_for(user, public_key, subject)
        locked.certificate = issued
        locked.save(update_fields=["certificate", "updated_at"])
        revoke_certificate(old, "superseded")
    return issued

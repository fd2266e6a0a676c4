from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import load_der_x509_certificate
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from econtract.pki import custody, kek
from econtract.pki.errors import (
    CertificateRevoked,
    CurrentPinRequired,
    KekMismatch,
    NoSigningKey,
    PinLocked,
    WeakPin,
    WrongPin,
)
from econtract.pki.models import SignerKey
from econtract.pki.services import revoke_certificate, set_signing_pin, unwrap_signing_key

PIN = "246810"


def signs_verifiably(private_key, issued) -> bool:
    message = "同意签署本合同".encode()
    signature = private_key.sign(message, ec.ECDSA(hashes.SHA256()))
    public_key = load_der_x509_certificate(issued.certificate.dump()).public_key()
    public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))  # raises if not
    return True


def test_kdf_defaults_are_rfc9106_second_recommendation():
    assert (
        custody.DEFAULT_KDF_MEMORY_KIB == 65536 and custody.DEFAULT_KDF_PASSES == 3 and custody.KDF_LANES == 4
    )
    assert django_settings.ECONTRACT_PIN_KDF_MEMORY_KIB == 65536
    assert django_settings.ECONTRACT_PIN_KDF_PASSES == 3


@pytest.mark.django_db
def test_set_pin_and_unwrap_with_the_real_kdf_defaults(user):
    key = set_signing_pin(user, PIN)
    assert (key.kdf_memory_kib, key.kdf_passes, key.kdf_lanes) == (65536, 3, 4)
    assert len(bytes(key.salt)) == 16

    started = time.perf_counter()
    private_key, issued = unwrap_signing_key(user, PIN)
    elapsed = time.perf_counter() - started

    assert issued == key.certificate and issued.user == user
    assert signs_verifiably(private_key, issued)
    assert elapsed > 0.02  # Argon2id at 64 MiB really ran
    subject = issued.certificate.subject.native
    assert subject["common_name"] == "张三"
    assert subject["pseudonym"] == custody.pseudonym_for(user) and subject["pseudonym"].startswith("EC-")
    assert str(user.pk).replace("-", "") not in subject["pseudonym"].lower()


@pytest.mark.django_db
def test_wrong_pins_count_down_then_lock_even_the_right_pin(user, fast_kdf):
    set_signing_pin(user, PIN)
    remaining = []
    for _ in range(4):
        with pytest.raises(WrongPin) as wrong:
            unwrap_signing_key(user, "000000")
        remaining.append(wrong.value.remaining_attempts)
    assert remaining == [4, 3, 2, 1]

    with pytest.raises(PinLocked) as locked:
        unwrap_signing_key(user, "000000")
    assert locked.value.locked_until > timezone.now() + timedelta(seconds=custody.PIN_LOCKOUT_SECONDS - 5)
    assert custody.PIN_LOCKOUT_SECONDS == 1800

    with pytest.raises(PinLocked):
        unwrap_signing_key(user, PIN)

    # once the lock has passed, the right PIN works and resets the count
    SignerKey.objects.filter(user=user).update(locked_until=timezone.now() - timedelta(seconds=1))
    unwrap_signing_key(user, PIN)
    key = SignerKey.objects.get(user=user)
    assert key.failed_pin_attempts == 0 and key.locked_until is None


@pytest.mark.django_db
def test_success_resets_the_counter(user, fast_kdf):
    set_signing_pin(user, PIN)
    for _ in range(3):
        with pytest.raises(WrongPin):
            unwrap_signing_key(user, "135799")
    unwrap_signing_key(user, PIN)
    with pytest.raises(WrongPin) as wrong:
        unwrap_signing_key(user, "135799")
    assert wrong.value.remaining_attempts == 4


@pytest.mark.django_db
def test_counting_refuses_to_run_inside_a_caller_transaction(user, fast_kdf):
    # An outer atomic block could roll the attempt counter back; durable=True makes that an error.
    # (pytest-django's own per-test transaction is exempt, as Django's TestCase arranges.)
    set_signing_pin(user, PIN)
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        unwrap_signing_key(user, "000000")
    assert SignerKey.objects.get(user=user).failed_pin_attempts == 0


@pytest.mark.django_db
def test_pin_change_rewraps_the_same_key_and_certificate(user, fast_kdf):
    first = set_signing_pin(user, PIN)
    old_blob, old_salt = bytes(first.wrapped_private_key), bytes(first.salt)

    with pytest.raises(CurrentPinRequired):
        set_signing_pin(user, "975310")
    with pytest.raises(WrongPin):
        set_signing_pin(user, "975310", current_pin="111111")
    changed = set_signing_pin(user, "975310", current_pin=PIN)

    assert changed.pk == first.pk and changed.certificate_id == first.certificate_id
    assert bytes(changed.public_key_der) == bytes(first.public_key_der)
    assert bytes(changed.salt) != old_salt and bytes(changed.wrapped_private_key) != old_blob
    assert changed.failed_pin_attempts == 0
    with pytest.raises(WrongPin):
        unwrap_signing_key(user, PIN)
    private_key, issued = unwrap_signing_key(user, "975310")
    assert issued.pk == first.certificate_id and signs_verifiably(private_key, issued)


@pytest.mark.parametrize("pin", ["12345", "1234567890123", "12345a", "１２３４５６", " 123456", "", "٠١٢٣٤٥"])
@pytest.mark.django_db
def test_weak_or_malformed_pins_are_refused(user, fast_kdf, pin):
    with pytest.raises(WeakPin):
        set_signing_pin(user, pin)
    assert not SignerKey.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_stored_blob_holds_no_plaintext_key(user, fast_kdf):
    key = set_signing_pin(user, PIN)
    private_key, _ = unwrap_signing_key(user, PIN)
    pkcs8 = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    scalar = private_key.private_numbers().private_value.to_bytes(32, "big")
    for field in (key.wrapped_private_key, key.public_key_der, key.salt):
        assert scalar not in bytes(field) and pkcs8 not in bytes(field)


@pytest.mark.django_db
def test_a_different_kek_cannot_unwrap(user, fast_kdf, settings, tmp_path):
    key = set_signing_pin(user, PIN)
    other = tmp_path / "other.kek"
    other.write_bytes(os.urandom(32))
    other.chmod(0o600)
    settings.ECONTRACT_KEK_FILE = str(other)

    with pytest.raises(KekMismatch):
        unwrap_signing_key(user, PIN)
    assert SignerKey.objects.get(user=user).failed_pin_attempts == 0  # not the signer's fault

    # Below the key-id check, the cipher itself refuses: the right PIN with another KEK fails.
    with pytest.raises(InvalidTag):
        blob = bytearray(bytes(key.wrapped_private_key))
        blob[1:9] = kek.kek_id(other.read_bytes())
        custody.unwrap_private_key(
            bytes(blob),
            PIN,
            user_id=user.pk,
            public_key_der=bytes(key.public_key_der),
            salt=bytes(key.salt),
            params=custody._stored_params(key),
            kek_bytes=other.read_bytes(),
        )


@pytest.mark.django_db
def test_a_blob_cannot_be_moved_to_another_user(user, other_user, fast_kdf):
    mine = set_signing_pin(user, PIN)
    theirs = set_signing_pin(other_user, "864200")
    SignerKey.objects.filter(pk=theirs.pk).update(
        wrapped_private_key=bytes(mine.wrapped_private_key),
        salt=bytes(mine.salt),
        public_key_der=bytes(mine.public_key_der),
    )
    with pytest.raises(WrongPin):
        unwrap_signing_key(other_user, PIN)


@pytest.mark.django_db
def test_revoked_certificate_refuses_to_unwrap(user, fast_kdf):
    key = set_signing_pin(user, PIN)
    revoke_certificate(key.certificate, "key_compromise")
    with pytest.raises(CertificateRevoked):
        unwrap_signing_key(user, PIN)


@pytest.mark.django_db
def test_no_key_yet(user):
    with pytest.raises(NoSigningKey):
        unwrap_signing_key(user, PIN)


@pytest.mark.django_db
def test_reset_revokes_and_lets_a_new_pin_make_a_new_key(user, fast_kdf):
    first = set_signing_pin(user, PIN)
    custody.reset_signing_key(user)
    first.certificate.refresh_from_db()
    assert first.certificate.revoked_at is not None
    second = set_signing_pin(user, "192837")
    assert second.certificate_id != first.certificate_id


@pytest.mark.django_db
def test_after_revocation_a_new_pin_makes_a_new_key_without_the_old_pin(user, fast_kdf):
    first = set_signing_pin(user, PIN)
    revoke_certificate(first.certificate, "key_compromise")
    second = set_signing_pin(user, "192837")
    assert second.certificate_id != first.certificate_id
    assert bytes(second.public_key_der) != bytes(first.public_key_der)
    private_key, issued = unwrap_signing_key(user, "192837")
    assert signs_verifiably(private_key, issued)


@pytest.mark.parametrize("pin", ["111111", "123456", "987654", "012345", "121212", "123123", "000000000"])
def test_guessable_pins_are_refused(pin):
    from econtract.pki.custody import check_pin_strength

    with pytest.raises(WeakPin):
        check_pin_strength(pin)


@pytest.mark.parametrize("pin", ["246810", "135790", "582914", "975310"])
def test_ordinary_pins_pass(pin):
    from econtract.pki.custody import check_pin_strength

    check_pin_strength(pin)

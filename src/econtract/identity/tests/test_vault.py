from __future__ import annotations

import pytest

from econtract.identity import vault

KEY_A = "aa" * 32
KEY_B = "bb" * 32


def test_sealed_text_opens_only_for_its_purpose(settings):
    blob = vault.seal_text("110105199003070025", purpose="identity.id_number")
    assert b"110105199003070025" not in blob
    assert vault.unseal_text(blob, purpose="identity.id_number") == "110105199003070025"
    with pytest.raises(vault.VaultError):
        vault.unseal_text(blob, purpose="identity.phone")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(vault.VaultError):
        vault.unseal_text(tampered, purpose="identity.id_number")


def test_rotation_keeps_old_values_readable_until_resealed(settings):
    settings.ECONTRACT_PERSONAL_DATA_KEYS = KEY_A
    old = vault.seal_text("6222020200000000014", purpose="identity.bank_card")
    settings.ECONTRACT_PERSONAL_DATA_KEYS = f"{KEY_B},{KEY_A}"
    assert vault.unseal_text(old, purpose="identity.bank_card") == "6222020200000000014"
    new = vault.reseal(old, purpose="identity.bank_card")
    assert new is not None and vault.key_id_of(new) == vault.current_key_id()
    assert vault.reseal(new, purpose="identity.bank_card") is None  # idempotent
    settings.ECONTRACT_PERSONAL_DATA_KEYS = KEY_B
    assert vault.unseal_text(new, purpose="identity.bank_card") == "6222020200000000014"
    with pytest.raises(vault.VaultError, match="no longer holds"):
        vault.unseal_text(old, purpose="identity.bank_card")


def test_the_digest_does_not_change_with_rotation(settings):
    settings.ECONTRACT_PERSONAL_DATA_KEYS = KEY_A
    first = vault.digest_id_number("cn_resident", "11010519491231002X")
    settings.ECONTRACT_PERSONAL_DATA_KEYS = KEY_B
    assert vault.digest_id_number("cn_resident", "11010519491231002X") == first
    assert vault.digest_id_number("passport", "11010519491231002X") != first


def test_a_malformed_key_is_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.ECONTRACT_PERSONAL_DATA_KEYS = "short"
    with pytest.raises(ImproperlyConfigured):
        vault.seal_text("x", purpose="p")

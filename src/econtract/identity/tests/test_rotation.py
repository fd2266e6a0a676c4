"""Vault key rotation: data sealed under key A, the ring set to "B,A", `identity rotate-keys`, then
the ring "B" alone still opens everything; before the rotation "B" alone fails, and says why."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import models

from econtract.identity import factors, vault
from econtract.identity.images import clean_image
from econtract.identity.models import IdentityVerification
from econtract.identity.review import IMAGE_PURPOSE, store_image
from econtract.identity.rotation import SEALED_COLUMNS, rotate_keys
from econtract.identity.tests import pictures
from econtract.identity.tests.factories import verify_identity

KEY_A = os.urandom(32).hex()
KEY_B = os.urandom(32).hex()
NUMBER = "11010519491231002X"


@pytest.fixture
def sealed_under_a(settings: Any, make_user: Any) -> dict[str, Any]:
    settings.ECONTRACT_PERSONAL_DATA_KEYS = KEY_A
    person = verify_identity(
        make_user("zhang@example.test", "张三 Zhang San", identity=None), id_number=NUMBER
    )
    row = IdentityVerification.objects.get(user=person)
    image = store_image(row, "front", clean_image(pictures.jpeg()))
    factors.begin_totp_enrolment(person)
    others = [make_user(f"p{n}@example.test", f"用户{n}") for n in range(4)]
    return {"person": person, "row": row, "image": image, "people": [person, *others]}


def numbers() -> list[str]:
    return [
        vault.unseal_text(bytes(row.id_number_sealed), purpose="identity.id_number")
        for row in IdentityVerification.objects.order_by("created_at")
    ]


def test_rotation_moves_everything_to_the_new_key(settings: Any, sealed_under_a: dict[str, Any]) -> None:
    image = sealed_under_a["image"]
    settings.ECONTRACT_PERSONAL_DATA_KEYS = KEY_B
    with pytest.raises(vault.VaultError, match="no longer holds"):
        numbers()

    settings.ECONTRACT_PERSONAL_DATA_KEYS = f"{KEY_B},{KEY_A}"
    assert numbers()[0] == NUMBER  # the old key still opens before the rotation
    out = io.StringIO()
    call_command("identity", "rotate-keys", "--batch-size", "2", stdout=out)
    report = out.getvalue()
    assert "identity.IdentityVerification.id_number_sealed: 5 re-sealed of 5" in report
    assert "identity.IdentityDocumentImage.sealed: 1 re-sealed of 1" in report
    assert "identity.TotpDevice.secret_sealed: 1 re-sealed of 1" in report
    assert f"7 value(s) re-sealed of 7, all under key {vault.current_key_id().hex()}" in report

    again = rotate_keys()  # idempotent: nothing left to do
    assert (again.resealed, again.examined) == (0, 7)

    settings.ECONTRACT_PERSONAL_DATA_KEYS = KEY_B
    opened = numbers()  # every one opens under the new key alone (one document, one account: 5 numbers)
    assert opened[0] == NUMBER and len(set(opened)) == 5
    image.refresh_from_db()
    assert vault.unseal_bytes(bytes(image.sealed), purpose=IMAGE_PURPOSE).startswith(b"\xff\xd8")
    device = sealed_under_a["person"].totp_devices.get()
    assert len(vault.unseal_text(bytes(device.secret_sealed), purpose=factors.TOTP_PURPOSE)) == 32
    for row in IdentityVerification.objects.all():
        assert vault.key_id_of(bytes(row.id_number_sealed)) == vault.current_key_id()


def test_rotation_without_the_old_key_stops_and_names_the_row(
    settings: Any, sealed_under_a: dict[str, Any]
) -> None:
    settings.ECONTRACT_PERSONAL_DATA_KEYS = KEY_B
    with pytest.raises(CommandError, match="cannot be opened.*add its key back"):
        call_command("identity", "rotate-keys", stdout=io.StringIO())
    settings.ECONTRACT_PERSONAL_DATA_KEYS = KEY_A
    assert numbers()[0] == NUMBER  # nothing was damaged


def test_every_sealed_column_is_rotated() -> None:
    """Any model field named *_sealed / sealed holds vault output: it must be listed for rotation."""
    listed = {(column.model, column.field) for column in SEALED_COLUMNS}
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, models.BinaryField) and (
                field.name == "sealed" or field.name.endswith("_sealed")
            ):
                assert (model._meta.label, field.name) in listed, (
                    f"{model._meta.label}.{field.name} is not rotated"
                )

"""Re-seal every sealed personal-data column under the current key of ECONTRACT_PERSONAL_DATA_KEYS.

Procedure (docs/operations.md, "Rotating the personal-data key"): put the new key first and keep the
old ones after it, run ``econtract identity rotate-keys``, then drop the old keys. The rotation walks
each column in primary-key batches, each batch in its own transaction with its rows locked, and
re-seals only the values not yet under the current key (``vault.reseal``): it is idempotent, and an
interrupted run is finished by running it again. A value whose key is no longer in the ring stops the
run (KeyRotationFailed) with the row named, rather than leaving it unreadable for ever.

``SEALED_COLUMNS`` lists every model field that holds a ``vault.seal_text``/``seal_bytes`` value
with its purpose (the associated data it was sealed with). A new sealed field is added here; the
test ``test_every_sealed_column_is_rotated`` fails when one is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.apps import apps
from django.db import transaction

from econtract.identity import vault
from econtract.identity.errors import KeyRotationFailed

BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class SealedColumn:
    model: str  # "app_label.ModelName"
    field: str
    purpose: str

    @property
    def label(self) -> str:
        return f"{self.model}.{self.field}"


SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn("identity.IdentityVerification", "id_number_sealed", "identity.id_number"),
    SealedColumn("identity.IdentityVerification", "phone_sealed", "identity.phone"),
    SealedColumn("identity.IdentityVerification", "bank_card_sealed", "identity.bank_card"),
    SealedColumn("identity.IdentityDocumentImage", "sealed", "identity.image"),
    SealedColumn("identity.TotpDevice", "secret_sealed", "identity.totp"),
    SealedColumn("accounts.Organization", "legal_rep_id_number_sealed", "accounts.legal_rep_id_number"),
    SealedColumn("accounts.OrganizationVerification", "amount_sealed", "accounts.transfer_amount"),
    SealedColumn("accounts.OrganizationVerification", "code_sealed", "accounts.transfer_code"),
    SealedColumn("accounts.OrganizationVerification", "licence_sealed", "accounts.business_licence"),
)


@dataclass(slots=True)
class ColumnReport:
    column: str
    examined: int = 0  # rows with a sealed value
    resealed: int = 0  # of them, sealed under an older key before this run


@dataclass(slots=True)
class RotationReport:
    key_id: str
    columns: list[ColumnReport] = field(default_factory=list)

    @property
    def resealed(self) -> int:
        return sum(column.resealed for column in self.columns)

    @property
    def examined(self) -> int:
        return sum(column.examined for column in self.columns)


def installed_columns() -> Iterator[SealedColumn]:
    """The listed columns whose model exists in this installation."""
    for column in SEALED_COLUMNS:
        app_label, model_name = column.model.split(".")
        try:
            apps.get_model(app_label, model_name)
        except LookupError:
            continue
        yield column


def rotate_column(column: SealedColumn, *, batch_size: int = BATCH_SIZE) -> ColumnReport:
    app_label, model_name = column.model.split(".")
    model = apps.get_model(app_label, model_name)
    report = ColumnReport(column.label)
    last_pk = None
    while True:
        with transaction.atomic():
            query = model._default_manager.exclude(**{f"{column.field}__isnull": True}).order_by("pk")
            if last_pk is not None:
                query = query.filter(pk__gt=last_pk)
            rows = list(query.select_for_update().only("pk", column.field)[:batch_size])
            if not rows:
                return report
            for row in rows:
                blob = getattr(row, column.field)
                if not blob:
                    continue
                report.examined += 1
                try:
                    fresh = vault.reseal(bytes(blob), purpose=column.purpose)
                except vault.VaultError as exc:
                    raise KeyRotationFailed(
                        f"{column.label} of row {row.pk} cannot be opened ({exc}); add its key back to "
                        "ECONTRACT_PERSONAL_DATA_KEYS (after the new one) and run again"
                    ) from exc
                if fresh is not None:
                    model._default_manager.filter(pk=row.pk).update(**{column.field: fresh})
                    report.resealed += 1
            last_pk = rows[-1].pk


def rotate_keys(
    *, batch_size: int = BATCH_SIZE, progress: Callable[[ColumnReport], None] | None = None
) -> RotationReport:
    """Re-seal every sealed column under the current key; returns the counts per column."""
    report = RotationReport(key_id=vault.current_key_id().hex())
    for column in installed_columns():
        done = rotate_column(column, batch_size=batch_size)
        report.columns.append(done)
        if progress is not None:
            progress(done)
    return report

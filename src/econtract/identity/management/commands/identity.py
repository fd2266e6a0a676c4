"""`econtract identity rotate-keys`: re-seal personal data under the current key (identity.rotation)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from econtract.identity.errors import KeyRotationFailed
from econtract.identity.rotation import BATCH_SIZE, ColumnReport, rotate_keys


class Command(BaseCommand):
    help = "Identity data maintenance: `identity rotate-keys [--batch-size N]`."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("action", choices=["rotate-keys"])
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")

        def progress(column: ColumnReport) -> None:
            self.stdout.write(f"{column.column}: {column.resealed} re-sealed of {column.examined}")

        try:
            report = rotate_keys(batch_size=options["batch_size"], progress=progress)
        except KeyRotationFailed as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"rotation done: {report.resealed} value(s) re-sealed of {report.examined}, "
            f"all under key {report.key_id}"
        )

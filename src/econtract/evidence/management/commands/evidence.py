"""econtract evidence audit | checkpoint."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from econtract.evidence import log, witnessing
from econtract.evidence.audit import audit


class Command(BaseCommand):
    help = "Audit the evidence log (exit 1 naming the first broken item) or make a checkpoint now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["audit", "checkpoint"])

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "checkpoint":
            checkpoint = log.make_checkpoint()
            witnessing.push_checkpoint(checkpoint)
            self.stdout.write(witnessing.cosigned_note(checkpoint), ending="")
            return
        result = audit()
        summary = ", ".join(f"{count} {name}" for name, count in result.checked.items())
        if result.ok:
            self.stdout.write(f"evidence audit: all hold ({summary})")
            return
        self.stderr.write(f"evidence audit FAILED: {result.problem}")
        if summary:
            self.stderr.write(f"checked before the failure: {summary}")
        raise SystemExit(1)

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from econtract.pki.models import IssuedCertificate
from econtract.pki.services import REVOCATION_REASONS, revoke_certificate


def parse_serial(text: str) -> int:
    """Decimal, 0x-prefixed hex, or colon-separated hex as openssl prints it."""
    cleaned = text.strip().lower()
    try:
        if cleaned.startswith("0x"):
            return int(cleaned[2:], 16)
        if ":" in cleaned:
            return int(cleaned.replace(":", ""), 16)
        return int(cleaned, 10)
    except ValueError as exc:
        raise CommandError(f"not a serial number: {text!r}") from exc


class Command(BaseCommand):
    help = "Revoke an issued certificate by serial number (decimal, 0x-hex, or aa:bb:.. hex)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("serial")
        parser.add_argument("--reason", default="key_compromise", choices=sorted(REVOCATION_REASONS))

    def handle(self, *args: Any, **options: Any) -> None:
        serial = parse_serial(options["serial"])
        issued = IssuedCertificate.objects.filter(serial_number=str(serial)).first()
        if issued is None:
            raise CommandError(f"no issued certificate with serial {serial}")
        if issued.revoked_at is not None:
            self.stdout.write(
                f"Already revoked at {issued.revoked_at.isoformat()} ({issued.revocation_reason})."
            )
            return
        revoke_certificate(issued, options["reason"])
        self.stdout.write(f"Revoked {issued.subject_dn} (serial {serial}) for {options['reason']}.")

"""econtract evidence audit | checkpoint | erase --email EMAIL --confirm."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from econtract.evidence import log, witnessing
from econtract.evidence.audit import audit


class Command(BaseCommand):
    help = "Audit the evidence log (exit 1 naming the first broken item) or make a checkpoint now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["audit", "checkpoint", "erase"])
        parser.add_argument("--email", help="erase: the person whose data leaves the evidence events (PIPL)")
        parser.add_argument("--confirm", action="store_true", help="erase: yes, erase (it cannot be undone)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "erase":
            self._erase(options["email"], confirmed=options["confirm"])
            return
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

    def _erase(self, email: str | None, *, confirmed: bool) -> None:
        from econtract.accounts.models import User
        from econtract.evidence.erasure import erase_personal_data
        from econtract.evidence.services import RequestContext

        if not email:
            raise CommandError("erase needs --email")
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"no account with the email {email}")
        if not confirmed:
            raise CommandError(
                "erasing cannot be undone; check the retention duties that apply, then add --confirm"
            )
        result = erase_personal_data(user, RequestContext.system("pipl-erasure"))
        self.stdout.write(
            f"erased the personal data of {result.events} evidence events ({result.salts} salts); "
            "every proof and checkpoint still verifies"
        )

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from econtract.contracts import lifecycle


class Command(BaseCommand):
    help = (
        "Bring contract statuses up to today and send expiry reminders once per expiry date "
        "(safe to run periodically and in parallel; serve runs it hourly)."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--today", help="act as if today were this date (YYYY-MM-DD)")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        today = None
        if options["today"]:
            try:
                today = date.fromisoformat(options["today"])
            except ValueError:
                raise CommandError("--today takes a date as YYYY-MM-DD") from None
        result = lifecycle.tick(today=today)
        self.stdout.write(
            f"{result.today.isoformat()}: {result.status_changes} status changes, "
            f"{result.reminders} contracts reminded ({result.emails} emails, {result.notices} notices)"
        )

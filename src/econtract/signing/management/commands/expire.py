from django.core.management.base import BaseCommand

from econtract.signing.services import expire_overdue


class Command(BaseCommand):
    help = "Mark sent envelopes whose deadline has passed as expired and notify their parties."

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        count = expire_overdue()
        self.stdout.write(f"expired {count} envelope(s)")

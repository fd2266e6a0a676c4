from django.core.management.base import BaseCommand

from econtract.notifications import sms
from econtract.notifications.delivery import deliver_due


class Command(BaseCommand):
    help = "Attempt every queued or retrying email and SMS that is due (safe to run periodically and in parallel)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--limit", type=int, default=500, help="at most this many messages per run")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        run = deliver_due(limit=options["limit"])
        self.stdout.write(f"sent {run.sent}, retrying {run.retrying}, failed {run.failed}")
        sms_run = sms.deliver_due(limit=options["limit"])
        self.stdout.write(f"sms: sent {sms_run.sent}, retrying {sms_run.retrying}, failed {sms_run.failed}")

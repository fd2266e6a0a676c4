from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from econtract.signing.services.storage import UNKNOWN_ENVELOPE_GRACE, sweep_revision_files


class Command(BaseCommand):
    help = (
        "Check stored revision files against their rows: remove files that a crash left without a row "
        "(orphans), report rows whose file is missing or damaged. Exit 1 if rows are not intact, or "
        "if orphans remain with --dry-run."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--dry-run", action="store_true", help="list orphans, remove nothing")
        parser.add_argument("--digests", action="store_true", help="also re-hash every file (slow)")
        parser.add_argument(
            "--grace",
            type=int,
            default=int(UNKNOWN_ENVELOPE_GRACE.total_seconds()),
            help="seconds before a file under no envelope counts as an orphan (PostgreSQL; default %(default)s)",
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        report = sweep_revision_files(
            remove=not options["dry_run"],
            check_digests=options["digests"],
            grace=timedelta(seconds=options["grace"]),
        )
        for line in report.lines():
            self.stdout.write(line)
        if not report.rows_intact:
            raise CommandError("revision rows without an intact file: restore them from backup", returncode=1)
        if report.orphans and not report.removed:
            raise CommandError("orphans found (dry run): run econtract fsck to remove them", returncode=1)

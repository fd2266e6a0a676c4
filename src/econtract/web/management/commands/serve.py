import logging

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from econtract.contracts.runner import ContractsTickRunner
from econtract.evidence.runner import CheckpointRunner
from econtract.notifications.delivery import DeliveryRunner
from econtract.pki.kek import warn_if_embedded
from econtract.pki.services import ensure_platform_pki, root_certificate
from econtract.signing.services.storage import sweep_revision_files


class Command(BaseCommand):
    help = "Migrate, initialise the CA and TSA on first start, and serve the platform (waitress, threaded)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--init-only", action="store_true", help="migrate and initialise, then exit")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        call_command("migrate", interactive=False, verbosity=0)
        warn_if_embedded()
        ensure_platform_pki()
        # Files a crash left without their revision row (kill -9 mid-signing) go before serving.
        report = sweep_revision_files()
        for line in report.lines():
            (self.stdout if report.rows_intact else self.stderr).write(line)
        root = root_certificate()
        self.stdout.write(f"data directory: {settings.DATA_DIR}")
        self.stdout.write(f"root CA SHA-256 fingerprint: {root.sha256.hex(':').upper() if root else '?'}")
        if options["init_only"]:
            return
        from waitress import serve

        from econtract.wsgi import application

        url = f"http://{options['host']}:{options['port']}"
        if url.rstrip("/") != settings.BASE_URL:
            self.stderr.write(
                f"warning: ECONTRACT_BASE_URL is {settings.BASE_URL} but the server listens on {url}; "
                "certificates carry OCSP/CRL addresses under ECONTRACT_BASE_URL."
            )
        self.stdout.write(
            f"econtract is running at {settings.BASE_URL}/  (API docs: {settings.BASE_URL}/api/docs)"
        )
        self.stdout.flush()
        logging.getLogger("waitress").setLevel(logging.WARNING)
        if settings.ECONTRACT_MAIL_POLL_SECONDS > 0:
            # Retries of mail the SMTP server refused for now; `econtract deliver` does the same from cron.
            DeliveryRunner(settings.ECONTRACT_MAIL_POLL_SECONDS).start()
        # Checkpoints after batched completions (within seconds) and at least every CHECKPOINT_SECONDS.
        CheckpointRunner(min(5, settings.ECONTRACT_CHECKPOINT_SECONDS)).start()
        # Contract statuses and expiry reminders; 0 turns it off (then run `econtract manage contracts_tick`).
        tick_seconds = getattr(settings, "ECONTRACT_CONTRACTS_TICK_SECONDS", 3600)
        if tick_seconds > 0:
            ContractsTickRunner(tick_seconds).start()
        serve(
            application,
            host=options["host"],
            port=options["port"],
            threads=options["threads"],
            ident="econtract",
        )

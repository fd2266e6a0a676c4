"""`econtract sandbox idp --port N`: the sandbox identity provider served alone, on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from econtract.identity.providers.sandbox import DEFAULT_IDENTITIES, load_identities, wsgi_app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # the request line carries no identity, but keep the console for the startup line


class Command(BaseCommand):
    help = "Serve a sandbox (test identities only) over HTTP: `sandbox idp --port N`."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("service", choices=["idp"])
        parser.add_argument("--port", type=int, default=8090)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--identities", type=Path, default=DEFAULT_IDENTITIES, help="JSON file of test identities"
        )
        parser.add_argument(
            "--key", default="", help="bearer key to require (default: ECONTRACT_IDP_SANDBOX_KEY)"
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        key = options["key"] or settings.ECONTRACT_IDP_SANDBOX_KEY
        if not key:
            raise CommandError("no key: pass --key (ECONTRACT_IDP_SANDBOX is off, so none was generated)")
        app = wsgi_app(key, load_identities(options["identities"]))
        with make_server(options["host"], options["port"], app, handler_class=_QuietHandler) as server:
            host, port = server.server_address[:2]
            self.stdout.write(
                f"sandbox identity provider (test identities only) on http://{host}:{port}/", ending="\n"
            )
            self.stdout.flush()
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass

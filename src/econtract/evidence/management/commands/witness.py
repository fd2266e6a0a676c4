"""econtract witness serve | vkey: run a c2sp.org/tlog-witness witness (no database) or print its key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from econtract.evidence.witness_server import Witness, WitnessHTTPServer


class Command(BaseCommand):
    help = "Run a transparency log witness (state in a directory, no database) or print its verifier key."
    requires_system_checks: list[str] = []  # the witness needs no database or platform settings

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        serve = actions.add_parser("serve", help="serve POST /add-checkpoint")
        vkey = actions.add_parser("vkey", help="print the witness's verifier key (type 0x04)")
        for sub in (serve, vkey):
            sub.add_argument("--state", required=True, help="directory of the witness's key and state")
            sub.add_argument("--name", default=None, help="the witness key's name (fixed at first start)")
        serve.add_argument("--log", action="append", default=[], help="verifier key of a log to witness")
        serve.add_argument("--host", default="127.0.0.1")
        serve.add_argument("--port", type=int, default=8079)

    def handle(self, *args: Any, **options: Any) -> None:
        witness = Witness(options["state"], options.get("log") or [], options.get("name"))
        if options["action"] == "vkey":
            self.stdout.write(witness.verifier_key())
            return
        if not witness.logs:
            self.stderr.write("no log to witness: pass --log VKEY (it is remembered in the state directory)")
            raise SystemExit(2)
        server = WitnessHTTPServer(witness, options["host"], options["port"])
        self.stdout.write(f"witness key: {witness.verifier_key()}")
        for verifier in witness.logs.values():
            self.stdout.write(f"witnessing: {verifier.name}")
        self.stdout.write(f"listening on {server.url}/add-checkpoint")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

"""The `econtract` console script: serve, demo, verify, expire, apikey, plus any Django command."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

USAGE = """usage: econtract COMMAND [ARGS]

  serve [--host H] [--port P]   migrate, initialise the CA/TSA on first start, and serve
  demo                          create the demo organisation, users, API key and a signed sample
  verify FILE.pdf [--json] [--trust-root PEM]...
                                check every signature offline (exit 0 valid, 1 not, 2 unreadable)
  expire                        close envelopes whose deadline passed (run periodically)
  fsck [--dry-run] [--digests]  remove revision files a crash left without a row; report rows
                                whose file is missing or damaged (exit 1); serve runs it at start
  deliver                       retry emails that are due (run periodically when serve's runner is off)
  sandbox idp [--port N]        serve the sandbox identity provider (test identities only) on 127.0.0.1
  identity rotate-keys          re-seal personal data under the first key of ECONTRACT_PERSONAL_DATA_KEYS
  evidence audit                recompute the event chains, log leaves, tree and checkpoints; exit 1 at the first break
  evidence checkpoint           sign and timestamp the current tree head now
  witness serve --state DIR --log VKEY [--port N]
                                run a c2sp.org/tlog-witness witness (own key and state, no database)
  witness vkey --state DIR      print the witness's verifier key
  apikey create EMAIL           create an API key; the key alone is printed on the last line
  init                          migrate and initialise the PKI without serving
  manage ARGS...                any Django management command
"""


def _isolate_offline_verify() -> None:
    """`econtract verify` must work on a machine with no platform: don't create ./var for it."""
    data_dir = Path(os.environ.get("ECONTRACT_DATA_DIR") or "./var")
    if not (data_dir / "econtract.sqlite3").exists() and not os.environ.get("ECONTRACT_DATABASE_URL"):
        scratch = tempfile.mkdtemp(prefix="econtract-verify-")
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        os.environ["ECONTRACT_DATA_DIR"] = scratch
        os.environ.setdefault("ECONTRACT_SECRET_KEY", secrets.token_urlsafe(32))


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(USAGE)
        raise SystemExit(0 if args else 2)
    command, rest = args[0], args[1:]
    if command == "verify":
        _isolate_offline_verify()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "econtract.settings")
    from django.core.management import execute_from_command_line

    if command == "manage":
        execute_from_command_line(["econtract", *rest])
        return
    if command == "init":
        execute_from_command_line(["econtract", "serve", "--init-only"])
        return
    known = {
        "serve",
        "demo",
        "verify",
        "expire",
        "deliver",
        "apikey",
        "fsck",
        "sandbox",
        "identity",
        "evidence",
        "witness",
    }
    if command not in known:
        print(f"econtract: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        raise SystemExit(2)
    execute_from_command_line(["econtract", command, *rest])


if __name__ == "__main__":
    main()

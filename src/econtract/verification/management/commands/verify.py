"""``econtract verify FILE``: check a signed PDF or an evidence package offline; the exit code says it.

Exit codes: 0 every signature (every check of a package) is valid; 1 the document is not valid (altered,
untrusted, revoked, unsigned; a package check failed); 2 the input cannot be judged (missing or
unreadable file, bad trust root or key, usage error). A file starting with a zip header is an evidence
package (verification/package_cli.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from asn1crypto import pem, x509
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from econtract.verification.errors import UnreadablePdf
from econtract.verification.isolation import verify_pdf_isolated
from econtract.verification.online import check_online
from econtract.verification.package_cli import (
    is_package,
    platform_log_key,
    read_key,
    verify_package_file,
)
from econtract.verification.services import (
    DocumentTimestampReport,
    SignatureReport,
    VerificationReport,
)

EXIT_NOT_VALID = 1
REVOCATION_SOURCES = {
    "embedded": "judged from data embedded at signing (use --online to ask the OCSP responders too)",
    "online": "judged from data embedded at signing and from the OCSP responders, asked now",
}
EXIT_UNUSABLE_INPUT = 2

# pyHanko logs every failed path build or suspicious revision with a traceback; the report
# already says it in one line, so a script's stderr stays quiet unless asked (-v 2).
_CHATTY_LOGGERS = ("pyhanko", "pyhanko_certvalidator", "econtract.verification.services")


class Command(BaseCommand):
    help = (
        "Verify the signatures and document timestamps of a PDF, offline. "
        "Exit code 0: valid; 1: not valid; 2: the input cannot be judged."
    )
    # Works on a machine with no database and no configured platform.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        argparse_error = parser.error

        def usage_error(message: str) -> NoReturn:
            if parser.called_from_command_line:
                argparse_error(message)  # usage on stderr, exit status 2
            # Django raises CommandError (exit status 1) when called programmatically; scripts need 2.
            raise CommandError(f"Error: {message}", returncode=EXIT_UNUSABLE_INPUT)

        setattr(parser, "error", usage_error)  # noqa: B010
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the signed PDF, or an evidence package (.zip)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument(
            "--trust-root",
            action="append",
            default=[],
            metavar="PEM",
            help="a trusted root certificate (PEM, possibly several certificates, or DER); repeatable",
        )
        parser.add_argument(
            "--no-platform-root",
            action="store_true",
            help="do not trust this installation's own root CA (nor, for a package, its log key), only "
            "the --trust-root files (and --log-key keys)",
        )
        parser.add_argument(
            "--log-key",
            action="append",
            default=[],
            metavar="VKEY",
            help="evidence package: the log's verifier key (the text, or a file holding it); repeatable",
        )
        parser.add_argument(
            "--witness-key",
            action="append",
            default=[],
            metavar="VKEY",
            help="evidence package: a witness whose cosignature is required (text or file); repeatable",
        )
        parser.add_argument(
            "--online",
            action="store_true",
            help="also ask each certificate's OCSP responder now (offline, revocation is judged from "
            "the data embedded at signing)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_json: bool = options["json"]
        verbose = options["verbosity"] >= 2
        trust_roots = [cert for path in options["trust_root"] for cert in load_certificates(path)]
        if not options["no_platform_root"]:
            root = platform_root(verbose=verbose, stderr=self.stderr)
            if root is not None:
                trust_roots.append(root)

        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            self._unusable(f"cannot read {path}: {exc.strerror or exc}", as_json)

        if is_package(data):
            log_keys = [read_key(value) for value in options["log_key"]]
            if not log_keys and not options["no_platform_root"]:
                own = platform_log_key(
                    database_present=_database_present(), verbose=verbose, stderr=self.stderr
                )
                log_keys = [own] if own else []
            with _quiet_libraries(enabled=not verbose):
                verify_package_file(
                    path,
                    data,
                    trust_roots=trust_roots,
                    log_keys=log_keys,
                    witness_keys=[read_key(value) for value in options["witness_key"]],
                    as_json=as_json,
                    write=self.stdout.write,
                )
            return

        # The file may be hostile (the other party's, an attacker's): parse it in a bounded child.
        with _quiet_libraries(enabled=not verbose):
            try:
                report = verify_pdf_isolated(data, trust_roots=trust_roots, verbose=verbose)
            except UnreadablePdf as exc:
                self._unusable(f"{path}: {exc}", as_json)
        if options["online"]:
            # Only certificates on paths the child validated are asked about, at URLs their CA wrote.
            check_online(report)

        if as_json:
            self.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        else:
            self.stdout.write(render_text(path, report, trust_root_count=len(trust_roots)))
        if not report.valid:
            raise CommandError("the document is not valid", returncode=EXIT_NOT_VALID)

    def _unusable(self, message: str, as_json: bool) -> NoReturn:
        if as_json:
            body: dict[str, Any] = {
                "valid": False,
                "mode": None,
                "signatures": [],
                "document_timestamps": [],
                "error": message,
            }
            self.stdout.write(json.dumps(body, ensure_ascii=False, indent=2))
        raise CommandError(message, returncode=EXIT_UNUSABLE_INPUT)


def load_certificates(path: str) -> list[x509.Certificate]:
    """Every certificate in a PEM file (several allowed) or the one in a DER file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(
            f"cannot read trust root {path}: {exc.strerror or exc}", returncode=EXIT_UNUSABLE_INPUT
        ) from exc
    try:
        if pem.detect(data):
            certs = [
                x509.Certificate.load(der)
                for kind, _headers, der in pem.unarmor(data, multiple=True)
                if kind in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")
            ]
        else:
            certs = [x509.Certificate.load(data)]
        for cert in certs:
            _ = cert.native  # parse fully now: a broken file must fail here, not mid-validation
    except Exception as exc:
        raise CommandError(
            f"trust root {path} is not a certificate: {exc}", returncode=EXIT_UNUSABLE_INPUT
        ) from exc
    if not certs:
        raise CommandError(f"trust root {path} holds no certificate", returncode=EXIT_UNUSABLE_INPUT)
    return certs


def platform_root(*, verbose: bool = False, stderr: Any = None) -> x509.Certificate | None:
    """This installation's root CA, when the platform PKI is set up; ``None`` otherwise.

    The verifier must work on a machine that only has the package (a judge's laptop): no pki app
    yet, no database, an unmigrated one. Any failure here only means "no platform root"; that can
    only make a signature read untrusted, never valid.
    """
    if not _database_present():
        return None
    try:
        from econtract.pki.services import root_certificate
    except ImportError:
        return None
    try:
        cert = root_certificate()
    except Exception as exc:
        if verbose and stderr is not None:
            stderr.write(
                f"platform root not available ({type(exc).__name__}: {exc}); using --trust-root only"
            )
        return None
    if cert is not None and not isinstance(cert, x509.Certificate) and hasattr(cert, "public_bytes"):
        # tolerate a cryptography certificate
        from cryptography.hazmat.primitives.serialization import Encoding

        cert = x509.Certificate.load(cert.public_bytes(Encoding.DER))
    return cert if isinstance(cert, x509.Certificate) else None


def _database_present() -> bool:
    """False when the embedded SQLite file does not exist: connecting would create it."""
    try:
        connection = connections["default"]
        if connection.vendor != "sqlite":
            return True
        name = str(connection.settings_dict.get("NAME") or "")
    except Exception:
        return False
    return name == ":memory:" or name.startswith("file:") or Path(name).exists()


@contextmanager
def _quiet_libraries(*, enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    saved = {name: logging.getLogger(name).level for name in _CHATTY_LOGGERS}
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


# --- human-readable report ------------------------------------------------------------------------


def _yes(flag: bool | None) -> str:
    if flag is None:
        return "not checked"
    return "yes" if flag else "NO"


def _cms(valid: bool | None) -> str:
    if valid is None:
        return "not checked"
    return "valid" if valid else "INVALID"


def _signature_lines(index: int, sig: SignatureReport) -> list[str]:
    if sig.timestamp_valid and sig.timestamp_time is not None:
        timestamp = f"{sig.timestamp_time.isoformat()} (valid, TSA {sig.tsa})"
    elif sig.timestamped:
        timestamp = "INVALID"
    else:
        timestamp = "none (signing time not proven)"
    claimed = sig.signing_time.isoformat() if sig.signing_time else "-"
    lines = [
        f"Signature {index}: field {sig.field}",
        f"  Status:         {sig.status}" + (f" ({', '.join(sig.reasons)})" if sig.reasons else ""),
        f"  Signer:         {sig.signer or '-'}",
        *(
            [f"  Organisation:   {sig.signer_organization or '-'} ({sig.organization_identifier})"]
            if sig.organization_identifier
            else []
        ),
        f"  Certificate:    serial {sig.certificate_serial or '-'}, issued by {sig.issuer or '-'}",
        f"  Trusted:        {_yes(sig.trusted)}",
        f"  Intact:         {_yes(sig.intact)}",
        f"  CMS signature:  {_cms(sig.valid)}",
        f"  Timestamp:      {timestamp}",
        f"  Signing time:   {claimed} (claimed by the signer)",
        f"  Revocation:     {sig.revocation}",
        f"  Modification:   {sig.modification} (coverage: {sig.coverage})",
    ]
    if sig.changed_fields:
        lines.append(f"  Fields changed: {', '.join(sig.changed_fields)}")
    if sig.problems:
        lines.append("  Problems:")
        lines.extend(f"    - {problem}" for problem in sig.problems)
    else:
        lines.append("  Problems:       none")
    return lines


def _timestamp_lines(index: int, ts: DocumentTimestampReport) -> list[str]:
    when = ts.time.isoformat() if ts.time else "-"
    lines = [
        f"Document timestamp {index}: field {ts.field}",
        f"  Status:         {ts.status}" + (f" ({', '.join(ts.reasons)})" if ts.reasons else ""),
        f"  Time:           {when} (TSA {ts.tsa or '-'})",
        f"  Intact / valid / trusted: {_yes(ts.intact)} / {_yes(ts.valid)} / {_yes(ts.trusted)}",
        f"  Modification:   {ts.modification} (coverage: {ts.coverage})",
    ]
    lines.extend(f"    - {problem}" for problem in ts.problems)
    return lines


def render_text(path: Path, report: VerificationReport, *, trust_root_count: int) -> str:
    lines = [f"File: {path}", f"Trust roots: {trust_root_count}"]
    if report.mode == "lenient":
        lines.append(
            f"Reading mode:   lenient ({report.mode_reason or 'the strict reader refused the file'})"
        )
    else:
        lines.append("Reading mode:   strict")
    lines.append(
        f"Revocation:     {REVOCATION_SOURCES.get(report.revocation_source, report.revocation_source)}"
    )
    lines.append("")
    for index, sig in enumerate(report.signatures, start=1):
        lines += [*_signature_lines(index, sig), ""]
    for index, ts in enumerate(report.document_timestamps, start=1):
        lines += [*_timestamp_lines(index, ts), ""]
    if report.problems:
        lines += ["Document problems:", *(f"  - {problem}" for problem in report.problems), ""]
    if report.warnings:
        lines += ["Warnings:", *(f"  - {warning}" for warning in report.warnings), ""]
    if report.valid:
        count = len(report.signatures)
        lines.append(
            f"Verdict: VALID: {count} signature{'s' if count != 1 else ''}, "
            "all intact, trusted and without unpermitted changes."
            + (f" Read the {len(report.warnings)} warning(s) above." if report.warnings else "")
        )
    else:
        judged = [*report.signatures, *report.document_timestamps]
        undecided = judged and not report.problems and all(s.status != "invalid" for s in judged)
        # indeterminate is not a forgery: say that it could not be decided, and why
        lines.append(
            "Verdict: NOT VALID (indeterminate: could not be decided)" if undecided else "Verdict: NOT VALID"
        )
        lines.extend(f"  - {reason}" for reason in _reasons(report))
    return "\n".join(lines)


def _reasons(report: VerificationReport) -> list[str]:
    reasons = [report.error] if report.error else []
    reasons += report.problems
    for index, sig in enumerate(report.signatures, start=1):
        reasons += [f"signature {index} ({sig.field}): {problem}" for problem in sig.problems]
    for index, ts in enumerate(report.document_timestamps, start=1):
        reasons += [f"document timestamp {index} ({ts.field}): {problem}" for problem in ts.problems]
    return reasons

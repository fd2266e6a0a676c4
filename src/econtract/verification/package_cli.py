"""``econtract verify PACKAGE.zip``: the evidence-package half of the verify command.

Anchors: the --trust-root files and this installation's root (when its database exists), else the
package's own root; the --log-key values, else this installation's log key (same condition), else the
package's own log.vkey. When an anchor came from the package, the output says so with its fingerprint:
a package can only vouch for itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asn1crypto import x509
from django.core.management.base import CommandError

from econtract.verification.errors import VerificationLimitExceeded

ZIP_MAGIC = b"PK\x03\x04"
EXIT_NOT_VALID = 1
EXIT_UNUSABLE_INPUT = 2


def is_package(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def read_key(value: str) -> str:
    """A verifier key given as its text (name+id+key) or as the path of a file holding it."""
    text = value.strip()
    try:
        is_file = Path(text).is_file()
    except OSError:  # e.g. a name too long for a path: it is the key itself
        is_file = False
    if "+" not in text or is_file:
        try:
            text = Path(text).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(
                f"{value!r} is neither a verifier key nor a readable key file", returncode=EXIT_UNUSABLE_INPUT
            ) from exc
    return text


def platform_log_key(*, database_present: bool, verbose: bool = False, stderr: Any = None) -> str | None:
    """This installation's log verifier key, when its database exists; ``None`` otherwise (never created
    here: an unmigrated or absent database only means "no platform key")."""
    if not database_present:
        return None
    try:
        from econtract.evidence.models import LogState
        from econtract.evidence.notes import verifier_key

        state = LogState.objects.filter(pk=1).first()
        return None if state is None else verifier_key(state.origin, bytes(state.public_key))
    except Exception as exc:
        if verbose and stderr is not None:
            stderr.write(f"platform log key not available ({type(exc).__name__}: {exc})")
        return None


def verify_package_file(
    path: Path,
    data: bytes,
    *,
    trust_roots: list[x509.Certificate],
    log_keys: list[str],
    witness_keys: list[str],
    as_json: bool,
    write: Callable[[str], None],
) -> None:
    """Verify, print, and raise CommandError with the exit code unless every check passed."""
    import zipfile

    from econtract.evidence.package_verify import verify_package

    try:
        report = verify_package(data, log_keys=log_keys, witness_keys=witness_keys, trust_roots=trust_roots)
    except (zipfile.BadZipFile, VerificationLimitExceeded) as exc:
        if as_json:
            write(json.dumps({"ok": False, "checks": [], "error": str(exc)}, ensure_ascii=False, indent=2))
        raise CommandError(
            f"{path}: not a readable evidence package: {exc}", returncode=EXIT_UNUSABLE_INPUT
        ) from exc
    if as_json:
        write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        write(render_package_text(path, report))
    if not report.ok:
        raise CommandError("the evidence package does not check out", returncode=EXIT_NOT_VALID)


def _mark(check: Any) -> str:
    if not check.ran:
        return "[not run]"
    return "[ok]     " if check.ok else "[FAILED] "


def render_package_text(path: Path, report: Any) -> str:
    lines = [f"File: {path}", "Evidence package (econtract-evidence-package/v1)"]
    if report.envelope:
        lines.append(f"Envelope: {report.envelope} {report.title!r}")
    lines.append(
        f"Trust roots: {'given (--trust-root / this installation)' if report.trust_source == 'given' else 'FROM THE PACKAGE'}"
    )
    lines.append(
        f"Log key:     {'given (--log-key / this installation)' if report.log_key_source == 'given' else 'FROM THE PACKAGE'}"
    )
    lines.append(f"Witness keys: {report.witness_key_source}")
    lines.append("")
    for check in report.checks:
        lines.append(f"{_mark(check)} {check.name}: {check.detail}")
    lines.append("")
    from_package: list[str] = []
    if report.trust_source == "package":
        from_package += [f"  root certificate SHA-256 (of its DER): {fp}" for fp in report.root_fingerprints]
    if report.log_key_source == "package":
        from_package += [
            f"  log key SHA-256 (the line and a newline): {fp}" for fp in report.log_key_fingerprints
        ]
    if from_package:
        lines += [
            "!!! The trust anchors below came from the package itself: the package can only vouch for itself.",
            *from_package,
            "!!! Compare them with what the platform publishes, at an address you type yourself (not one",
            "    taken from the package): /pki/root.der (curl -s https://HOST/pki/root.der | sha256sum, or",
            "    /pki/root.pem with openssl x509 -noout -fingerprint -sha256) and /log/vkey",
            "    (curl -s https://HOST/log/vkey | sha256sum); or pass --trust-root and --log-key.",
            "",
        ]
    lines.append(
        "Verdict: VALID: every check passed." if report.ok else f"Verdict: NOT VALID: {report.summary}"
    )
    return "\n".join(lines)

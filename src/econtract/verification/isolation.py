"""Run ``verify_pdf`` on untrusted bytes in a child process with hard time and memory limits.

``econtract verify``, the verification page and ``POST /api/v1/verify`` judge PDFs made by anyone.
pyHanko parses them in :mod:`econtract.verification.verifychild`, which caps its own address space
and CPU time; here the parent adds a wall-clock timeout. Whatever the PDF does, the worst outcome
for the caller is :class:`VerificationLimitExceeded` after at most the timeout. The report crosses
the process boundary as JSON (never pickle: the child has read hostile input) and is rebuilt with
``VerificationReport.from_dict``, so fields added to the report travel without changes here.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from asn1crypto import x509

import econtract
from econtract.verification.errors import UnreadablePdf, VerificationLimitExceeded
from econtract.verification.services import VerificationReport

logger = logging.getLogger(__name__)

GiB = 1024 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MEMORY_BYTES = 2 * GiB
# The child sees only these variables: no secrets, no DJANGO_SETTINGS_MODULE.
_PASSED_ENVIRONMENT = ("PATH", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "LANG", "LC_ALL", "TZ", "TMPDIR")


def _setting(name: str, default: float) -> float:
    try:
        from django.conf import settings

        return float(getattr(settings, name, default)) if settings.configured else default
    except Exception:
        return default


def timeout_seconds() -> float:
    return _setting("ECONTRACT_VERIFY_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)


def memory_bytes() -> int:
    return int(_setting("ECONTRACT_VERIFY_MEMORY_BYTES", DEFAULT_MEMORY_BYTES))


def verify_pdf_isolated(
    data: bytes,
    *,
    trust_roots: list[x509.Certificate],
    other_certs: list[x509.Certificate] | None = None,
    verbose: bool = False,
    **options: str | int | float | bool | None,
) -> VerificationReport:
    """``verify_pdf`` in a sandboxed child.

    ``options`` are passed on to ``verify_pdf`` as keyword arguments (JSON values only), so a new
    option of the verifier needs no change here.

    :raises UnreadablePdf: no signature can be located because the file cannot be read.
    :raises VerificationLimitExceeded: the child ran out of time or memory, or died.
    """
    timeout = timeout_seconds()
    cpu_seconds = max(1, math.ceil(timeout * 0.9))
    header = {
        "memory_bytes": memory_bytes(),
        "cpu_seconds": cpu_seconds,
        "verbose": verbose,
        "trust_roots": [base64.b64encode(cert.dump()).decode("ascii") for cert in trust_roots],
        "other_certs": [base64.b64encode(cert.dump()).decode("ascii") for cert in other_certs or []],
        "options": options,
    }
    payload = json.dumps(header).encode("ascii") + b"\n" + bytes(data)
    environment = {name: os.environ[name] for name in _PASSED_ENVIRONMENT if name in os.environ}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        completed = subprocess.run(
            [sys.executable, "-s", "-m", "econtract.verification.verifychild"],
            input=payload,
            capture_output=True,
            timeout=timeout,
            cwd=Path(econtract.__file__).resolve().parent.parent,
            env=environment,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise VerificationLimitExceeded(f"verifying the PDF took longer than {timeout:g} s") from None
    if verbose and completed.stderr:
        sys.stderr.write(completed.stderr.decode("utf-8", "replace"))
    return _report(completed, cpu_seconds)


def _report(completed: subprocess.CompletedProcess[bytes], cpu_seconds: int) -> VerificationReport:
    if completed.returncode != 0 or not completed.stdout:
        if completed.returncode == -signal.SIGXCPU:
            raise VerificationLimitExceeded(f"verifying the PDF used more than {cpu_seconds} s of CPU time")
        reason = (
            f"was stopped by signal {signal.Signals(-completed.returncode).name}"
            if completed.returncode < 0
            else f"exited with status {completed.returncode}"
        )
        logger.warning(
            "verification child %s: %s", reason, completed.stderr[-2000:].decode("utf-8", "replace")
        )
        raise VerificationLimitExceeded(
            f"the PDF could not be verified within the resource limits ({reason})"
        )
    try:
        result: Any = json.loads(completed.stdout)
        if not isinstance(result, dict):
            raise ValueError("not an object")
        if result.get("ok") is True:
            return VerificationReport.from_dict(result["report"])
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationLimitExceeded(f"the verifier returned no usable answer ({exc})") from None
    detail = str(result.get("detail") or "the PDF cannot be read")[:500]
    if result.get("code") == "resource_limit":
        raise VerificationLimitExceeded(detail)
    raise UnreadablePdf(detail)

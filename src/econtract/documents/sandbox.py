"""Run :mod:`econtract.documents.pdfprobe` on untrusted bytes in a child process with hard limits.

The child gets the PDF on stdin, a wall-clock timeout here, and its own RLIMIT_AS / RLIMIT_CPU
(set by the child itself: ``preexec_fn`` is unsafe in a threaded server). Whatever the PDF does,
the worst outcome for this process is an :class:`UnsafePdf` after at most the timeout.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

import econtract
from econtract.documents.errors import CORRUPT, RESOURCE_LIMIT, TIMEOUT, UNSAFE_PDF_CODES, UnsafePdf

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 15.0
DEFAULT_MEMORY_BYTES = 768 * MiB
MAX_DETAIL_CHARS = 300
# The child sees only these variables: no secrets, no DJANGO_SETTINGS_MODULE.
_PASSED_ENVIRONMENT = ("PATH", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "LANG", "LC_ALL", "TZ", "TMPDIR")


def timeout_seconds() -> float:
    return float(getattr(settings, "ECONTRACT_PDF_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))


def memory_bytes() -> int:
    return int(getattr(settings, "ECONTRACT_PDF_MEMORY_BYTES", DEFAULT_MEMORY_BYTES))


def run_probe(data: bytes, arguments: Sequence[str]) -> dict[str, Any]:
    """Run the probe with ``arguments`` on ``data`` and return its JSON result (``ok`` is true).

    :raises UnsafePdf: the probe refused the PDF, ran out of time, or was killed by a limit.
    """
    timeout = timeout_seconds()
    # CPU limit below the wall-clock limit, so a busy loop dies by SIGXCPU before we have to kill it.
    cpu_seconds = max(1, math.ceil(timeout * 0.8))
    command = [
        sys.executable,
        "-s",
        "-m",
        "econtract.documents.pdfprobe",
        "--memory-bytes",
        str(memory_bytes()),
        "--cpu-seconds",
        str(cpu_seconds),
        *arguments,
    ]
    environment = {name: os.environ[name] for name in _PASSED_ENVIRONMENT if name in os.environ}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        completed = subprocess.run(
            command,
            input=data,
            capture_output=True,
            timeout=timeout,
            cwd=_source_root(),
            env=environment,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise UnsafePdf(TIMEOUT, f"checking the PDF took longer than {timeout:g} s") from None
    return _result(completed, cpu_seconds)


def _source_root() -> Path:
    # The directory holding the econtract package: `-m` puts the working directory on sys.path,
    # so the child imports this same code whether or not the project is installed.
    return Path(econtract.__file__).resolve().parent.parent


def _result(completed: subprocess.CompletedProcess[bytes], cpu_seconds: int) -> dict[str, Any]:
    if completed.returncode != 0 or not completed.stdout:
        stderr_tail = completed.stderr[-2000:].decode("utf-8", "replace")
        if completed.returncode == -signal.SIGXCPU:
            raise UnsafePdf(TIMEOUT, f"checking the PDF used more than {cpu_seconds} s of CPU time")
        if completed.returncode < 0:
            reason = f"was stopped by signal {signal.Signals(-completed.returncode).name}"
        else:
            reason = f"exited with status {completed.returncode}"
        logger.warning("PDF probe %s: %s", reason, stderr_tail)
        raise UnsafePdf(
            RESOURCE_LIMIT, f"the PDF could not be processed within the resource limits ({reason})"
        )
    try:
        result = json.loads(completed.stdout)
    except ValueError:
        raise UnsafePdf(RESOURCE_LIMIT, "the PDF checker returned no usable answer") from None
    if not isinstance(result, dict):
        raise UnsafePdf(RESOURCE_LIMIT, "the PDF checker returned no usable answer")
    if result.get("ok") is not True:
        code = result.get("code")
        detail = str(result.get("detail") or "the PDF was refused")[:MAX_DETAIL_CHARS]
        raise UnsafePdf(code if code in UNSAFE_PDF_CODES else CORRUPT, detail)
    return result

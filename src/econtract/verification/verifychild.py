"""The sandboxed child that verifies untrusted PDF bytes: ``python -m econtract.verification.verifychild``.

It reads one JSON header line (``memory_bytes``, ``cpu_seconds``, ``trust_roots`` and ``other_certs``
as base64 DER) and then the PDF bytes on stdin, caps its own address space and CPU time, runs
``verify_pdf`` and prints one JSON object: ``{"ok": true, "report": {...}}`` or
``{"ok": false, "code": ..., "detail": ...}``. Started by :mod:`econtract.verification.isolation`;
like the inspection probe it must not import Django, settings or secrets.
"""

from __future__ import annotations

import base64
import json
import logging
import sys
from typing import Any

from econtract.documents.pdfprobe import apply_limits

UNREADABLE = "unreadable"
RESOURCE_LIMIT = "resource_limit"


def _certificates(values: list[str]) -> list[Any]:
    from asn1crypto import x509

    return [x509.Certificate.load(base64.b64decode(value)) for value in values]


def run(header: dict[str, Any], data: bytes) -> dict[str, Any]:
    # Imported after the limits are in place: parsing starts with the first import of pyHanko.
    from econtract.verification.errors import UnreadablePdf
    from econtract.verification.services import verify_pdf

    try:
        report = verify_pdf(
            data,
            trust_roots=_certificates(header.get("trust_roots", [])),
            other_certs=_certificates(header.get("other_certs", [])),
            **header.get("options", {}),
        )
    except UnreadablePdf as exc:
        return {"ok": False, "code": UNREADABLE, "detail": str(exc)[:500]}
    return {"ok": True, "report": report.to_dict()}


def main() -> int:
    header = json.loads(sys.stdin.buffer.readline())
    apply_limits(int(header["memory_bytes"]), int(header["cpu_seconds"]))
    # pyHanko logs a warning per oddity; a hostile file could fill the parent's stderr pipe.
    if not header.get("verbose"):
        logging.disable(logging.CRITICAL)
    data = sys.stdin.buffer.read()
    result: dict[str, Any]
    try:
        result = run(header, data)
    except MemoryError:
        result = {
            "ok": False,
            "code": RESOURCE_LIMIT,
            "detail": "verifying the PDF needs more memory than allowed",
        }
    except RecursionError:
        result = {"ok": False, "code": UNREADABLE, "detail": "objects are nested or chained too deeply"}
    sys.stdout.buffer.write(json.dumps(result, ensure_ascii=True).encode("ascii"))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

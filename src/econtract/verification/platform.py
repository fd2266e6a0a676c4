"""Verification as the running platform offers it: hostile-input checks first, our root trusted."""

from __future__ import annotations

from asn1crypto import x509

from econtract.client_address import limit_bucket
from econtract.documents.errors import ENCRYPTED, UnsafePdf
from econtract.documents.pdfsafety import inspect_pdf
from econtract.pki.services import ensure_platform_pki, platform_chain, root_certificate
from econtract.ratelimit import hit
from econtract.verification.errors import VerificationRateLimited
from econtract.verification.isolation import verify_pdf_isolated
from econtract.verification.services import VerificationReport

# Verification is public and each check starts a sandboxed child process: bound it per client address.
VERIFICATIONS_PER_MINUTE = 20


def verify_pdf_with_platform_roots(
    data: bytes, extra_roots: list[x509.Certificate] | None = None, *, client_address: str | None = None
) -> VerificationReport:
    if client_address is not None:
        counted = hit(f"verify:{limit_bucket(client_address)}", VERIFICATIONS_PER_MINUTE, 60)
        if not counted.allowed:
            raise VerificationRateLimited(
                "too many verifications from your address; wait a minute", retry_after=counted.retry_after
            )
    # Sandboxed: bombs, loops and corrupt files are refused before pyHanko parses them. Active
    # content is judged, not refused: the report warns about it.
    try:
        inspect_pdf(data, allow_active_content=True)
    except UnsafePdf as exc:
        # An encrypted file that opens without a password (owner password only) can still be
        # judged: the verifier runs in its own bounded child and refuses a password it lacks.
        if exc.code != ENCRYPTED:
            raise
    ensure_platform_pki()
    root = root_certificate()
    roots = [root] if root is not None else []
    # parsed in a bounded child process (time, memory), like the inspection above
    return verify_pdf_isolated(
        data, trust_roots=roots + list(extra_roots or []), other_certs=platform_chain()
    )

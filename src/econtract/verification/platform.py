"""Verification as the running platform offers it: hostile-input checks first, our root trusted."""

from __future__ import annotations

from asn1crypto import x509

from econtract.documents.pdfsafety import inspect_pdf
from econtract.pki.services import ensure_platform_pki, platform_chain, root_certificate
from econtract.ratelimit import allow
from econtract.verification.errors import VerificationRateLimited
from econtract.verification.services import VerificationReport, verify_pdf

# Verification is public and each check starts a sandboxed child process: bound it per client address.
VERIFICATIONS_PER_MINUTE = 20


def verify_pdf_with_platform_roots(
    data: bytes, extra_roots: list[x509.Certificate] | None = None, *, client_address: str | None = None
) -> VerificationReport:
    if client_address is not None and not allow(f"verify:{client_address}", VERIFICATIONS_PER_MINUTE, 60):
        raise VerificationRateLimited("too many verifications from your address; wait a minute")
    inspect_pdf(data)  # sandboxed: bombs, loops and corrupt files are refused before pyHanko parses them
    ensure_platform_pki()
    root = root_certificate()
    roots = [root] if root is not None else []
    return verify_pdf(data, trust_roots=roots + list(extra_roots or []), other_certs=platform_chain())

"""The PKI app's verbs, in one import. Implementations live in topic modules:

hierarchy (platform CA/TSA/OCSP certificates), issuance (signer certificates, revocation, CRLs),
ocsp (responder), validation (pyHanko contexts), tsa (time-stamping), custody (signer keys under PIN).
"""

from __future__ import annotations

from econtract.pki.custody import reset_signing_key, set_signing_pin, unwrap_signing_key
from econtract.pki.hierarchy import (
    PlatformIdentity,
    ensure_platform_pki,
    platform_certificate,
    platform_chain,
    platform_identity,
    root_certificate,
    root_certificate_pem,
)
from econtract.pki.issuance import (
    REVOCATION_REASONS,
    arl_der,
    certificate_status,
    crl_der,
    issue_signing_certificate,
    revoke_certificate,
)
from econtract.pki.ocsp import ocsp_response_der, ocsp_response_for_certificate
from econtract.pki.tsa import InProcessTimeStamper, get_timestamper, timestamp_reply_der
from econtract.pki.validation import signing_validation_context, signing_validation_context_for

__all__ = [
    "REVOCATION_REASONS",
    "InProcessTimeStamper",
    "PlatformIdentity",
    "arl_der",
    "certificate_status",
    "crl_der",
    "ensure_platform_pki",
    "get_timestamper",
    "issue_signing_certificate",
    "ocsp_response_der",
    "ocsp_response_for_certificate",
    "platform_certificate",
    "platform_chain",
    "platform_identity",
    "reset_signing_key",
    "revoke_certificate",
    "root_certificate",
    "root_certificate_pem",
    "set_signing_pin",
    "signing_validation_context",
    "signing_validation_context_for",
    "timestamp_reply_der",
    "unwrap_signing_key",
]

"""The certificate profile in one place: OIDs, names, lifetimes and the URLs written into certificates.

The OIDs sit under 1.3.6.1.4.1.55555, a PLACEHOLDER private-enterprise arc. Before certificates are
issued for real, register a Private Enterprise Number with IANA and change ``PEN_ARC`` here only.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

PEN_ARC = "1.3.6.1.4.1.55555"

# Certificate policies (RFC 5280 §4.2.1.4) and the TSA policy (RFC 3161 §2.4.2).
# Natural-person signing certificates carry one policy per assurance level, <ECONTRACT_POLICY_OID_ARC>.<n>
# (policy_oid_for_level); by default the arc is PEN.1.1, so L1 is the OID every certificate carried before
# levels existed (they were all issued on a verified email only).
DEFAULT_SIGNING_POLICY_ARC = f"{PEN_ARC}.1.1"
POLICY_NATURAL_PERSON_SIGNING = f"{DEFAULT_SIGNING_POLICY_ARC}.1"
POLICY_TIMESTAMPING = f"{PEN_ARC}.1.2.1"
# Legal-person seal certificates (an organisation's seal, seals.services): one policy, PEN.1.4.1. The
# organisation's identity is what accounts.organizations verified (USCC and legal representative).
POLICY_LEGAL_PERSON_SEAL = f"{PEN_ARC}.1.4.1"
POLICY_OCSP_RESPONDER = f"{PEN_ARC}.1.3.1"
# The platform's own signature on the evidence reports and package manifests it issues (出证).
POLICY_EVIDENCE_SERVICE = f"{PEN_ARC}.1.5.1"
TSA_POLICY_OID = POLICY_TIMESTAMPING

# id-kp-documentSigning (RFC 9336). Declared beside emailProtection, which NSS (pdfsig, Firefox)
# requires for its "email signer" usage: an EKU without emailProtection makes pdfsig reject the cert.
OID_KP_DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"

ORGANIZATION = "econtract"
PLATFORM_COUNTRY = "CN"  # the operator's country, in the CA names (ETSI EN 319 412 wants one)
ROOT_CN = "econtract Root CA"
ISSUING_CN = "econtract Issuing CA"
TSA_CN = "econtract Time Stamping Authority"
OCSP_CN = "econtract OCSP Responder"
EVIDENCE_CN = "econtract Evidence Service"

ROOT_LIFETIME = timedelta(days=20 * 365 + 5)
ISSUING_LIFETIME = timedelta(days=10 * 365 + 2)
TSA_LIFETIME = timedelta(days=5 * 365 + 1)
# A TSA key signs tokens for one year, then a new key and certificate take over; the certificate
# stays valid four more years so the tokens it signed can still be checked (ETSI EN 319 421 §7.7).
TSA_KEY_USE = timedelta(days=365)
# The responder certificate carries id-pkix-ocsp-nocheck, so it is kept short-lived (RFC 6960 §4.2.2.2.1).
OCSP_RESPONDER_LIFETIME = timedelta(days=365)
OCSP_RESPONDER_KEY_USE = timedelta(days=335)
# The evidence key signs reports for a year; its certificate stays valid two more so they can be checked
# with it (B-LTA document timestamps carry them further).
EVIDENCE_LIFETIME = timedelta(days=3 * 365 + 1)
EVIDENCE_KEY_USE = timedelta(days=365)
SIGNING_CERT_DEFAULT_DAYS = 730
ORGANIZATION_CERT_DEFAULT_DAYS = 730
# Tolerate clock skew between the machines that issue and the ones that sign or check.
NOT_BEFORE_BACKDATE = timedelta(minutes=1)

CRL_LIFETIME = timedelta(days=7)
OCSP_RESPONSE_LIFETIME = timedelta(days=1)

# Paths served by econtract.pki.urls (the project includes them at the site root).
PATH_CRL = "/pki/crl"
PATH_ROOT_CRL = "/pki/root.crl"
PATH_ROOT_PEM = "/pki/root.pem"
PATH_ROOT_DER = "/pki/root.der"
PATH_ISSUING_DER = "/pki/issuing.der"
PATH_OCSP = "/pki/ocsp"
PATH_TSA = "/tsa"


ASSURANCE_LEVELS = ("L1", "L2", "L3")


def signing_policy_arc() -> str:
    return str(getattr(settings, "ECONTRACT_POLICY_OID_ARC", "") or DEFAULT_SIGNING_POLICY_ARC).strip()


def policy_oid_for_level(level: str) -> str:
    """The certificate policy OID of a natural-person signing certificate issued at ``level``."""
    if level not in ASSURANCE_LEVELS:
        raise ValueError(f"no certificate policy for assurance level {level!r}")
    return f"{signing_policy_arc()}.{level[1]}"


def level_for_policy_oid(oid: str) -> str | None:
    """The assurance level a signing certificate's policy names, if it is one of ours."""
    return next((level for level in ASSURANCE_LEVELS if policy_oid_for_level(level) == oid), None)


def public_url(path: str) -> str:
    """An absolute URL under BASE_URL, as written into certificates (read at call time, not import)."""
    base = str(getattr(settings, "BASE_URL", "http://127.0.0.1:8000")).rstrip("/")
    return base + path

"""The certificate profile in one place: OIDs, names, lifetimes and the URLs written into certificates.

The OIDs sit under 1.3.6.1.4.1.55555, a PLACEHOLDER private-enterprise arc. Before certificates are
issued for real, register a Private Enterprise Number with IANA and change ``PEN_ARC`` here only.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

PEN_ARC = "1.3.6.1.4.1.55555"

# Certificate policies (RFC 5280 §4.2.1.4) and the TSA policy (RFC 3161 §2.4.2).
POLICY_NATURAL_PERSON_SIGNING = f"{PEN_ARC}.1.1.1"
POLICY_TIMESTAMPING = f"{PEN_ARC}.1.2.1"
POLICY_OCSP_RESPONDER = f"{PEN_ARC}.1.3.1"
TSA_POLICY_OID = POLICY_TIMESTAMPING

# id-kp-documentSigning (RFC 9336). Declared beside emailProtection, which NSS (pdfsig, Firefox)
# requires for its "email signer" usage: an EKU without emailProtection makes pdfsig reject the cert.
OID_KP_DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"

ORGANIZATION = "econtract"
ROOT_CN = "econtract Root CA"
ISSUING_CN = "econtract Issuing CA"
TSA_CN = "econtract Time Stamping Authority"
OCSP_CN = "econtract OCSP Responder"

ROOT_LIFETIME = timedelta(days=20 * 365 + 5)
ISSUING_LIFETIME = timedelta(days=10 * 365 + 2)
TSA_LIFETIME = timedelta(days=5 * 365 + 1)
# A TSA key signs tokens for one year, then a new key and certificate take over; the certificate
# stays valid four more years so the tokens it signed can still be checked (ETSI EN 319 421 §7.7).
TSA_KEY_USE = timedelta(days=365)
# The responder certificate carries id-pkix-ocsp-nocheck, so it is kept short-lived (RFC 6960 §4.2.2.2.1).
OCSP_RESPONDER_LIFETIME = timedelta(days=365)
OCSP_RESPONDER_KEY_USE = timedelta(days=335)
SIGNING_CERT_DEFAULT_DAYS = 730
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


def public_url(path: str) -> str:
    """An absolute URL under BASE_URL, as written into certificates (read at call time, not import)."""
    base = str(getattr(settings, "BASE_URL", "http://127.0.0.1:8000")).rstrip("/")
    return base + path

"""pyHanko validation contexts for signing, with revocation data made in process (no network).

PAdES B-LT embeds, in the document's DSS, the revocation data pyHanko gathered while validating the
signer's and the TSA's chains at signing time. pyHanko 0.38 embeds exactly ``ValidationContext.ocsps``
and ``ValidationContext.crls``: with ``allow_fetching=False`` those are the lists handed to the
constructor. So the context is built with:

* ``ocsps``: a fresh response from our responder for each certificate named (signer, TSA);
* ``crls``: the issuing CA's CRL (covers any signer) and the root's CRL of CA certificates (covers the
  issuing CA), so every non-root certificate on both paths has revocation data;
* ``revocation_mode="require"``: signing fails rather than produce a B-LT file with gaps.

With an external TSA (ECONTRACT_TSA_URL), its chain's roots come from ECONTRACT_TSA_TRUST_ROOTS and
fetching is allowed (hard-fail) so pyHanko can collect that TSA's revocation data itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from asn1crypto import crl, pem
from asn1crypto import x509 as asn1_x509
from django.conf import settings
from pyhanko_certvalidator import ValidationContext

from econtract.pki.errors import PkiError
from econtract.pki.hierarchy import Role, ensure_platform_pki, platform_certificate, platform_chain
from econtract.pki.issuance import arl_der, crl_der
from econtract.pki.ocsp import ocsp_response_for_certificate

logger = logging.getLogger("econtract.pki")


def _external_tsa() -> bool:
    return bool(str(getattr(settings, "ECONTRACT_TSA_URL", "") or ""))


def _external_tsa_roots() -> list[asn1_x509.Certificate]:
    roots: list[asn1_x509.Certificate] = []
    for name in getattr(settings, "ECONTRACT_TSA_TRUST_ROOTS", []) or []:
        try:
            data = Path(name).expanduser().read_bytes()
        except OSError as exc:
            raise PkiError(f"cannot read TSA trust root {name}: {exc.strerror or exc}") from exc
        if pem.detect(data):
            roots.extend(asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True))
        else:
            roots.append(asn1_x509.Certificate.load(data))
    return roots


def signing_validation_context_for(certs: Iterable[asn1_x509.Certificate]) -> ValidationContext:
    """A context for signing with in-process OCSP responses for ``certs`` (certificates of our issuing
    CA; others are skipped) and for the platform TSA, plus the current CRLs.

    Build it right before signing: the OCSP responses are valid for ``profile.OCSP_RESPONSE_LIFETIME``
    from now, and pyHanko checks them against the moment the context was created.
    """
    ensure_platform_pki()
    issuing, root = platform_chain()
    tsa = platform_certificate(Role.TSA)
    responder = platform_certificate(Role.OCSP)
    external_tsa = _external_tsa()

    targets = list(certs)
    if not external_tsa:
        targets.append(tsa)
    ocsps = []
    seen: set[bytes] = set()
    for certificate in targets:
        if certificate.sha256 in seen:
            continue
        seen.add(certificate.sha256)
        if certificate.issuer.dump() != issuing.subject.dump():
            logger.debug(
                "No in-process OCSP for %s: not issued by our CA", certificate.subject.human_friendly
            )
            continue
        ocsps.append(ocsp_response_for_certificate(certificate))

    return ValidationContext(
        trust_roots=[root, *(_external_tsa_roots() if external_tsa else [])],
        other_certs=[issuing, tsa, responder],
        crls=[crl.CertificateList.load(crl_der()), crl.CertificateList.load(arl_der())],
        ocsps=ocsps,
        allow_fetching=external_tsa,
        revocation_mode="hard-fail" if external_tsa else "require",
    )


def signing_validation_context() -> ValidationContext:
    """A context for signing with the current CRLs and the TSA's OCSP response (CRL covers signers).

    Prefer ``signing_validation_context_for([signer_cert])``: an OCSP response for the signer is smaller
    than the CRL and what most validators look for first.
    """
    return signing_validation_context_for([])

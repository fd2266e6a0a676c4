"""The evidence a verification works with: trust roots, the document's certificates and revocation data.

Nothing is fetched: certificates and revocation data come from the caller and from the PDF itself
(its DSS and the signatures' ``adbe-revocationInfoArchival`` attributes). Revocation is decided here
("good" / "revoked" / "unknown", decision 15 in docs/decisions.md), not by pyHanko's soft-fail mode.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms, x509
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.general import (
    MultivaluedAttributeError,
    NonexistentAttributeError,
    find_unique_cms_attribute,
)
from pyhanko.sign.validation import DocumentSecurityStore, EmbeddedPdfSignature
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import NO_REVOCATION, CertRevTrustPolicy
from pyhanko_certvalidator.revinfo.validate_crl import verify_crl
from pyhanko_certvalidator.revinfo.validate_ocsp import verify_ocsp_response

from econtract.verification.services.algorithms import SIGNATURE_VALIDATOR
from econtract.verification.services.reports import Revocation

logger = logging.getLogger(__name__)


@dataclass
class ValidationMaterial:
    """Trust roots plus the certificates and revocation data found in the document."""

    trust_roots: list[x509.Certificate]
    certs: list[x509.Certificate]
    crls: list[asn1_crl.CertificateList]
    ocsps: list[asn1_ocsp.OCSPResponse]

    @classmethod
    def gather(
        cls,
        reader: PdfFileReader,
        signatures: Iterable[EmbeddedPdfSignature],
        trust_roots: Sequence[x509.Certificate],
        other_certs: Sequence[x509.Certificate],
    ) -> ValidationMaterial:
        certs = list(other_certs)
        crls: list[asn1_crl.CertificateList] = []
        ocsps: list[asn1_ocsp.OCSPResponse] = []
        try:
            dss = DocumentSecurityStore.read_dss(reader)
            certs.extend(dss.load_certs())
            crls.extend(
                asn1_crl.CertificateList.load(_stream_bytes(ref, DecodePurpose.CRL)) for ref in dss.crls
            )
            ocsps.extend(
                asn1_ocsp.OCSPResponse.load(_stream_bytes(ref, DecodePurpose.OCSP_RESPONSE))
                for ref in dss.ocsps
            )
        except NoDSSFoundError:
            pass
        except Exception:
            # A broken DSS only costs us revocation data: statuses then read "unknown".
            logger.warning("ignoring an unreadable DSS", exc_info=True)
        for signature in signatures:
            certs.extend(_embedded_certs(signature.signed_data))
            try:
                for tst_signed_data in extract_tst_data_iter(signature.signer_info, signed=False):
                    certs.extend(_embedded_certs(tst_signed_data))
            except Exception:
                logger.warning("ignoring an unreadable signature timestamp token", exc_info=True)
            sig_crls, sig_ocsps = _revocation_info_archival(signature)
            crls.extend(sig_crls)
            ocsps.extend(sig_ocsps)
        return cls(trust_roots=list(trust_roots), certs=certs, crls=crls, ocsps=ocsps)

    def context(self, moment: datetime | None = None) -> ValidationContext:
        """A fresh offline context judging at ``moment`` (now when ``None``).

        pyHanko is told not to check revocation at all: its soft-fail mode fails a chain on stale
        embedded data and skips certificates without a CRL distribution point. We decide revocation
        ourselves in ``revocation_status()``. ``retroactive_revinfo`` accepts a CRL issued after the
        signing time (the usual B-LT case, where validation data is gathered after signing).
        """
        return ValidationContext(
            # never None: pyHanko would fall back to the operating system's TLS roots
            trust_roots=list(self.trust_roots),
            other_certs=list(self.certs),
            crls=list(self.crls),
            ocsps=list(self.ocsps),
            moment=moment,
            allow_fetching=False,
            revinfo_policy=CertRevTrustPolicy(NO_REVOCATION, retroactive_revinfo=True),
            signature_validator=SIGNATURE_VALIDATOR,
        )


def _stream_bytes(ref: generic.PdfObject, purpose: DecodePurpose) -> bytes:
    stream = ref.get_object()
    if not isinstance(stream, generic.StreamObject):
        raise ValueError("DSS entry is not a stream")
    return stream.read_data(purpose)


def _embedded_certs(signed_data: cms.SignedData) -> list[x509.Certificate]:
    """The X.509 certificates a CMS object carries (CRL issuers are looked up among them)."""
    try:
        return [c.chosen for c in signed_data["certificates"] or () if c.name == "certificate"]
    except Exception:
        logger.warning("ignoring unreadable embedded certificates", exc_info=True)
        return []


def _revocation_info_archival(
    signature: EmbeddedPdfSignature,
) -> tuple[list[asn1_crl.CertificateList], list[asn1_ocsp.OCSPResponse]]:
    """CRLs and OCSP responses in the signed ``adbe-revocationInfoArchival`` attribute, if any."""
    try:
        archival = find_unique_cms_attribute(
            signature.signer_info["signed_attrs"], "adobe_revocation_info_archival"
        )
        return list(archival["crl"]), list(archival["ocsp"])
    except (NonexistentAttributeError, MultivaluedAttributeError):
        return [], []
    except Exception:
        logger.warning("ignoring an unreadable revocation-info-archival attribute", exc_info=True)
        return [], []


# --- revocation -----------------------------------------------------------------------------------


async def revocation_status(
    path: ValidationPath | None, context: ValidationContext
) -> tuple[Revocation, str]:
    """Revocation of a path's leaf (and, if revoked, of its CAs) from the embedded data only.

    "good": a CRL or OCSP response valid at the context's time covers the leaf and none says it
    was revoked before that time. "revoked": one does (or a CA above it is revoked). "unknown":
    nothing usable; never guessed to be "good".
    """
    if path is None:
        return "unknown", ""
    certs = list(path.iter_certs(include_root=False))
    if not certs:
        return "unknown", ""  # the leaf is itself a trust anchor
    leaf, authorities = certs[-1], certs[:-1]
    status, detail = await _certificate_status(leaf, path, context)
    if status == "revoked":
        return status, f"the signer's certificate was revoked ({detail})"
    for ca_cert in authorities:
        ca_status, ca_detail = await _certificate_status(ca_cert, path, context)
        if ca_status == "revoked":
            name = ca_cert.subject.human_friendly
            return "revoked", f"the issuing CA certificate {name} was revoked ({ca_detail})"
    return status, detail


async def _certificate_status(
    cert: x509.Certificate, path: ValidationPath, context: ValidationContext
) -> tuple[Revocation, str]:
    found_good = False
    for check in (verify_ocsp_response, verify_crl):
        try:
            await check(cert, path, context)
            found_good = True
        except RevokedError as exc:
            reason = exc.reason.native if exc.reason is not None else "unspecified"
            moment = exc.revocation_dt.isoformat() if exc.revocation_dt is not None else None
            return "revoked", f"on {moment}, reason {reason}"
        except Exception as exc:
            # no matching data, stale data, bad signature on it...: no evidence either way
            logger.debug("no usable %s for %s: %s", check.__name__, cert.subject.human_friendly, exc)
    return ("good", "") if found_good else ("unknown", "")

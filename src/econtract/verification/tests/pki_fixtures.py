"""A throwaway PKI and PDF builders for verifier tests; no platform code involved.

Root CA -> issuing CA -> signer (ECDSA P-256, digitalSignature + nonRepudiation) and an RSA TSA
(DummyTimeStamper is RSA-only). Every certificate names a CRL distribution point that is never
fetched: pyHanko only consults (and embeds) a supplied CRL for certificates that declare one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from io import BytesIO

from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def key_to_asn1(key: PrivateKey) -> asn1_keys.PrivateKeyInfo:
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return asn1_keys.PrivateKeyInfo.load(der)


@dataclass
class Issued:
    """A certificate with its key, in both libraries' types."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def asn1(self) -> asn1_x509.Certificate:
        return to_asn1(self.cert)

    @property
    def serial(self) -> int:
        return self.cert.serial_number

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _issue(
    subject: x509.Name,
    key: PrivateKey,
    issuer: Issued | None,
    *,
    ca: bool,
    path_length: int | None = None,
    key_usage: dict[str, bool],
    eku: list[x509.ObjectIdentifier] | None = None,
    crl_url: str | None = None,
    days: int = 365,
) -> Issued:
    now = _now()
    issuer_name = issuer.cert.subject if issuer else subject
    signing_key = issuer.key if issuer else key
    ku = {
        "digital_signature": False,
        "content_commitment": False,
        "key_encipherment": False,
        "data_encipherment": False,
        "key_agreement": False,
        "key_cert_sign": False,
        "crl_sign": False,
        "encipher_only": False,
        "decipher_only": False,
    } | key_usage
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(**ku), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
    if crl_url:
        dp = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([dp]), critical=False)
    cert = builder.sign(signing_key, hashes.SHA256())
    return Issued(cert=cert, key=key)


@dataclass
class ThrowawayPki:
    """Root CA, issuing CA, one signer and a TSA, all made up for one test session."""

    name: str
    root: Issued
    ca: Issued
    signer: Issued
    tsa: Issued
    extra_signers: dict[str, Issued] = field(default_factory=dict)

    @property
    def root_crl_url(self) -> str:
        return f"http://crl.invalid/{self.name}/root.crl"

    @property
    def ca_crl_url(self) -> str:
        return f"http://crl.invalid/{self.name}/ca.crl"

    def issue_signer(self, cn: str) -> Issued:
        """Another end-entity signer under the issuing CA."""
        return _issue(
            _name(cn, self.name),
            ec.generate_private_key(ec.SECP256R1()),
            self.ca,
            ca=False,
            key_usage={"digital_signature": True, "content_commitment": True},
            crl_url=self.ca_crl_url,
        )

    def crl(
        self,
        issuer: Issued | None = None,
        *,
        revoked: dict[int, dt.datetime] | None = None,
        this_update: dt.datetime | None = None,
        next_update: dt.datetime | None = None,
    ) -> asn1_crl.CertificateList:
        """A CRL of the issuing CA (or of ``issuer``); ``revoked`` maps serial -> revocation time."""
        issuer = issuer or self.ca
        now = _now()
        this_update = this_update or now - dt.timedelta(hours=1)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.cert.subject)
            .last_update(this_update)
            .next_update(next_update or now + dt.timedelta(days=7))
            .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
            )
        )
        for serial, when in (revoked or {}).items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        der = builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        return asn1_crl.CertificateList.load(der)

    def ocsp_response(
        self, subject: Issued | None = None, *, revoked_at: dt.datetime | None = None
    ) -> asn1_ocsp.OCSPResponse:
        """An OCSP response about ``subject`` (default: the signer), signed by the issuing CA itself."""
        subject = subject or self.signer
        now = _now()
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=subject.cert,
            issuer=self.ca.cert,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked_at else ocsp.OCSPCertStatus.GOOD,
            this_update=now - dt.timedelta(minutes=5),
            next_update=now + dt.timedelta(days=1),
            revocation_time=revoked_at,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked_at else None,
        )
        response = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.ca.cert).sign(
            self.ca.key, hashes.SHA256()
        )
        return asn1_ocsp.OCSPResponse.load(response.public_bytes(serialization.Encoding.DER))

    def good_crls(self) -> list[asn1_crl.CertificateList]:
        return [self.crl(self.ca), self.crl(self.root)]

    def cert_store(self) -> SimpleCertificateStore:
        return SimpleCertificateStore.from_certs([self.root.asn1, self.ca.asn1])

    def pdf_signer(self, who: Issued | None = None) -> signers.SimpleSigner:
        who = who or self.signer
        return signers.SimpleSigner(
            signing_cert=who.asn1, signing_key=key_to_asn1(who.key), cert_registry=self.cert_store()
        )

    def timestamper(self, at: dt.datetime | None = None) -> DummyTimeStamper:
        """The in-process TSA; ``at`` fixes the time it certifies (default: now)."""
        return DummyTimeStamper(
            tsa_cert=self.tsa.asn1,
            tsa_key=key_to_asn1(self.tsa.key),
            certs_to_embed=SimpleCertificateStore.from_certs([self.ca.asn1, self.root.asn1]),
            fixed_dt=at,
        )

    def validation_context(self, crls: list[asn1_crl.CertificateList] | None = None) -> ValidationContext:
        return ValidationContext(
            trust_roots=[self.root.asn1],
            other_certs=[self.ca.asn1],
            crls=self.good_crls() if crls is None else crls,
            allow_fetching=False,
        )


def build_pki(name: str = "econtract-test") -> ThrowawayPki:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _issue(
        _name(f"{name} Root CA", name),
        root_key,
        None,
        ca=True,
        key_usage={"key_cert_sign": True, "crl_sign": True},
        days=3650,
    )
    pki_urls = f"http://crl.invalid/{name}"
    ca = _issue(
        _name(f"{name} Issuing CA", name),
        ec.generate_private_key(ec.SECP256R1()),
        root,
        ca=True,
        path_length=0,
        key_usage={"key_cert_sign": True, "crl_sign": True},
        crl_url=f"{pki_urls}/root.crl",
        days=1825,
    )
    signer = _issue(
        _name("张三", name),
        ec.generate_private_key(ec.SECP256R1()),
        ca,
        ca=False,
        key_usage={"digital_signature": True, "content_commitment": True},
        crl_url=f"{pki_urls}/ca.crl",
    )
    tsa = _issue(
        _name(f"{name} TSA", name),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ca,
        ca=False,
        key_usage={"digital_signature": True},
        eku=[ExtendedKeyUsageOID.TIME_STAMPING],
        crl_url=f"{pki_urls}/ca.crl",
    )
    return ThrowawayPki(name=name, root=root, ca=ca, signer=signer, tsa=tsa)


# --- PDFs -----------------------------------------------------------------------------------------


def blank_pdf(text: str = "Sales contract No. 42") -> bytes:
    """A one-page PDF with an uncompressed content stream (so tests can find and flip its bytes)."""
    writer = PdfFileWriter(stream_xrefs=False)
    font = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Font"),
            pdf_name("/Subtype"): pdf_name("/Type1"),
            pdf_name("/BaseFont"): pdf_name("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(
        {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): writer.add_object(font)})}
    )
    content = generic.StreamObject(stream_data=f"BT /F1 18 Tf 72 760 Td ({text}) Tj ET".encode("latin-1"))
    page = PageObject(contents=writer.add_object(content), media_box=[0, 0, 595, 842], resources=resources)
    writer.insert_page(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def sign(
    pdf: bytes,
    pki: ThrowawayPki,
    *,
    field_name: str = "Signature1",
    who: Issued | None = None,
    timestamp: bool = True,
    timestamp_at: dt.datetime | None = None,
    embed_validation_info: bool = False,
    crls: list[asn1_crl.CertificateList] | None = None,
) -> bytes:
    """Sign in an incremental update: PAdES B-B, B-T (default) or B-LT (``embed_validation_info``)."""
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        embed_validation_info=embed_validation_info,
        validation_context=pki.validation_context(crls) if embed_validation_info else None,
    )
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    out = signers.sign_pdf(
        writer,
        meta,
        signer=pki.pdf_signer(who),
        timestamper=pki.timestamper(timestamp_at) if timestamp else None,
        bytes_reserved=16384,
    )
    return bytes(out.getvalue())


def add_document_timestamp(pdf: bytes, pki: ThrowawayPki, *, field_name: str = "DocTS1") -> bytes:
    """Append a B-LTA document timestamp (with the DSS updated for it)."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    out = signers.PdfTimeStamper(pki.timestamper(), field_name=field_name).timestamp_pdf(
        writer, "sha256", validation_context=pki.validation_context(), bytes_reserved=16384
    )
    return bytes(out.getvalue())


def add_dss(
    pdf: bytes,
    *,
    crls: list[asn1_crl.CertificateList] | None = None,
    ocsps: list[asn1_ocsp.OCSPResponse] | None = None,
) -> bytes:
    """Append validation data (a DSS revision) holding ``crls`` and ``ocsps``."""
    out = BytesIO(pdf)
    DocumentSecurityStore.add_dss(out, None, crls=crls or [], ocsps=ocsps or [], force_write=True)
    return out.getvalue()


def append_page_content(pdf: bytes, text: str = "Amount: 1,000,000 CNY") -> bytes:
    """An incremental update that draws new content on page 1: an Incremental Saving Attack."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    stream = generic.StreamObject(stream_data=f"BT /F1 18 Tf 72 700 Td ({text}) Tj ET".encode("latin-1"))
    writer.add_stream_to_page(0, writer.add_object(stream))
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def flip_byte(pdf: bytes, needle: bytes) -> bytes:
    """Change one byte of the first occurrence of ``needle`` (which must lie inside the signed range)."""
    at = pdf.index(needle)
    mutated = bytearray(pdf)
    mutated[at] ^= 0x01
    return bytes(mutated)


def shrink_byte_range(pdf: bytes, pki: ThrowawayPki, *, uncovered_tail: int) -> bytes:
    """Signature wrapping: re-sign so the /ByteRange stops ``uncovered_tail`` bytes short of the revision end.

    The result is cryptographically sound (intact and valid): only a coverage check catches it.
    Expects a single B-B signature (``sign(..., timestamp=False)``).
    """
    match = re.search(rb"/ByteRange\s*\[([0-9 ]+)\]", pdf)
    assert match is not None
    start1, len1, start2, len2 = (int(n) for n in match.group(1).split())
    new_range = f"{start1} {len1} {start2} {len2 - uncovered_tail}".encode().ljust(len(match.group(1)))
    data = pdf[: match.start(1)] + new_range + pdf[match.end(1) :]
    digest = hashlib.sha256(data[start1 : start1 + len1] + data[start2 : start2 + len2 - uncovered_tail])
    content_info = asyncio.run(pki.pdf_signer().async_sign(digest.digest(), "sha256", use_pades=True))
    hexed = content_info.dump().hex().encode()
    slot = start2 - 1 - (len1 + 1)  # between "<" and ">"
    assert len(hexed) <= slot
    return data[: len1 + 1] + hexed.ljust(slot, b"0") + data[start2 - 1 :]

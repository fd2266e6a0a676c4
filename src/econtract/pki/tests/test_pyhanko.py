"""The PKI as pyHanko uses it: PAdES B-LT / B-LTA with the in-process TSA and in-process revocation data."""

from __future__ import annotations

from io import BytesIO

import pytest
from asn1crypto import keys
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation import DocumentSecurityStore, validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator.registry import SimpleCertificateStore

from econtract.pki.models import TimestampRecord
from econtract.pki.services import (
    platform_certificate,
    platform_chain,
    set_signing_pin,
    signing_validation_context,
    signing_validation_context_for,
    unwrap_signing_key,
)
from econtract.pki.tsa import InProcessTimeStamper, get_timestamper

PIN = "246810"


def small_pdf() -> bytes:
    writer = PdfFileWriter()
    content = generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 720 Td (econtract) Tj ET")
    font = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Font"),
            pdf_name("/Subtype"): pdf_name("/Type1"),
            pdf_name("/BaseFont"): pdf_name("/Helvetica"),
        }
    )
    page = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Page"),
            pdf_name("/MediaBox"): generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 595, 842)]),
            pdf_name("/Contents"): writer.add_object(content),
            pdf_name("/Resources"): generic.DictionaryObject(
                {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})}
            ),
        }
    )
    writer.insert_page(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def sign(user, context, *, lta: bool) -> bytes:
    private_key, issued = unwrap_signing_key(user, PIN)
    pkcs8 = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = signers.SimpleSigner(
        signing_cert=issued.certificate,
        signing_key=keys.PrivateKeyInfo.load(pkcs8),
        cert_registry=SimpleCertificateStore.from_certs(platform_chain()),
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1",
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        embed_validation_info=True,
        use_pades_lta=lta,
        validation_context=context,
    )
    out = signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(small_pdf())),
        meta,
        signer=signer,
        timestamper=InProcessTimeStamper(),
    )
    return out.getvalue()


def dss_context(reader: PdfFileReader):
    """Trust our root; revocation data required, and taken only from the document's DSS (no network)."""
    _, root = platform_chain()
    return DocumentSecurityStore.read_dss(reader).as_validation_context(
        {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "require"}
    )


def validate_with_dss_only(reader: PdfFileReader):
    status = validate_pdf_signature(reader.embedded_signatures[0], dss_context(reader))
    assert status.bottom_line, status.pretty_print_details()
    return status


@pytest.fixture
def signer_user(user, fast_kdf):
    set_signing_pin(user, PIN)
    return user


@pytest.mark.parametrize("lta", [False, True])
def test_b_lt_and_b_lta_with_in_process_tsa_and_revocation_data(signer_user, lta):
    issued = signer_user.signer_key.certificate
    context = signing_validation_context_for([issued.certificate])

    signed = sign(signer_user, context, lta=lta)

    reader = PdfFileReader(BytesIO(signed))
    dss = reader.root["/DSS"]
    assert len(dss["/OCSPs"]) >= 2 and len(dss["/CRLs"]) == 2  # signer + TSA responses; CRL and ARL
    status = validate_with_dss_only(reader)
    assert status.intact and status.valid and status.trusted
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    if lta:
        [doc_ts] = reader.embedded_timestamp_signatures
        ts_status = validate_pdf_timestamp(doc_ts, validation_context=dss_context(reader))
        assert ts_status.intact and ts_status.valid and ts_status.trusted
    # every token the in-process TSA issued is on record (pyHanko also asks for one to size the signature)
    assert TimestampRecord.objects.count() >= (3 if lta else 2)


def test_generic_context_covers_any_signer_through_the_crl(signer_user):
    signed = sign(signer_user, signing_validation_context(), lta=False)
    reader = PdfFileReader(BytesIO(signed))
    validate_with_dss_only(reader)


def test_signing_with_a_revoked_certificate_fails_in_pyhanko_too(signer_user):
    from pyhanko.sign.general import SigningError

    from econtract.pki.services import revoke_certificate

    issued = signer_user.signer_key.certificate
    private_key, _ = unwrap_signing_key(signer_user, PIN)
    revoke_certificate(issued, "key_compromise")
    context = signing_validation_context_for([issued.certificate])
    pkcs8 = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = signers.SimpleSigner(
        signing_cert=issued.certificate,
        signing_key=keys.PrivateKeyInfo.load(pkcs8),
        cert_registry=SimpleCertificateStore.from_certs(platform_chain()),
    )
    meta = signers.PdfSignatureMetadata(
        field_name="S",
        subfilter=SigSeedSubFilter.PADES,
        embed_validation_info=True,
        validation_context=context,
    )
    with pytest.raises(SigningError):
        signers.sign_pdf(
            IncrementalPdfFileWriter(BytesIO(small_pdf())),
            meta,
            signer=signer,
            timestamper=InProcessTimeStamper(),
        )


def test_get_timestamper_prefers_the_configured_url(settings, db):
    from pyhanko.sign.timestamps import HTTPTimeStamper

    assert isinstance(get_timestamper(), InProcessTimeStamper)
    settings.ECONTRACT_TSA_URL = "https://tsa.example/tsa"
    stamper = get_timestamper()
    assert isinstance(stamper, HTTPTimeStamper) and stamper.url == "https://tsa.example/tsa"


def test_tsa_certificate_is_in_the_contexts_other_certs(signer_user):
    context = signing_validation_context()
    tsa = platform_certificate("tsa")
    assert any(c.sha256 == tsa.sha256 for c in context.certificate_registry)


@pytest.mark.parametrize("loop_in_another_thread", [False, True])
def test_in_process_timestamper_joins_the_callers_transaction(pki, loop_in_another_thread):
    """Inside an event loop Django refuses the ORM; the stamper borrows the creating thread's connection,
    so the audit row lands in the caller's (here: the test's) transaction either way."""
    import asyncio
    import hashlib
    from concurrent.futures import ThreadPoolExecutor

    from django.db import transaction

    stamper = InProcessTimeStamper()
    digest = hashlib.sha256(b"signature value").digest()
    with transaction.atomic():
        if loop_in_another_thread:
            with ThreadPoolExecutor(1) as pool:
                token = pool.submit(asyncio.run, stamper.async_timestamp(digest, "sha256")).result()
        else:
            token = asyncio.run(stamper.async_timestamp(digest, "sha256"))
        serial = token["content"]["encap_content_info"]["content"].parsed["serial_number"].native
        assert TimestampRecord.objects.filter(
            serial_number=str(serial), message_imprint=digest.hex()
        ).exists()

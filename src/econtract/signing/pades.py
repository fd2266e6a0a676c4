"""PAdES signing with pyHanko: one incremental revision per signer, and the closing document timestamp.

Everything cryptographic the signing app does lives here; services.py decides *when*, this module *how*.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import logging
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from asn1crypto import keys, x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.form_tools import populate_static_text_field
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec, SigFieldSpec
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from econtract.signing import appearance

T = TypeVar("T")


class _ExpectedNoFetchWarning(logging.Filter):
    """We hand pyHanko all validation data in-process on purpose (decisions.md #3); its warning that
    fetching is disabled says nothing useful at every signature, so it is dropped. Others pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_ExpectedNoFetchWarning())

# /Contents is reserved as hex: two characters per DER byte, plus room for the timestamp token.
_RESERVE_MARGIN_BYTES = 6144
_WIDGET_PRINT_FLAG = 4


@dataclass(frozen=True)
class Placement:
    """A signature box: 1-based page, lower-left corner and size in PDF points relative to the MediaBox."""

    page: int
    x: float
    y: float
    width: float
    height: float


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a pyHanko coroutine from sync code, also when the calling thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _page_origin(writer: IncrementalPdfFileWriter, page_index: int) -> tuple[float, float]:
    page_ref = writer.find_page_for_modification(page_index)[0]
    page = page_ref.get_object()
    box = page.get("/MediaBox") or writer.root["/Pages"].get("/MediaBox")
    return float(box[0]), float(box[1])


def _box(writer: IncrementalPdfFileWriter, placement: Placement) -> tuple[int, int, int, int]:
    llx, lly = _page_origin(writer, placement.page - 1)
    x1, y1 = llx + placement.x, lly + placement.y
    return (round(x1), round(y1), round(x1 + placement.width), round(y1 + placement.height))


def _private_key_info(private_key: PrivateKeyTypes) -> keys.PrivateKeyInfo:
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return keys.PrivateKeyInfo.load(der)


def _find_field(writer: IncrementalPdfFileWriter, field_name: str) -> tuple[generic.IndirectObject, Any]:
    for ref in writer.root["/AcroForm"]["/Fields"]:
        if ref.get_object().get("/T") == field_name:
            return ref, ref.get_object()
    raise PyHankoSigningError(f"signature field {field_name} not found")


def _mirror_appearance(writer: IncrementalPdfFileWriter, field_name: str, extra: Sequence[Placement]) -> None:
    """Show the signer's appearance at her other fields, as further widgets of the same signature field.

    pyHanko draws the appearance on the field's single widget; before the revision is digested we add
    widgets sharing that appearance stream, so they are covered by the same signature (ISO 32000 lets a
    field have several widgets; pyHanko's diff analysis accepts them as form filling).
    """
    field_ref, field = _find_field(writer, field_name)
    kids = field["/Kids"]
    shown = kids[0].get_object()["/AP"]
    for placement in extra:
        page_ref = writer.find_page_for_modification(placement.page - 1)[0]
        widget = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Widget"),
                pdf_name("/F"): generic.NumberObject(_WIDGET_PRINT_FLAG),
                pdf_name("/Rect"): generic.ArrayObject(
                    generic.FloatObject(v) for v in _box(writer, placement)
                ),
                pdf_name("/P"): page_ref,
                pdf_name("/Parent"): field_ref,
                pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): shown.raw_get("/N")}),
            }
        )
        widget_ref = writer.add_object(widget)
        kids.append(widget_ref)
        writer.register_annotation(page_ref, widget_ref)
    writer.mark_update(field_ref)


def signer_lock(field_name: str, form_fields: Sequence[str] = ()) -> FieldMDPSpec:
    """What a signature locks (ISO 32000 FieldMDP): her own signature field and the fields she filled.

    A later revision that changes any of them breaks her signature (pyHanko's difference analysis
    and Acrobat alike); without the lock a filled text field could be rewritten as "form filling".
    """
    return FieldMDPSpec(FieldMDPAction.INCLUDE, [field_name, *form_fields])


def _fill_form_fields(writer: IncrementalPdfFileWriter, values: Mapping[str, str], font_path: str) -> None:
    """Fill empty text fields already in the document (created before any signature) in this revision."""
    style = appearance.text_box_style(font_path)
    for name, value in values.items():
        populate_static_text_field(writer, name, style, value)


def _reserve(chain: Sequence[x509.Certificate]) -> int:
    return 2 * (sum(len(cert.dump()) for cert in chain) * 2 + _RESERVE_MARGIN_BYTES)


async def _sign_async(
    pdf: bytes,
    *,
    field_name: str,
    placements: Sequence[Placement],
    signer: signers.SimpleSigner,
    signer_name: str,
    appearance_text: dict[str, str],
    form_values: Mapping[str, str],
    timestamper: TimeStamper,
    validation_context: ValidationContext,
    bytes_reserved: int | None,
) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    font_path = appearance.font_for(signer_name, *appearance_text.values(), *form_values.values())
    _fill_form_fields(writer, form_values, font_path)
    lock = signer_lock(field_name, list(form_values))
    if placements:
        first = placements[0]
        spec = SigFieldSpec(
            sig_field_name=field_name,
            on_page=first.page - 1,
            box=_box(writer, first),
            combine_annotation=False,
            field_mdp_spec=lock,
        )
    else:
        spec = SigFieldSpec(sig_field_name=field_name, field_mdp_spec=lock)
    fields.append_signature_field(writer, spec)
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=True,
        validation_context=validation_context,
        name=signer_name,
    )
    style = appearance.stamp_style(font_path)
    pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper, stamp_style=style)
    session = pdf_signer.init_signing_session(writer, existing_fields_only=True)
    validation_info = await session.perform_presign_validation(writer)
    if bytes_reserved is None:
        bytes_reserved = await session.estimate_signature_container_size(validation_info, tight=False)
    tbs = session.prepare_tbs_document(
        validation_info=validation_info, bytes_reserved=bytes_reserved, appearance_text_params=appearance_text
    )
    if len(placements) > 1:
        _mirror_appearance(writer, field_name, placements[1:])
    output = io.BytesIO()
    prepared, result = tbs.digest_tbs_document(output=output)
    post = await tbs.perform_signature(
        document_digest=prepared.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(
            signing_time=session.system_time,
            adobe_revinfo_attr=None if validation_info is None else validation_info.adobe_revinfo_attr,
        ),
    )
    await post.post_signature_processing(result)
    return output.getvalue()


def sign_revision(
    pdf: bytes,
    *,
    field_name: str,
    placements: Sequence[Placement],
    private_key: PrivateKeyTypes,
    certificate: x509.Certificate,
    chain: Sequence[x509.Certificate],
    signer_name: str,
    signed_at_label: str,
    timestamper: TimeStamper,
    validation_context: ValidationContext,
    form_values: Mapping[str, str] | None = None,
) -> bytes:
    """Append one PAdES B-T signature revision with validation data (B-LT) and return the new PDF.

    The signature locks (FieldMDP) its own field and every field of ``form_values``: names of empty
    text fields already in the document (created before the first signature) that she fills now.
    """
    signer = signers.SimpleSigner(
        signing_cert=certificate,
        signing_key=_private_key_info(private_key),
        cert_registry=SimpleCertificateStore.from_certs(list(chain)),
    )
    text = {"when": signed_at_label, "serial": f"SN {certificate.serial_number:x}"[:40]}
    kwargs: dict[str, Any] = dict(
        field_name=field_name,
        placements=placements,
        signer=signer,
        signer_name=signer_name,
        appearance_text=text,
        form_values=dict(form_values or {}),
        timestamper=timestamper,
        validation_context=validation_context,
    )
    try:
        return run_sync(_sign_async(pdf, bytes_reserved=_reserve([certificate, *chain]), **kwargs))
    except PyHankoSigningError as exc:
        if "reserved" not in str(exc).lower():
            raise
        # Our estimate was too small for this chain: let pyHanko measure once.
        return run_sync(_sign_async(pdf, bytes_reserved=None, **kwargs))


def add_document_timestamp(
    pdf: bytes, *, timestamper: TimeStamper, validation_context: ValidationContext
) -> bytes:
    """Close the document with a DSS update and an RFC 3161 document timestamp (PAdES B-LTA)."""

    async def run() -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        output = io.BytesIO()
        await PdfTimeStamper(timestamper).async_timestamp_pdf(
            writer, md_algorithm="sha256", validation_context=validation_context, output=output
        )
        return output.getvalue()

    return run_sync(run())


def signer_certificates(pdf: bytes) -> list[x509.Certificate]:
    """The certificates that actually signed the document (not the signers' current ones)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    return [
        signature.signer_cert
        for signature in reader.embedded_signatures
        if signature.sig_object.get("/Type") != "/DocTimeStamp"
    ]


def signing_time_label(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z")

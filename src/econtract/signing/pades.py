"""PAdES signing with pyHanko: one incremental revision per signer, and the closing document timestamp.

Everything cryptographic the signing app does lives here; services.py decides *when*, this module *how*.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
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
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec, SigFieldSpec
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.stamp import BaseStampStyle, NoOpStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from econtract.signing import appearance, formfields, marks
from econtract.signing.marks import Mark

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
CROSS_PAGE_SEAL = "cross_page_seal"


@dataclass(frozen=True)
class Placement:
    """A signature box: 1-based page, lower-left corner and size in PDF points relative to the MediaBox.

    ``kind`` is ``signature``, ``seal`` or ``cross_page_seal``; for a cross-page seal only ``page``, ``y``
    and ``height`` count (``x`` and ``width`` are derived from the mark and the number of pages).
    """

    page: int
    x: float
    y: float
    width: float
    height: float
    kind: str = "signature"


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
    shown = field["/Kids"][0].get_object()["/AP"].raw_get("/N")
    for placement in extra:
        _widget(writer, field_ref, placement.page, _box(writer, placement), shown)
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


def _widget(
    writer: IncrementalPdfFileWriter,
    field_ref: generic.IndirectObject,
    page: int,
    rect: Sequence[float],
    normal: generic.PdfObject,
) -> None:
    """Add a further widget of the signature field on ``page`` (1-based) showing ``normal``."""
    page_ref = writer.find_page_for_modification(page - 1)[0]
    widget = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Widget"),
            pdf_name("/F"): generic.NumberObject(_WIDGET_PRINT_FLAG),
            pdf_name("/Rect"): generic.ArrayObject(generic.FloatObject(v) for v in rect),
            pdf_name("/P"): page_ref,
            pdf_name("/Parent"): field_ref,
            pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): normal}),
        }
    )
    widget_ref = writer.add_object(widget)
    field_ref.get_object()["/Kids"].append(widget_ref)
    writer.register_annotation(page_ref, widget_ref)


def _right_edge(writer: IncrementalPdfFileWriter, page_index: int) -> float:
    """The right edge of the page as shown: the CropBox's (within the MediaBox) when there is one."""
    page = writer.find_page_for_modification(page_index)[0].get_object()
    pages = writer.root["/Pages"]
    media = page.get("/MediaBox") or pages.get("/MediaBox")
    right = max(float(media[0]), float(media[2]))
    crop = page.get("/CropBox") or pages.get("/CropBox")
    if crop is not None:
        right = min(right, max(float(crop[0]), float(crop[2])))
    return right


def _strip_rect(writer: IncrementalPdfFileWriter, placement: Placement, strip: marks.Strip) -> list[float]:
    """The strip at the page's right edge, ``y`` MediaBox-relative as in ``_box``, in exact points."""
    _, lly = _page_origin(writer, placement.page - 1)
    right = _right_edge(writer, placement.page - 1)
    y = lly + placement.y
    return [round(v, 4) for v in (right - strip.width, y, right, y + strip.height)]


@dataclass
class _Widgets:
    """A signer's placements: her boxes (signature or seal; pyHanko draws the first) and her
    cross-page strips, in page order."""

    boxes: list[Placement]
    strips: list[Placement]

    @classmethod
    def split(cls, placements: Sequence[Placement]) -> _Widgets:
        boxes = [p for p in placements if p.kind != CROSS_PAGE_SEAL]
        strips = sorted((p for p in placements if p.kind == CROSS_PAGE_SEAL), key=lambda p: p.page)
        return cls(boxes=boxes, strips=strips)


def _add_mark_widgets(
    writer: IncrementalPdfFileWriter,
    field_name: str,
    widgets: _Widgets,
    *,
    mark: Mark,
    mark_ref: generic.IndirectObject,
    style: appearance.MarkStampStyle,
    text_params: dict[str, str],
) -> None:
    """Her further boxes (each with an appearance of its own size) and her cross-page strips.

    When she has no box, pyHanko made the field's first widget at the first strip without drawing it
    (NoOp style): it gets the first strip's appearance here.
    """
    field_ref, field = _find_field(writer, field_name)
    drawn: dict[tuple[int, int, str], generic.IndirectObject] = {}
    for placement in widgets.boxes[1:]:
        rect = _box(writer, placement)
        size = (rect[2] - rect[0], rect[3] - rect[1], placement.kind)
        if size not in drawn:
            kind_style = dataclasses.replace(style, kind=placement.kind)
            stamp = kind_style.create_stamp(
                writer, BoxConstraints(width=size[0], height=size[1]), text_params
            )
            drawn[size] = stamp.register()
        _widget(writer, field_ref, placement.page, rect, drawn[size])
    if not widgets.strips:
        writer.mark_update(field_ref)
        return
    height = widgets.strips[0].height
    for placement, strip in zip(
        widgets.strips, marks.strips_for(mark, height, len(widgets.strips)), strict=True
    ):
        normal = marks.strip_xobject(writer, mark_ref, mark, strip)
        if not widgets.boxes and strip.index == 0:
            main = field["/Kids"][0].get_object()
            main[pdf_name("/AP")] = generic.DictionaryObject({pdf_name("/N"): normal})
            main[pdf_name("/Rect")] = generic.ArrayObject(
                generic.FloatObject(v) for v in _strip_rect(writer, placement, strip)
            )
            writer.mark_update(field["/Kids"].raw_get(0))
            continue
        _widget(writer, field_ref, placement.page, _strip_rect(writer, placement, strip), normal)
    writer.mark_update(field_ref)


async def _sign_async(
    pdf: bytes,
    *,
    field_name: str,
    placements: Sequence[Placement],
    signer: signers.SimpleSigner,
    signer_name: str,
    appearance_text: dict[str, str],
    form_values: Mapping[str, str],
    checkboxes: Mapping[str, bool],
    timestamper: TimeStamper,
    validation_context: ValidationContext,
    bytes_reserved: int | None,
    mark: Mark | None,
) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    font_path = appearance.font_for(signer_name, *appearance_text.values(), *form_values.values())
    _fill_form_fields(writer, form_values, font_path)
    for name, checked in checkboxes.items():
        formfields.check_box(writer, name, checked)
    lock = signer_lock(field_name, [*form_values, *checkboxes])
    widgets = _Widgets.split(placements)
    if not placements:
        mark = None  # an invisible signature shows nothing
    if widgets.strips and mark is None:
        raise ValueError("a cross-page seal needs a mark")
    if widgets.strips and len({p.height for p in widgets.strips}) != 1:
        raise ValueError("the strips of a cross-page seal have one height")
    first = widgets.boxes[0] if widgets.boxes else widgets.strips[0] if widgets.strips else None
    if first is not None:
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
    style: BaseStampStyle
    mark_ref = mark_style = None
    if mark is None:
        style = appearance.stamp_style(font_path)
    else:
        mark_ref = marks.mark_xobject(writer, mark)
        mark_style = appearance.mark_stamp_style(
            font_path,
            mark_ref=mark_ref,
            mark_size=(mark.width, mark.height),
            kind=widgets.boxes[0].kind if widgets.boxes else "seal",
        )
        style = mark_style if widgets.boxes else NoOpStampStyle()
    pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper, stamp_style=style)
    session = pdf_signer.init_signing_session(writer, existing_fields_only=True)
    validation_info = await session.perform_presign_validation(writer)
    if bytes_reserved is None:
        bytes_reserved = await session.estimate_signature_container_size(validation_info, tight=False)
    tbs = session.prepare_tbs_document(
        validation_info=validation_info, bytes_reserved=bytes_reserved, appearance_text_params=appearance_text
    )
    if mark is not None:
        assert mark_ref is not None and mark_style is not None
        _add_mark_widgets(
            writer,
            field_name,
            widgets,
            mark=mark,
            mark_ref=mark_ref,
            style=mark_style,
            text_params={"signer": signer_name, **appearance_text},
        )
    elif len(placements) > 1:
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
    mark: Mark | None = None,
    checkboxes: Mapping[str, bool] | None = None,
) -> bytes:
    """Append one PAdES B-T signature revision with validation data (B-LT) and return the new PDF.

    The signature locks (FieldMDP) its own field and every field of ``form_values`` and ``checkboxes``:
    names of empty text fields and checkboxes already in the document (created when the envelope was
    sent, signing.formfields) that she fills now.

    All ``placements`` are widgets of her one signature field (decisions.md #4/#5), each with an
    appearance of its own. With a ``mark`` a signature or seal box shows the mark with name, time and
    serial (``appearance.MarkStampStyle``); without one, the text stamp. ``cross_page_seal``
    placements (one per page, ``y`` and ``height`` only; a mark is required) become strips at the pages'
    right edges: the seal drawn ``height`` high, its width w = height * mark.width / mark.height cut
    into n = len(strips) vertical slices of w / n, slice i (page order) on the i-th page; no text.
    When she has only strips, the first strip is the field's main widget.
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
        checkboxes=dict(checkboxes or {}),
        timestamper=timestamper,
        validation_context=validation_context,
        mark=mark,
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

"""The form fields signers fill (text, number, date signed, checkbox) as PDF AcroForm fields.

They are created empty in one incremental revision when the envelope is sent, before any signature, so
that filling them later is form filling (ISO 32000-1 §12.7) and each signer's FieldMDP lock can name
the ones she filled (pades.signer_lock). Text values are written by pyHanko's
``populate_static_text_field`` in the signer's own revision (pades.sign_revision); checkboxes are
stateful buttons whose /V and /AS change from /Off to /Yes, which pyHanko's difference analysis accepts
as form filling. Drawing a checkbox's two appearance states is the only PDF written by hand here.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

CHECKED = "/Yes"
UNCHECKED = "/Off"
TEXT_KINDS = frozenset({"text", "number", "date_signed"})
CHECKBOX = "checkbox"


@dataclass(frozen=True)
class FormFieldSpec:
    name: str
    kind: str  # text, number, date_signed or checkbox
    page: int  # 1-based
    x: float
    y: float
    width: float
    height: float


def _acroform(writer: IncrementalPdfFileWriter) -> generic.DictionaryObject:
    root = writer.root
    if "/AcroForm" in root:
        form = root["/AcroForm"]
        assert isinstance(form, generic.DictionaryObject)
        if "/Fields" not in form:
            form[pdf_name("/Fields")] = generic.ArrayObject()
        raw = root.raw_get("/AcroForm")
        if isinstance(raw, generic.IndirectObject):
            writer.mark_update(raw)
        else:
            writer.update_root()
        return form
    helvetica = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica"),
                pdf_name("/Encoding"): pdf_name("/WinAnsiEncoding"),
            }
        )
    )
    form = generic.DictionaryObject(
        {
            pdf_name("/Fields"): generic.ArrayObject(),
            pdf_name("/DA"): generic.TextStringObject("/Helv 0 Tf 0 g"),
            pdf_name("/DR"): generic.DictionaryObject(
                {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/Helv"): helvetica})}
            ),
        }
    )
    root[pdf_name("/AcroForm")] = form
    writer.update_root()
    return form


def _box(writer: IncrementalPdfFileWriter, spec: FormFieldSpec) -> generic.ArrayObject:
    from econtract.signing.pades import Placement, _box

    x1, y1, x2, y2 = _box(
        writer, Placement(page=spec.page, x=spec.x, y=spec.y, width=spec.width, height=spec.height)
    )
    return generic.ArrayObject(generic.FloatObject(v) for v in (x1, y1, x2, y2))


def _stream(
    writer: IncrementalPdfFileWriter, width: float, height: float, content: str
) -> generic.IndirectObject:
    stream = generic.StreamObject(
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): generic.ArrayObject(generic.FloatObject(v) for v in (0, 0, width, height)),
            pdf_name("/Resources"): generic.DictionaryObject(),
        },
        stream_data=content.encode("ascii"),
    )
    return writer.add_object(stream)


def _checkbox_appearances(
    writer: IncrementalPdfFileWriter, width: float, height: float
) -> generic.DictionaryObject:
    border = f"0.6 w 0 G 0.3 0.3 {width - 0.6:.2f} {height - 0.6:.2f} re S"
    tick = (
        f"1.4 w 0 G {width * 0.2:.2f} {height * 0.5:.2f} m {width * 0.42:.2f} {height * 0.22:.2f} l "
        f"{width * 0.82:.2f} {height * 0.8:.2f} l S"
    )
    return generic.DictionaryObject(
        {
            pdf_name("/N"): generic.DictionaryObject(
                {
                    pdf_name(CHECKED): _stream(writer, width, height, f"q {border} {tick} Q"),
                    pdf_name(UNCHECKED): _stream(writer, width, height, f"q {border} Q"),
                }
            )
        }
    )


def add_form_fields(pdf: bytes, specs: Sequence[FormFieldSpec]) -> bytes:
    """One incremental revision with an empty AcroForm field (one widget) for each spec."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    form = _acroform(writer)
    fields = form["/Fields"]
    assert isinstance(fields, generic.ArrayObject)
    for spec in specs:
        page_ref = writer.find_page_for_modification(spec.page - 1)[0]
        rect = _box(writer, spec)
        field = generic.DictionaryObject(
            {
                pdf_name("/T"): generic.TextStringObject(spec.name),
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Widget"),
                pdf_name("/F"): generic.NumberObject(4),  # printed
                pdf_name("/Rect"): rect,
                pdf_name("/P"): page_ref,
            }
        )
        if spec.kind == CHECKBOX:
            width, height = float(rect[2]) - float(rect[0]), float(rect[3]) - float(rect[1])
            field[pdf_name("/FT")] = pdf_name("/Btn")
            field[pdf_name("/V")] = pdf_name(UNCHECKED)
            field[pdf_name("/AS")] = pdf_name(UNCHECKED)
            field[pdf_name("/AP")] = _checkbox_appearances(writer, width, height)
        elif spec.kind in TEXT_KINDS:
            field[pdf_name("/FT")] = pdf_name("/Tx")
            field[pdf_name("/DA")] = generic.TextStringObject("/Helv 0 Tf 0 g")
        else:
            raise ValueError(f"{spec.kind} is not a form field kind")
        field_ref = writer.add_object(field)
        fields.append(field_ref)
        writer.register_annotation(page_ref, field_ref)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def check_box(writer: IncrementalPdfFileWriter, name: str, checked: bool) -> None:
    """Set a checkbox created by add_form_fields, in the signer's revision."""
    fields = writer.root["/AcroForm"]["/Fields"]
    for ref in fields:
        field = ref.get_object()
        if field.get("/T") == name and field.get("/FT") == "/Btn":
            state = pdf_name(CHECKED if checked else UNCHECKED)
            field[pdf_name("/V")] = state
            field[pdf_name("/AS")] = state
            writer.mark_update(ref)
            return
    raise ValueError(f"no checkbox named {name}")

"""Signed PDFs whose later revisions change what a page shows, or only look as if they might.

Each builder makes one class from our throwaway PKI: a hand-written base file (``realworld.assemble``),
a pyHanko signature, then a later revision written by hand the way a viewer or an attacker would
write it. The expected verdict belongs to the class:

* shown content changed through "form filling" (appearance swap, hide, replace): not valid;
* validation data, annotations, identical rewrites, a choice field's ``/I``: intact (annotations
  with a warning naming what was added).
"""

from __future__ import annotations

from io import BytesIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from econtract.verification.tests import pki_fixtures as fx
from econtract.verification.tests import realworld as rw

FIELD_RECT = b"[72 600 372 630]"
_BODY = (
    b"BT /F1 18 Tf 72 760 Td (Sales contract No. 42) Tj ET\nBT /F1 14 Tf 72 612 Td (Amount: 100 EUR) Tj ET"
)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(data), extra, data)


def _appearance(text: bytes | None, *, opaque: bool = False) -> bytes:
    """A text field's normal appearance: optionally a white box, then ``text`` (``None``: nothing)."""
    ops = b"/Tx BMC q"
    if opaque:
        ops += b" 1 g 0 0 300 30 re f"
    if text is not None:
        ops += b" BT /F1 14 Tf 0 g 2 12 Td (" + text + b") Tj ET"
    ops += b" Q EMC"
    return _stream(
        ops, b" /Type /XObject /Subtype /Form /BBox [0 0 300 30] /Resources << /Font << /F1 5 0 R >> >>"
    )


def _widget(value: bytes | None, ap: int, *, field_type: bytes = b"/Tx", extra: bytes = b"") -> bytes:
    v = b" /V (" + value + b")" if value is not None else b""
    return (
        b"<< /Type /Annot /Subtype /Widget /FT "
        + field_type
        + b" /T (Organisation)"
        + v
        + b" /Rect "
        + FIELD_RECT
        + b" /P 3 0 R /F 4 /DA (/F1 14 Tf 0 g) /AP << /N %d 0 R >>" % ap
        + extra
        + b" >>"
    )


def form_base(
    value: bytes | None, appearance: bytes, *, body: bytes = _BODY, field_extra: bytes = b""
) -> bytes:
    """One page, one text field ``Organisation`` (object 7, appearance object 8) over the page text."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R /AcroForm 6 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> /Annots [7 0 R] >>",
        4: _stream(body),
        5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        6: b"<< /Fields [7 0 R] /DA (/F1 14 Tf 0 g) /DR << /Font << /F1 5 0 R >> >> >>",
        7: _widget(value, 8, extra=field_extra),
        8: appearance,
    }
    return rw.assemble(objects, b"/Root 1 0 R")


def _serialised(obj: generic.DictionaryObject, **overrides: generic.PdfObject) -> bytes:
    """``obj`` as PDF syntax, references kept, with keys replaced (``Annots=...``)."""
    copy = generic.DictionaryObject({key: obj.raw_get(key) for key in obj})
    for key, value in overrides.items():
        copy[pdf_name("/" + key)] = value
    out = BytesIO()
    copy.write_to_stream(out, None)
    return out.getvalue()


def _ref(number: int) -> generic.IndirectObject:
    return generic.IndirectObject(number, 0, None)  # type: ignore[arg-type]


def refill(signed: bytes, value: bytes | None, appearance: bytes) -> bytes:
    """What a viewer writes when the field is (re)filled: a new appearance and the widget pointing at it."""
    number = max(PdfFileReader(BytesIO(signed), strict=False).trailer["/Size"], 9)
    return rw.assemble({number: appearance, 7: _widget(value, number)}, b"/Root 1 0 R", base=signed)


def sign(pdf: bytes, pki: fx.ThrowawayPki, field_name: str = "Signature1") -> bytes:
    return fx.sign(pdf, pki, field_name=field_name, timestamp=False)


# --- content changed through form filling: never valid ----------------------------------------------


def appearance_swap(pki: fx.ThrowawayPki) -> bytes:
    """The value says "Attacker", the appearance the signer saw says "World Health Organisation";
    a later revision only regenerates the appearance from the value."""
    signed = sign(form_base(b"Attacker", _appearance(b"World Health Organisation")), pki)
    return refill(signed, b"Attacker", _appearance(b"Attacker"))


def hide_by_field(pki: fx.ThrowawayPki) -> bytes:
    """Hide: the signed view shows the field's opaque "Amount: 100 EUR" over page text "Amount:
    1,000,000 EUR"; a later revision empties the field and so reveals the text underneath."""
    body = b"BT /F1 18 Tf 72 760 Td (Sales contract No. 42) Tj ET\nBT /F1 14 Tf 74 612 Td (Amount: 1,000,000 EUR) Tj ET"
    signed = sign(form_base(b"Amount: 100 EUR", _appearance(b"Amount: 100 EUR", opaque=True), body=body), pki)
    return refill(signed, None, _appearance(None))


def replace_by_field(pki: fx.ThrowawayPki) -> bytes:
    """Replace: a field that is empty (and invisible) at signing is "filled" later with an opaque
    appearance that paints over the signed text "Amount: 100 EUR"."""
    signed = sign(form_base(None, _appearance(None)), pki)
    return refill(signed, b"Amount: 1,000,000 EUR", _appearance(b"Amount: 1,000,000 EUR", opaque=True))


# --- harmless changes: intact ----------------------------------------------------------------------


def filled_empty_field(pki: fx.ThrowawayPki) -> bytes:
    """A field empty at signing, filled later over blank paper: form filling, intact."""
    body = b"BT /F1 18 Tf 72 760 Td (Sales contract No. 42) Tj ET"
    signed = sign(form_base(None, _appearance(None), body=body), pki)
    return refill(signed, b"World Health Organisation", _appearance(b"World Health Organisation"))


def honest_form(pki: fx.ThrowawayPki) -> bytes:
    """A field whose appearance shows its value, signed; nothing else."""
    return sign(form_base(b"World Health Organisation", _appearance(b"World Health Organisation")), pki)


def swapped_but_unchanged(pki: fx.ThrowawayPki) -> bytes:
    """The prepared swap, signed, before anyone regenerates the appearance (a warning, not invalid)."""
    return sign(form_base(b"Attacker", _appearance(b"World Health Organisation")), pki)


def annotation_added(pki: fx.ThrowawayPki) -> bytes:
    """A reviewer's sticky note and a link in the blank margin, added after signing."""
    signed = sign(fx.blank_pdf(), pki)
    writer = IncrementalPdfFileWriter(BytesIO(signed))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    note = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Text"),
                pdf_name("/Rect"): generic.ArrayObject(map(generic.NumberObject, (500, 60, 520, 80))),
                pdf_name("/Contents"): generic.TextStringObject("Checked by legal"),
                pdf_name("/P"): page_ref,
                pdf_name("/F"): generic.NumberObject(4),
            }
        )
    )
    link = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Link"),
                pdf_name("/Rect"): generic.ArrayObject(map(generic.NumberObject, (72, 40, 200, 52))),
                pdf_name("/Border"): generic.ArrayObject(map(generic.NumberObject, (0, 0, 0))),
                pdf_name("/A"): generic.DictionaryObject(
                    {
                        pdf_name("/S"): pdf_name("/URI"),
                        pdf_name("/URI"): generic.TextStringObject("https://example.org/"),
                    }
                ),
            }
        )
    )
    annots = page.get("/Annots")
    annots = generic.ArrayObject(list(annots) if annots is not None else [])
    annots.extend([note, link])
    page[pdf_name("/Annots")] = annots
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def annotation_over_text(pki: fx.ThrowawayPki) -> bytes:
    """An opaque square annotation painted over the signed title: it changes what the page shows."""
    signed = sign(fx.blank_pdf(), pki)
    reader = PdfFileReader(BytesIO(signed), strict=False)
    number = reader.trailer["/Size"]
    kid = reader.root["/Pages"]["/Kids"].raw_get(0)
    box = _stream(b"1 g 0 0 300 30 re f", b" /Type /XObject /Subtype /Form /BBox [0 0 300 30]")
    square = b"<< /Type /Annot /Subtype /Square /Rect [70 750 370 780] /F 4 /AP << /N %d 0 R >> >>" % number
    existing = kid.get_object().get("/Annots", generic.ArrayObject())
    annots = generic.ArrayObject([existing.raw_get(i) for i in range(len(existing))] + [_ref(number + 1)])
    page = _serialised(kid.get_object(), Annots=annots)
    return rw.assemble(
        {number: box, number + 1: square, kid.reference.idnum: page}, _trailer_root(signed), base=signed
    )


def _trailer_root(pdf: bytes) -> bytes:
    root = PdfFileReader(BytesIO(pdf), strict=False).trailer.raw_get("/Root")
    return b"/Root %d 0 R" % root.reference.idnum


def dss_rewritten(pki: fx.ThrowawayPki) -> bytes:
    """Validation data added, then rewritten: the second DSS drops the first's VRI entry and the
    old DSS objects are freed."""
    signed = fx.sign(fx.blank_pdf(), pki, embed_validation_info=True)
    reader = PdfFileReader(BytesIO(signed), strict=False)
    dss_ref = reader.root.raw_get("/DSS").reference
    dss = reader.root["/DSS"]
    number = reader.trailer["/Size"]
    kept = b" ".join(
        b"/%s [%s]" % (key[1:].encode(), b" ".join(b"%d 0 R" % ref.reference.idnum for ref in dss[key]))
        for key in ("/Certs", "/CRLs", "/OCSPs")
        if key in dss
    )
    root_ref = reader.trailer.raw_get("/Root").reference
    catalog = _serialised(reader.root, DSS=_ref(number))
    rewritten = rw.assemble(
        {number: b"<< /Type /DSS " + kept + b" >>", root_ref.idnum: catalog},
        b"/Root %d 0 R" % root_ref.idnum,
        base=signed,
    )
    return _free(rewritten, dss_ref.idnum, b"/Root %d 0 R" % root_ref.idnum)


def _free(pdf: bytes, number: int, trailer: bytes) -> bytes:
    """An update whose only entry frees object ``number`` (as Acrobat does with a replaced DSS)."""
    xref_at = len(pdf)
    prev = rw._last_startxref(pdf)
    size = max(rw._previous_size(pdf), number + 1)
    body = (
        b"xref\n0 1\n%010d 65535 f \n%d 1\n0000000000 00001 f \ntrailer\n<< /Size %d /Prev %d %s >>\nstartxref\n%d\n%%%%EOF\n"
        % (
            number,
            number,
            size,
            prev,
            trailer,
            xref_at,
        )
    )
    return pdf + body


def identical_resources(pki: fx.ThrowawayPki) -> bytes:
    """The page dictionary rewritten to point at a fresh copy of its (identical) resource dictionary."""
    signed = sign(fx.blank_pdf(), pki)
    reader = PdfFileReader(BytesIO(signed), strict=False)
    kid = reader.root["/Pages"]["/Kids"].raw_get(0)
    number = reader.trailer["/Size"]
    resources = _serialised(kid.get_object()["/Resources"])
    page = _serialised(kid.get_object(), Resources=_ref(number))
    return rw.assemble({number: resources, kid.reference.idnum: page}, _trailer_root(signed), base=signed)


def choice_field_selected(pki: fx.ThrowawayPki) -> bytes:
    """A list box left empty at signing; a later party selects an option, writing ``/V`` and ``/I``."""
    options = b" /Opt [(Beijing) (Shanghai) (Shenzhen)] /Ff 0"
    blank_box = _stream(b"/Tx BMC EMC", b" /Type /XObject /Subtype /Form /BBox [0 0 300 30]")
    body = b"BT /F1 18 Tf 72 760 Td (Sales contract No. 42) Tj ET"
    base = form_base(None, blank_box, body=body, field_extra=options)
    base = base.replace(b"/FT /Tx", b"/FT /Ch")
    signed = sign(base, pki)
    number = max(PdfFileReader(BytesIO(signed), strict=False).trailer["/Size"], 9)
    filled = _widget(b"Shanghai", number, field_type=b"/Ch", extra=options + b" /I [1]")
    return rw.assemble({number: _appearance(b"Shanghai"), 7: filled}, b"/Root 1 0 R", base=signed)


# --- look-alikes of the harmless classes that are not harmless ----------------------------------------


def freed_page_content(pki: fx.ThrowawayPki) -> bytes:
    """An update that frees the page's content stream: the signed text disappears."""
    signed = sign(fx.blank_pdf(), pki)
    reader = PdfFileReader(BytesIO(signed), strict=False)
    contents = reader.root["/Pages"]["/Kids"][0].raw_get("/Contents").reference.idnum
    return _free(signed, contents, _trailer_root(signed))


def different_resources(pki: fx.ThrowawayPki) -> bytes:
    """The page rewritten to point at a fresh resource dictionary whose font is another one."""
    signed = sign(fx.blank_pdf(), pki)
    reader = PdfFileReader(BytesIO(signed), strict=False)
    kid = reader.root["/Pages"]["/Kids"].raw_get(0)
    number = reader.trailer["/Size"]
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>"
    resources = b"<< /Font << /F1 %d 0 R >> >>" % (number + 1)
    page = _serialised(kid.get_object(), Resources=_ref(number))
    return rw.assemble(
        {number: resources, number + 1: font, kid.reference.idnum: page}, _trailer_root(signed), base=signed
    )

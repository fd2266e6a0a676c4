"""A signer's mark in her signature box, and a seal across the pages' right edge.

Every check reads rendered pixels (PDFium, forms drawn) or the signed PDF's own objects, and every
signed document is judged by pyHanko (and by poppler's pdfsig when installed).
"""

from __future__ import annotations

import io
import json
import math
import shutil
from io import StringIO

import pypdfium2
import pytest
from asn1crypto import pem, x509
from django.core.management import call_command
from PIL import Image, ImageChops, ImageDraw
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import DocumentSecurityStore, EmbeddedPdfSignature, validate_pdf_signature

from econtract.documents.samples import make_contract_pdf
from econtract.pki import custody
from econtract.pki.services import (
    get_timestamper,
    platform_chain,
    root_certificate,
    signing_validation_context_for,
)
from econtract.signing import appearance, pades
from econtract.signing.marks import InvalidMark, Mark, decode_png
from econtract.signing.tests.factories import PIN, people

signs = pytest.mark.django_db(transaction=True)  # the platform PKI and her key live in the database

SCALE = 2  # pixels per point when rendering
INK = (20, 30, 160)  # the signature's blue ink
SIGNED_AT = "2026-12-01 12:00:00 CST"
# over the page's own text ("甲方 Party A" and "乙方 Party B" of the sample's first page)
SIGNATURE_BOX = pades.Placement(page=1, x=60, y=690, width=220, height=70)
SEAL_BOX = pades.Placement(page=1, x=330, y=450, width=130, height=130, kind="seal")
CROSS_Y, CROSS_HEIGHT = 300.0, 120.0


# --- the marks --------------------------------------------------------------------------------------


def signature_png(width: int = 600, height: int = 200) -> bytes:
    """A handwriting-like stroke in blue ink on a transparent canvas."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    points = [(20 + i * (width - 40) / 40, height / 2 + math.sin(i / 2.2) * height / 3) for i in range(41)]
    draw.line(points, fill=(*INK, 255), width=14, joint="curve")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _circle(cx: float, cy: float, r: float) -> bytes:
    k = 0.5523 * r  # cubic Bézier approximation of a quarter circle
    return (
        f"{cx + r} {cy} m {cx + r} {cy + k} {cx + k} {cy + r} {cx} {cy + r} c "
        f"{cx - k} {cy + r} {cx - r} {cy + k} {cx - r} {cy} c "
        f"{cx - r} {cy - k} {cx - k} {cy - r} {cx} {cy - r} c "
        f"{cx + k} {cy - r} {cx + r} {cy - k} {cx + r} {cy} c h "
    ).encode()


def red_seal_drawing(size: float = 100.0) -> bytes:
    """A round seal as ``seals.drawing`` makes it: filled paths only, red, a ring and a star."""
    c = size / 2
    star = []
    for i in range(10):
        radius = size * (0.22 if i % 2 == 0 else 0.09)
        angle = math.pi / 2 + i * math.pi / 5
        star.append(f"{c + radius * math.cos(angle):.3f} {c + radius * math.sin(angle):.3f}")
    star_path = (star[0] + " m " + " ".join(p + " l" for p in star[1:]) + " h f").encode()
    ring = _circle(c, c, size * 0.48) + _circle(c, c, size * 0.42) + b"f*"
    return b"0.85 0.1 0.1 rg " + ring + b" " + star_path


def seal_mark() -> Mark:
    """The round seal with a tab at its upper left, so that a strip out of place shows."""
    return Mark(width=100, height=100, drawing=red_seal_drawing() + b" 4 78 14 14 re f")


# --- signing, rendering, judging ----------------------------------------------------------------------


@pytest.fixture
def signers(make_user, enterprise):
    _, first, second = people(make_user, enterprise)
    return first, second


@pytest.fixture
def contract() -> bytes:
    return make_contract_pdf(
        "测试合同 Test Agreement", ["甲方 Party A", "乙方 Party B", "条款 Terms apply."], pages=3
    )


def sign(pdf: bytes, user, field_name: str, placements, mark: Mark | None) -> bytes:
    pin = PIN["first"] if user.email.startswith("first") else PIN["second"]
    private_key, issued = custody.unwrap_signing_key(user, pin)
    certificate = x509.Certificate.load(bytes(issued.certificate_der))
    return pades.sign_revision(
        pdf,
        field_name=field_name,
        placements=placements,
        private_key=private_key,
        certificate=certificate,
        chain=platform_chain(),
        signer_name=user.full_name,
        signed_at_label=SIGNED_AT,
        timestamper=get_timestamper(),
        validation_context=signing_validation_context_for([certificate]),
        mark=mark,
    )


def render(pdf: bytes, page: int) -> Image.Image:
    document = pypdfium2.PdfDocument(pdf)
    try:
        document.init_forms()  # PDFium draws widget appearances only then
        # text without subpixel smoothing: glyph edges stay grey, never coloured fringes
        return (
            document[page - 1]
            .render(scale=SCALE, may_draw_forms=True, no_smoothtext=True)
            .to_pil()
            .convert("RGB")
        )
    finally:
        document.close()


def page_size(pdf: bytes, page: int) -> tuple[float, float]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return document[page - 1].get_size()
    finally:
        document.close()


def pixel_box(
    pdf: bytes, page: int, x: float, y: float, width: float, height: float
) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) pixels of a box given in points from the lower-left corner."""
    _, page_height = page_size(pdf, page)
    return (
        math.floor(x * SCALE),
        math.floor((page_height - y - height) * SCALE),
        math.ceil((x + width) * SCALE),
        math.ceil((page_height - y) * SCALE),
    )


def count(image: Image.Image, box: tuple[int, int, int, int], test) -> int:
    region = image.crop(box)
    return sum(1 for pixel in region.get_flattened_data() if test(pixel))


# Colours of the ink anti-aliased against white keep their hue; PDFium's coloured glyph fringes do not.
def is_ink(p) -> bool:
    return p[2] > 100 and p[2] - p[0] > 60 and abs(p[1] - p[0]) < 25


def is_red(p) -> bool:
    return p[0] > 150 and p[1] < 110 and p[2] < 110 and abs(p[1] - p[2]) < 30


def is_dark(p) -> bool:
    return max(p) < 110


def changed_outside(before: Image.Image, after: Image.Image, boxes) -> int:
    """Pixels that differ outside every box (each grown by one pixel for anti-aliasing)."""
    diff = ImageChops.difference(before, after).convert("L").point(lambda v: 255 if v > 24 else 0)
    for left, top, right, bottom in boxes:
        diff.paste(0, (left - 1, top - 1, right + 1, bottom + 1))
    return sum(1 for v in diff.get_flattened_data() if v)


def signatures(pdf: bytes) -> list[EmbeddedPdfSignature]:
    reader = PdfFileReader(io.BytesIO(pdf))
    return [s for s in reader.embedded_signatures if s.sig_object.get("/Type") == "/Sig"]


def judged(signature: EmbeddedPdfSignature):
    """pyHanko on its own: our root, revocation data from the document's DSS, no network."""
    context = DocumentSecurityStore.read_dss(signature.reader).as_validation_context(
        {"trust_roots": [root_certificate()], "allow_fetching": False, "revocation_mode": "require"}
    )
    return validate_pdf_signature(signature, context)


def widgets(pdf: bytes, field_name: str) -> list[tuple[int, list[float], generic.DictionaryObject]]:
    """(1-based page, rect, widget) of every widget of the field, in page order."""
    reader = PdfFileReader(io.BytesIO(pdf))
    pages = [
        reader.find_page_for_modification(i)[0].reference for i in range(reader.root["/Pages"]["/Count"])
    ]
    (field,) = [
        f.get_object() for f in reader.root["/AcroForm"]["/Fields"] if f.get_object()["/T"] == field_name
    ]
    found = []
    for kid in field["/Kids"]:
        widget = kid.get_object()
        page = pages.index(widget.raw_get("/P").reference) + 1
        found.append((page, [float(v) for v in widget["/Rect"]], widget))
    return sorted(found, key=lambda item: item[0])


def pdfsig_valid(pdf: bytes, tmp_path) -> list[str]:
    """pdfsig's verdict on each signature (its certificate check needs our OCSP responder online: not here).

    poppler 22 reads every widget carrying /Parent as a field of its own and lists it as "not signed";
    those entries carry no verdict and are left out.
    """
    from tests.e2e.independent_checks import pdfsig_report

    path, root_pem = tmp_path / "signed.pdf", tmp_path / "root.pem"
    path.write_bytes(pdf)
    root_pem.write_bytes(pem.armor("CERTIFICATE", root_certificate().dump()))
    return [
        s["Signature Validation"]
        for s in pdfsig_report(path, root_pem, tmp_path)
        if "Signature Validation" in s
    ]


# --- a personal signature image ---------------------------------------------------------------------


@signs
def test_her_signature_image_sits_in_her_box_over_the_page_text_with_name_time_and_serial(
    signers, contract, tmp_path
):
    first, _ = signers
    box = SIGNATURE_BOX
    pdf = sign(contract, first, "Signature_1", [box], Mark.from_png(signature_png()))

    before, after = render(contract, 1), render(pdf, 1)
    pixels = pixel_box(pdf, 1, box.x, box.y, box.width, box.height)
    left, top, right, bottom = pixels
    # the ink is drawn inside the box, and nothing changed anywhere else on the page
    assert count(after, pixels, is_ink) > 1000
    assert count(before, pixels, is_ink) == 0
    assert changed_outside(before, after, [pixels]) == 0
    # the image is transparent where it has no ink: the page's own text under the box still shows
    text_under = [
        (x, y) for x in range(left, right) for y in range(top, bottom) if is_dark(before.getpixel((x, y)))
    ]
    assert len(text_under) > 300
    still_dark = sum(1 for xy in text_under if max(after.getpixel(xy)) < 140)
    assert still_dark / len(text_under) > 0.97
    # no border: the box's outline is the page's own
    for y in (top + 1, bottom - 2):
        assert [after.getpixel((x, y)) for x in range(left, right)] == [
            before.getpixel((x, y)) for x in range(left, right)
        ]
    # small text (name, time, serial) beside the image, in the right part of the box
    text_part = (left + (right - left) * 6 // 10, top, right, bottom)
    new_dark = sum(
        1
        for x in range(text_part[0], text_part[2])
        for y in range(text_part[1], text_part[3])
        if is_dark(after.getpixel((x, y))) and not is_dark(before.getpixel((x, y)))
    )
    assert new_dark > 150
    assert count(after, text_part, is_ink) < count(after, pixels, is_ink) / 10

    (signature,) = signatures(pdf)
    status = judged(signature)
    assert status.bottom_line and status.intact and status.valid
    if shutil.which("pdfsig") and shutil.which("certutil"):
        assert pdfsig_valid(pdf, tmp_path) == ["Signature is Valid."]


@signs
def test_the_marks_appearance_is_written_in_her_own_signed_revision(signers, contract):
    first, _ = signers
    pdf = sign(contract, first, "Signature_1", [SIGNATURE_BOX], Mark.from_png(signature_png()))

    (signature,) = signatures(pdf)
    xrefs = signature.reader.xrefs
    ((_, _, widget),) = widgets(pdf, "Signature_1")
    normal = widget["/AP"].raw_get("/N")
    mark = normal.get_object()["/Resources"]["/XObject"].raw_get("/Mark")
    image = mark.get_object()["/Resources"]["/XObject"].raw_get("/Im")
    smask = image.get_object().raw_get("/SMask")
    assert image.get_object()["/Subtype"] == "/Image" and smask.get_object()["/Subtype"] == "/Image"
    for ref in (normal, mark, image, smask):
        assert xrefs.get_introducing_revision(ref.reference) == signature.signed_revision
    assert judged(signature).coverage.name == "ENTIRE_REVISION"


@pytest.mark.parametrize("kind", ["signature", "seal"])
@pytest.mark.parametrize("box", [(220, 70), (90, 90), (130, 130), (60, 200), (400, 40), (30, 20)])
@pytest.mark.parametrize("mark", [(600, 200), (100, 100), (80, 240)])
def test_the_mark_keeps_its_aspect_and_mark_and_text_stay_inside_the_box(kind, box, mark):
    width, height = box
    text = (118.0, 24.0)  # three lines at the mark font size
    placed = appearance.mark_layout(
        kind=kind, box_width=width, box_height=height, mark_size=mark, text_size=text
    )
    mark_box = (placed.mark_x, placed.mark_y, mark[0] * placed.mark_scale, mark[1] * placed.mark_scale)
    text_box = (placed.text_x, placed.text_y, text[0] * placed.text_scale, text[1] * placed.text_scale)
    for x, y, w, h in (mark_box, text_box):
        assert -0.01 <= x and x + w <= width + 0.01 and -0.01 <= y and y + h <= height + 0.01
        assert w > 0 and h > 0
    assert placed.text_scale <= 1  # shrunk to fit, never enlarged
    across = min(mark_box[0] + mark_box[2], text_box[0] + text_box[2]) - max(mark_box[0], text_box[0])
    down = min(mark_box[1] + mark_box[3], text_box[1] + text_box[3]) - max(mark_box[1], text_box[1])
    if kind == "signature":
        assert across <= 0.01 or down <= 0.01  # a signature never covers its text
    else:
        # a seal overlaps the text at most by its allowance
        assert (
            across <= mark_box[2] * appearance.SEAL_OVERLAP + 0.01
            or down <= mark_box[3] * appearance.SEAL_OVERLAP + 0.01
        )


# --- a seal (vector drawing) ------------------------------------------------------------------------


@signs
def test_a_generated_seal_is_red_vector_ink_in_its_box_and_the_text_below_stays_legible(signers, contract):
    _, second = signers
    box = SEAL_BOX
    drawing = red_seal_drawing()
    pdf = sign(contract, second, "Seal_1", [box], Mark(width=100, height=100, drawing=drawing))

    before, after = render(contract, 1), render(pdf, 1)
    pixels = pixel_box(pdf, 1, box.x, box.y, box.width, box.height)
    left, top, right, bottom = pixels
    assert count(after, pixels, is_red) > 5000
    assert changed_outside(before, after, [pixels]) == 0
    # the text band at the bottom of the box: dark glyphs, some under the seal's lower edge
    band = (left, bottom - 26 * SCALE, right, bottom)
    assert count(after, band, is_dark) > 200
    assert count(after, band, is_red) > 0  # the seal overlaps the text a little, as a stamp does

    # the seal is the drawing itself (vector), not a picture of it
    ((_, _, widget),) = widgets(pdf, "Seal_1")
    mark = widget["/AP"]["/N"]["/Resources"]["/XObject"]["/Mark"]
    assert mark["/Subtype"] == "/Form" and mark.data == drawing
    assert "/XObject" not in mark.get("/Resources", {})
    assert judged(signatures(pdf)[0]).bottom_line


def test_an_opaque_png_has_no_soft_mask_and_unreadable_images_are_refused():
    opaque = io.BytesIO()
    Image.new("RGB", (300, 100), (255, 255, 255)).save(opaque, "PNG")
    assert decode_png(opaque.getvalue()).mode == "RGB"
    assert decode_png(signature_png()).mode == "RGBA"

    with pytest.raises(InvalidMark):
        Mark.from_png(b"GIF89a not a png")
    jpeg = io.BytesIO()
    Image.new("RGB", (30, 10)).save(jpeg, "JPEG")
    with pytest.raises(InvalidMark):
        Mark.from_png(jpeg.getvalue())
    huge = io.BytesIO()
    Image.new("1", (6000, 3000)).save(huge, "PNG")  # 18 Mpx: refused from its header
    with pytest.raises(InvalidMark):
        Mark.from_png(huge.getvalue())
    with pytest.raises(InvalidMark):
        Mark(width=0, height=10, drawing=b"")


# --- the cross-page seal ----------------------------------------------------------------------------


def cross_page(pages=(1, 2, 3)) -> list[pades.Placement]:
    return [
        pades.Placement(page=p, x=0, y=CROSS_Y, width=0, height=CROSS_HEIGHT, kind="cross_page_seal")
        for p in pages
    ]


def seal_alone(mark: Mark, height: float) -> Image.Image:
    """The whole seal drawn at ``height`` points on a page of its own size, rendered like the strips."""
    width = height * mark.width / mark.height
    writer = PdfFileWriter()
    scale = height / mark.height
    content = generic.StreamObject(stream_data=b"q %g 0 0 %g 0 0 cm " % (scale, scale) + mark.drawing + b" Q")
    page = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Page"),
            pdf_name("/MediaBox"): generic.ArrayObject(generic.FloatObject(v) for v in (0, 0, width, height)),
            pdf_name("/Contents"): writer.add_object(content),
            pdf_name("/Resources"): generic.DictionaryObject(),
        }
    )
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    return render(out.getvalue(), 1)


def red_mask(image: Image.Image) -> set[tuple[int, int]]:
    return {(x, y) for x in range(image.width) for y in range(image.height) if is_red(image.getpixel((x, y)))}


def near(points: set[tuple[int, int]], others: set[tuple[int, int]]) -> float:
    """Share of ``points`` within one pixel of ``others`` (strip edges fall between pixels)."""
    grown = {(x + dx, y + dy) for x, y in others for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
    return len(points & grown) / len(points)


@signs
def test_a_person_signs_then_her_company_seals_with_a_cross_page_seal_on_every_right_edge(
    signers, contract, tmp_path
):
    first, second = signers
    mark = seal_mark()
    by_person = sign(contract, first, "Signature_1", [SIGNATURE_BOX], Mark.from_png(signature_png()))
    sealed = sign(by_person, second, "Seal_2", [SEAL_BOX, *cross_page()], mark)

    seal_width = CROSS_HEIGHT * mark.width / mark.height
    strips = [(page, rect) for page, rect, _ in widgets(sealed, "Seal_2") if rect[0] > 500]
    assert [page for page, _ in strips] == [1, 2, 3]
    assert sum(rect[2] - rect[0] for _, rect in strips) == pytest.approx(seal_width, abs=0.01)

    cut = []
    for page, rect in strips:
        page_width, _ = page_size(sealed, page)
        assert rect[2] == pytest.approx(page_width) and rect[2] - rect[0] == pytest.approx(seal_width / 3)
        assert (rect[1], rect[3]) == pytest.approx((CROSS_Y, CROSS_Y + CROSS_HEIGHT))
        before, after = render(by_person, page), render(sealed, page)
        strip_pixels = pixel_box(sealed, page, rect[0], rect[1], rect[2] - rect[0], rect[3] - rect[1])
        assert count(after, strip_pixels, is_red) > 300, f"no red strip on page {page}"
        shown = [strip_pixels] + (
            [pixel_box(sealed, 1, SEAL_BOX.x, SEAL_BOX.y, 130, 130)] if page == 1 else []
        )
        assert changed_outside(before, after, shown) == 0, f"page {page} changed outside its strip"
        left = round(rect[0] * SCALE)
        top = strip_pixels[1]
        cut.append(
            after.crop(
                (left, top, left + round((rect[2] - rect[0]) * SCALE), top + round(CROSS_HEIGHT * SCALE))
            )
        )

    # laid side by side, the strips are the seal
    joined = Image.new("RGB", (sum(c.width for c in cut), cut[0].height), "white")
    offset = 0
    for piece in cut:
        joined.paste(piece, (offset, 0))
        offset += piece.width
    whole = seal_alone(mark, CROSS_HEIGHT).resize(joined.size)
    ours, reference = red_mask(joined), red_mask(whole)
    assert len(reference) > 2000
    assert near(ours, reference) > 0.99 and near(reference, ours) > 0.99

    person, company = (judged(s) for s in signatures(sealed))
    assert person.bottom_line and person.modification_level == ModificationLevel.FORM_FILLING
    assert company.bottom_line and company.intact and company.valid
    # every strip's appearance came with the company's signature, none later
    (company_signature,) = [s for s in signatures(sealed) if s.field_name == "Seal_2"]
    for _, _, widget in widgets(sealed, "Seal_2"):
        normal = widget["/AP"].raw_get("/N").reference
        assert (
            company_signature.reader.xrefs.get_introducing_revision(normal)
            == company_signature.signed_revision
        )
    if shutil.which("pdfsig") and shutil.which("certutil"):
        assert pdfsig_valid(sealed, tmp_path) == ["Signature is Valid.", "Signature is Valid."]
    # and our own verifier
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed)
    out = StringIO()
    call_command("verify", str(path), "--json", stdout=out, stderr=StringIO())
    report = json.loads(out.getvalue())
    assert report["valid"] is True, report
    assert {s["field"]: s["status"] for s in report["signatures"]} == {
        "Signature_1": "valid",
        "Seal_2": "valid",
    }


def scanned_seal_png(size: int = 400) -> bytes:
    """A scanned seal after red-ink extraction: a red ring and dot on transparency."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 8, size - 8, size - 8), outline=(205, 30, 35, 255), width=size // 14)
    draw.ellipse((size * 0.35, size * 0.35, size * 0.65, size * 0.65), fill=(205, 30, 35, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@signs
@pytest.mark.parametrize("made", ["drawn", "scanned"])
def test_a_seal_only_across_the_pages_makes_the_first_strip_the_fields_main_widget(signers, contract, made):
    first, second = signers
    mark = seal_mark() if made == "drawn" else Mark.from_png(scanned_seal_png())
    by_person = sign(contract, first, "Signature_1", [SIGNATURE_BOX], Mark.from_png(signature_png()))
    sealed = sign(by_person, second, "Seal_2", cross_page(pages=(3, 1, 2)), mark)

    shown = widgets(sealed, "Seal_2")
    assert [page for page, _, _ in shown] == [1, 2, 3]  # one strip per page, whatever order they came in
    (signature,) = [s for s in signatures(sealed) if s.field_name == "Seal_2"]
    main = signature.sig_field["/Kids"][0]
    assert [float(v) for v in main["/Rect"]] == shown[0][1]  # strip 0 (page 1) is the first widget
    for page, rect, _ in shown:
        strip = pixel_box(sealed, page, rect[0], rect[1], rect[2] - rect[0], rect[3] - rect[1])
        assert count(render(sealed, page), strip, is_red) > 300
    person, company = (judged(s) for s in signatures(sealed))
    assert person.bottom_line and person.modification_level == ModificationLevel.FORM_FILLING
    assert company.bottom_line


@signs
def test_the_platforms_own_seal_drawing_signs_in_a_box_and_across_the_pages(signers, contract):
    from econtract.seals.drawing import draw_seal, type_text_for

    _, second = signers
    drawing = draw_seal(text="福州示例科技有限公司", type_text=type_text_for("contract"), shape="round")
    mark = Mark(width=drawing.width, height=drawing.height, drawing=drawing.content)
    sealed = sign(contract, second, "Seal_1", [SEAL_BOX, *cross_page()], mark)

    box = pixel_box(sealed, 1, SEAL_BOX.x, SEAL_BOX.y, SEAL_BOX.width, SEAL_BOX.height)
    assert count(render(sealed, 1), box, is_red) > 3000
    for page, rect, _ in widgets(sealed, "Seal_1")[1:]:
        strip = pixel_box(sealed, page, rect[0], rect[1], rect[2] - rect[0], rect[3] - rect[1])
        assert count(render(sealed, page), strip, is_red) > 200, f"no strip on page {page}"
    (signature,) = signatures(sealed)
    assert judged(signature).bottom_line


@signs
def test_on_a_cropped_page_the_strip_sits_at_the_edge_a_reader_sees(signers, contract):
    _, second = signers
    writer = IncrementalPdfFileWriter(io.BytesIO(contract))
    page_ref = writer.find_page_for_modification(1)[0]
    page_ref.get_object()[pdf_name("/CropBox")] = generic.ArrayObject(
        generic.FloatObject(v) for v in (0, 0, 500, 842)
    )
    writer.mark_update(page_ref)
    out = io.BytesIO()
    writer.write(out)
    cropped = out.getvalue()

    sealed = sign(cropped, second, "Seal_1", cross_page(), seal_mark())

    rects = {page: rect for page, rect, _ in widgets(sealed, "Seal_1")}
    assert rects[2][2] == 500 and rects[1][2] == pytest.approx(page_size(sealed, 1)[0])
    shown = render(sealed, 2)  # PDFium shows the CropBox: the strip is at the image's right edge
    assert shown.width == 500 * SCALE
    edge = pixel_box(sealed, 2, 500 - 40, CROSS_Y, 40, CROSS_HEIGHT)
    assert count(shown, edge, is_red) > 300
    assert judged(signatures(sealed)[0]).bottom_line


@signs
def test_a_cross_page_seal_needs_a_mark(signers, contract):
    first, _ = signers
    with pytest.raises(ValueError):
        sign(contract, first, "Seal_1", cross_page(), None)

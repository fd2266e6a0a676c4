"""Generated seals: measured on the pixels PDFium renders, and compared with committed references.

Regenerate the references (after a deliberate change of the drawing, then look at them):
``ECONTRACT_REGENERATE_SEAL_REFERENCES=1 .venv/bin/python -m pytest -q src/econtract/seals/tests/test_drawing.py -k reference``
"""

from __future__ import annotations

import io
import math
import os
import re
from pathlib import Path

import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image

from econtract.seals.drawing import (
    MM,
    PlacedGlyph,
    SealLayout,
    draw_seal,
    render_png,
    seal_font_name,
    seal_layout,
    single_page_pdf,
    type_text_for,
)
from econtract.seals.errors import InvalidSeal

DPI = 300
PX = DPI / 25.4  # pixels per millimetre
REFERENCE = Path(__file__).parent / "reference"

NAME_4 = "福州科技"
NAME_20 = "福建省福州市鼓楼区示例网络信息科技有限公司"[:20]
CODE = "3501020012345"


class Raster:
    """The alpha channel of a rendered seal, addressed in mm from the seal's centre (y up)."""

    def __init__(self, png: bytes, width_mm: float, height_mm: float) -> None:
        image = Image.open(io.BytesIO(png))
        assert image.mode == "RGBA"
        self.image = image
        self.alpha = image.getchannel("A").load()
        self.width, self.height = image.size
        # PDFium rounds the bitmap up to whole pixels and stretches the page over all of it
        assert (self.width, self.height) == (math.ceil(width_mm * PX), math.ceil(height_mm * PX))
        self.centre_x, self.centre_y = self.width / 2, self.height / 2
        self.scale = self.width / width_mm  # pixels per mm

    def at(self, x_mm: float, y_mm: float) -> int:
        column = math.floor(self.centre_x + x_mm * self.scale)
        row = math.floor(self.centre_y - y_mm * self.scale)
        if not (0 <= column < self.width and 0 <= row < self.height):
            return 0
        return int(self.alpha[column, row])

    def inked(self, threshold: int = 128) -> list[tuple[float, float]]:
        """Every pixel's centre (mm) whose alpha is at least ``threshold``."""
        points = []
        for row in range(self.height):
            for column in range(self.width):
                if self.alpha[column, row] >= threshold:
                    points.append(
                        (
                            (column + 0.5 - self.centre_x) / self.scale,
                            (self.centre_y - row - 0.5) / self.scale,
                        )
                    )
        return points


def rendered(**spec: str) -> tuple[SealLayout, Raster]:
    layout = seal_layout(**spec)
    return layout, Raster(render_png(draw_seal(**spec), dpi=DPI), layout.width, layout.height)


def overlaps(first: PlacedGlyph, second: PlacedGlyph) -> bool:
    """Separating-axis test of two rotated rectangles."""
    a, b = first.corners(), second.corners()
    for polygon in (a, b):
        for index in range(4):
            (x1, y1), (x2, y2) = polygon[index], polygon[(index + 1) % 4]
            axis = (y1 - y2, x2 - x1)
            project_a = [axis[0] * x + axis[1] * y for x, y in a]
            project_b = [axis[0] * x + axis[1] * y for x, y in b]
            if max(project_a) <= min(project_b) or max(project_b) <= min(project_a):
                return False
    return True


def inside(glyph: PlacedGlyph, x: float, y: float, slack: float = 0.0) -> bool:
    cos, sin = math.cos(glyph.rotation), math.sin(glyph.rotation)
    dx, dy = x - glyph.x, y - glyph.y
    u, v = dx * cos + dy * sin, -dx * sin + dy * cos
    return abs(u) <= glyph.width / 2 + slack and abs(v) <= glyph.height / 2 + slack


def polar_degrees(glyph: PlacedGlyph) -> float:
    return math.degrees(math.atan2(glyph.y, glyph.x)) % 360


def assert_no_overlap(glyphs: list[PlacedGlyph]) -> None:
    for i, first in enumerate(glyphs):
        for second in glyphs[i + 1 :]:
            assert not overlaps(first, second), (first, second)


def assert_ink_in_boxes(
    raster: Raster, glyphs: list[PlacedGlyph], keep: object, others: tuple[PlacedGlyph, ...] = ()
) -> None:
    """Every box has ink, and all ink in the region ``keep`` selects lies in some box (or in ``others``)."""
    points = [p for p in raster.inked() if keep(*p)]  # type: ignore[operator]
    for glyph in glyphs:
        if glyph.char.strip():
            assert any(inside(glyph, x, y) for x, y in points), f"no ink drawn for {glyph.char}"
    stray = [p for p in points if not any(inside(g, *p, slack=0.12) for g in (*glyphs, *others))]
    assert len(stray) <= len(points) // 500, stray[:10]


# --- round ------------------------------------------------------------------------------------


def test_official_round_seal_is_a_42mm_ring_of_1_2mm_with_nothing_outside() -> None:
    # Given the official seal of a company (公章: no words on the line)
    layout, raster = rendered(text="福州示例科技有限公司", type_text=type_text_for("official"), shape="round")

    # Then it is 42 mm across, a red ring of 1.2 mm: every point on the ring's mid-line is inked,
    assert (layout.width, layout.border) == (42.0, 1.2)
    for degree in range(0, 360, 2):
        angle = math.radians(degree)
        assert raster.at(20.4 * math.cos(angle), 20.4 * math.sin(angle)) > 240, degree
        # the gap between the ring and the name stays clear,
        assert raster.at(19.45 * math.cos(angle), 19.45 * math.sin(angle)) < 40, degree
    # and nothing at all lies outside the circle
    assert all(math.hypot(x, y) <= 21.0 + 1 / PX for x, y in raster.inked(threshold=8))  # within a pixel
    # The ink is seal red on transparency
    corner = raster.image.getpixel((0, 0))
    assert isinstance(corner, tuple) and corner[3] == 0
    red = raster.image.getpixel((raster.width // 2, raster.height // 2))
    assert isinstance(red, tuple) and red[3] == 255 and red[0] > 200 and red[1] < 40 and red[2] < 40


def test_the_star_is_centred_and_five_pointed() -> None:
    # Given a contract seal (40 mm)
    layout, raster = rendered(text=NAME_4, type_text=type_text_for("contract"), shape="round", code=CODE)
    assert layout.width == 40.0
    star = layout.star_radius
    assert star == pytest.approx(7.0 * 40 / 42)

    # When we take the ink of the central disc (the star alone: the type text starts lower)
    points = [(x, y) for x, y in raster.inked() if math.hypot(x, y) <= star + 0.3]
    # Then its centroid is the seal's centre within 0.1 mm, horizontally; the star's area lies at
    # the centroid of a regular pentagram (its centre)
    centroid_x = sum(x for x, _ in points) / len(points)
    centroid_y = sum(y for _, y in points) / len(points)
    assert abs(centroid_x) < 0.1 and abs(centroid_y) < 0.1
    # and it has five points: ink at each tip, none between two tips at the same radius
    for k in range(5):
        tip = math.radians(90 + 72 * k)
        notch = tip + math.radians(36)
        assert raster.at(0.9 * star * math.cos(tip), 0.9 * star * math.sin(tip)) > 128
        assert raster.at(0.9 * star * math.cos(notch), 0.9 * star * math.sin(notch)) == 0


@pytest.mark.parametrize("name", [NAME_4, NAME_20], ids=["4 characters", "20 characters"])
def test_the_name_runs_left_to_right_along_the_upper_arc(name: str) -> None:
    # Given a contract seal whose name has 4 or 20 characters
    layout, raster = rendered(text=name, type_text="合同专用章", shape="round", code=CODE)
    names = [g for g in layout.glyphs if g.role == "name"]
    assert "".join(g.char for g in names) == name

    # Then every box lies in the band just inside the ring, facing the centre,
    radius = layout.width / 2
    for glyph in names:
        for x, y in glyph.corners():
            assert radius - layout.border - 7.0 <= math.hypot(x, y) <= radius - layout.border - 0.5
        up = (-math.sin(glyph.rotation), math.cos(glyph.rotation))
        assert (up[0] * glyph.x + up[1] * glyph.y) / math.hypot(glyph.x, glyph.y) == pytest.approx(1.0)
    # on the upper arc, symmetric about the vertical axis, read clockwise (left to right)
    angles = [polar_degrees(g) for g in names]
    assert all(angle <= 210 or angle >= 330 for angle in angles)
    unwrapped = [a if a >= 90 - 1e-6 or a > 300 else a + 360 for a in angles]
    unwrapped = [a - 360 if a > 300 else a for a in unwrapped]
    assert unwrapped == sorted(unwrapped, reverse=True)
    assert unwrapped[0] - 90 == pytest.approx(90 - unwrapped[-1], abs=1e-6)
    if len(name) == 4:
        assert all(g.y > 0 for g in names)  # a short name stays in the upper half
    # no two boxes overlap (and none overlaps the code or the type text),
    assert_no_overlap(list(layout.glyphs))
    # and the drawn ink is where the layout says: each box has ink, and the name band has none elsewhere
    inner = min(math.hypot(x, y) for g in names for x, y in g.corners())
    assert_ink_in_boxes(
        raster,
        names,
        lambda x, y: inner - 0.2 <= math.hypot(x, y) <= radius - layout.border - 0.1 and y > -radius / 2,
        others=layout.glyphs,
    )


def test_long_names_are_set_narrower_not_wider_apart() -> None:
    short = [g for g in seal_layout(text=NAME_4, type_text="", shape="round").glyphs]
    long = [g for g in seal_layout(text=NAME_20, type_text="", shape="round").glyphs]
    assert long[0].width < 0.6 * short[0].width
    # the arc grows with the name and stops at 240°
    span_short = (polar_degrees(short[0]) - polar_degrees(short[-1])) % 360
    span_long = (polar_degrees(long[0]) - polar_degrees(long[-1])) % 360
    assert span_short < span_long <= 240


@pytest.mark.parametrize("shape", ["round", "oval"])
def test_no_name_length_makes_boxes_touch_or_leave_the_seal(shape: str) -> None:
    longest = {"round": 40, "oval": 30}[shape]
    code = CODE if shape == "round" else "91350100M000100Y43"
    for length in range(2, longest + 1):
        layout = seal_layout(text=(NAME_20 * 2)[:length], type_text="合同专用章", shape=shape, code=code)
        assert_no_overlap(list(layout.glyphs))
        a, b = layout.width / 2 - layout.border, layout.height / 2 - layout.border
        for glyph in layout.glyphs:
            assert all((x / a) ** 2 + (y / b) ** 2 < 1 for x, y in glyph.corners()), (length, glyph)


def test_the_code_runs_upright_along_the_lower_arc() -> None:
    layout, raster = rendered(text=NAME_20, type_text="财务专用章", shape="round", code=CODE)
    codes = [g for g in layout.glyphs if g.role == "code"]
    assert "".join(g.char for g in codes) == CODE
    radius = layout.width / 2
    for glyph in codes:
        assert glyph.y < -radius / 2  # the lower arc
        assert radius - layout.border - 3.5 <= math.hypot(glyph.x, glyph.y) <= radius - layout.border
        up = (-math.sin(glyph.rotation), math.cos(glyph.rotation))
        # upright: the top of each digit faces the centre
        assert (up[0] * glyph.x + up[1] * glyph.y) / math.hypot(glyph.x, glyph.y) == pytest.approx(-1.0)
    assert [g.x for g in codes] == sorted(g.x for g in codes)  # left to right
    assert sum(g.x for g in codes) == pytest.approx(0.0, abs=1e-9)
    assert_ink_in_boxes(
        raster,
        codes,
        lambda x, y: math.hypot(x, y) <= radius - layout.border - 0.1 and y < -radius * 0.7,
    )


def test_the_type_text_stands_on_a_line_below_the_star() -> None:
    layout, raster = rendered(text=NAME_4, type_text="合同专用章", shape="round", code=CODE)
    words = [g for g in layout.glyphs if g.role == "type"]
    assert "".join(g.char for g in words) == "合同专用章"
    star_bottom = -layout.star_radius * math.cos(math.radians(36))
    assert len({round(g.y, 9) for g in words}) == 1 and all(g.rotation == 0 for g in words)
    assert words[0].y + words[0].height / 2 < star_bottom
    assert sum(g.x for g in words) == pytest.approx(0.0, abs=1e-9)
    top, bottom = words[0].y + words[0].height / 2, words[0].y - words[0].height / 2
    assert_ink_in_boxes(raster, words, lambda x, y: bottom - 0.3 <= y <= top + 0.3 and abs(x) < 12)


# --- oval and square --------------------------------------------------------------------------


def test_oval_invoice_seal_has_the_taxpayer_number_in_the_middle() -> None:
    layout, raster = rendered(
        text="福州示例科技有限公司", type_text="发票专用章", shape="oval", code="91350100M000100Y43"
    )
    assert (layout.width, layout.height, layout.border, layout.star_radius) == (40.0, 30.0, 1.0, 0.0)
    # the ring is an ellipse: inked along its mid-line, nothing outside it
    for degree in range(0, 360, 3):
        t = math.radians(degree)
        assert raster.at(19.5 * math.cos(t), 14.5 * math.sin(t)) > 200, degree
    assert all((x / 20) ** 2 + (y / 15) ** 2 <= 1.0 + 0.06 for x, y in raster.inked(threshold=8))
    names = [g for g in layout.glyphs if g.role == "name"]
    middle = [g for g in layout.glyphs if g.role == "code"]
    words = [g for g in layout.glyphs if g.role == "type"]
    assert all(((x / 19) ** 2 + (y / 14) ** 2) <= 1 for g in names for x, y in g.corners())
    assert [g.x for g in names] == sorted(g.x for g in names) and all(g.y > -4 for g in names)
    assert all(abs(g.y) < 1.5 for g in middle) and "".join(g.char for g in middle) == "91350100M000100Y43"
    assert all(g.y < -6 for g in words)
    assert_no_overlap(list(layout.glyphs))
    assert_ink_in_boxes(raster, list(layout.glyphs), lambda x, y: (x / 19) ** 2 + (y / 14) ** 2 <= 0.98)


@pytest.mark.parametrize(
    ("name", "cells"), [("张丽", "张丽之印"), ("王小明", "王小明印"), ("欧阳明华", "欧阳明华")]
)
def test_square_seal_reads_right_column_first(name: str, cells: str) -> None:
    layout, raster = rendered(text=name, type_text="", shape="square")
    assert (layout.width, layout.height) == (20.0, 20.0)
    glyphs = list(layout.glyphs)
    assert "".join(g.char for g in glyphs) == cells
    first, second, third, fourth = glyphs
    # 张 top right, 丽 below it, then the left column: 之 top, 印 bottom
    assert first.x > 0 and first.y > 0 and second.x > 0 and second.y < 0
    assert third.x < 0 and third.y > 0 and fourth.x < 0 and fourth.y < 0
    assert_no_overlap(glyphs)
    # a border 1 mm wide: inked all round, nothing outside the square
    for step in range(-19, 20):
        along = step * 0.5
        for x, y in ((along, 9.5), (along, -9.5), (9.5, along), (-9.5, along)):
            assert raster.at(x, y) > 200
    assert_ink_in_boxes(raster, glyphs, lambda x, y: max(abs(x), abs(y)) < 8.9)


# --- what the stream is -----------------------------------------------------------------------


def test_the_content_is_filled_paths_only_in_seal_red() -> None:
    drawing = draw_seal(text=NAME_20, type_text="合同专用章", shape="round", code=CODE)
    assert drawing.width == pytest.approx(40 * MM) and drawing.height == pytest.approx(40 * MM)
    operators = set(re.findall(r"[A-Za-z*]+", drawing.content.decode("ascii")))
    assert operators <= {"q", "Q", "rg", "m", "l", "c", "h", "f", "f*"}
    assert b"0.85 0.1 0.1 rg" in drawing.content
    # PDFium sees paths and nothing else: no text, image or form object
    document = pypdfium2.PdfDocument(single_page_pdf(drawing))
    kinds = {obj.type for obj in document[0].get_objects()}
    document.close()
    assert kinds == {pdfium_c.FPDF_PAGEOBJ_PATH}


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ({"text": ""}, "needs a name"),
        ({"text": "   "}, "needs a name"),
        ({"text": "福" * 41}, "at most 40"),
        ({"text": "福州\x07科技"}, "control"),
        ({"text": "福州\u200b科技"}, "U\\+200B"),
        ({"text": "福州\u202e科技"}, "bidirectional"),
        ({"text": "福州\u0915科技"}, "no glyph"),
        ({"code": "12345"}, "13 digits"),
        ({"code": "350102001234A"}, "13 digits"),
        ({"type_text": "合同专用章合同专用章合"}, "at most 10"),
        ({"shape": "triangle"}, "shape"),
        ({"shape": "square", "text": "张"}, "2 to 6"),
        ({"shape": "square", "text": "张丽丽丽丽丽丽"}, "at most 6"),
        ({"shape": "square", "text": "张丽", "type_text": "法人章"}, "name alone"),
        ({"shape": "oval", "code": "12"}, "taxpayer number"),
    ],
)
def test_what_cannot_be_drawn_is_refused(spec: dict[str, str], why: str) -> None:
    words = "" if spec.get("shape") == "square" else "合同专用章"
    request = {"text": "福州科技", "type_text": words, "shape": "round", "code": ""} | spec
    with pytest.raises(InvalidSeal, match=why):
        draw_seal(**request)


def test_seal_types_have_their_words() -> None:
    assert [type_text_for(t) for t in ("official", "contract", "finance", "hr", "invoice")] == [
        "",
        "合同专用章",
        "财务专用章",
        "人事专用章",
        "发票专用章",
    ]
    assert type_text_for("legal_representative") == type_text_for("custom") == ""
    with pytest.raises(InvalidSeal):
        type_text_for("secret")


# --- references -------------------------------------------------------------------------------

REFERENCE_CASES = {
    "round-official-10": {"text": "福州示例科技有限公司", "type_text": "", "shape": "round"},
    "round-contract-4": {"text": NAME_4, "type_text": "合同专用章", "shape": "round", "code": CODE},
    "round-finance-20": {"text": NAME_20, "type_text": "财务专用章", "shape": "round", "code": CODE},
    "oval-invoice": {
        "text": "福州示例科技有限公司",
        "type_text": "发票专用章",
        "shape": "oval",
        "code": "91350100M000100Y43",
    },
    "square-2": {"text": "张丽", "type_text": "", "shape": "square"},
}
REFERENCE_DPI = 150


@pytest.mark.parametrize("case", sorted(REFERENCE_CASES))
def test_seals_match_their_reference_images(case: str) -> None:
    png = render_png(draw_seal(**REFERENCE_CASES[case]), dpi=REFERENCE_DPI)
    path = REFERENCE / f"{case}.png"
    font_file = REFERENCE / "FONT.txt"
    if os.environ.get("ECONTRACT_REGENERATE_SEAL_REFERENCES"):
        REFERENCE.mkdir(exist_ok=True)
        path.write_bytes(png)
        font_file.write_text(seal_font_name() + "\n", encoding="utf-8")
        pytest.skip(f"regenerated {path.name}")
    if font_file.read_text(encoding="utf-8").strip() != seal_font_name():
        pytest.skip(
            f"the references are drawn with {font_file.read_text().strip()}, this machine has {seal_font_name()}"
        )
    ours = Image.open(io.BytesIO(png)).getchannel("A")
    theirs = Image.open(path).getchannel("A")
    assert ours.size == theirs.size
    a, b = ours.tobytes(), theirs.tobytes()
    differences = [abs(x - y) for x, y in zip(a, b, strict=True)]
    assert sum(differences) / len(differences) < 1.0  # mean alpha difference, of 255
    assert sum(1 for d in differences if d > 64) < 0.002 * len(differences)
    assert sum(a) / len(a) == pytest.approx(sum(b) / len(b), rel=0.01)  # the same amount of ink

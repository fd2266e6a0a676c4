"""Generated organisation seals as vector drawings: a PDF content stream of filled paths.

Forms followed (sizes in millimetres; the drawing's natural size is this, in points):

- **Round seal** (公章 and 专用章): 国务院《关于国家行政机关和企业事业单位社会团体印章管理的规定》
  (国发〔1999〕25号) for enterprises: round, diameter at most 42 mm, ring 1.2 mm wide, a five-pointed
  star in the centre, the name around it reading left to right (自左而右环行), simplified characters
  in a Song (宋体) face. We draw the official seal (no type text) at 42 mm and every other round seal
  (合同专用章, 财务专用章, ...) at 40 mm, as makers commonly do. The star's points lie on a 14 mm circle
  (scaled with the diameter); the type text sits on a horizontal line below the star; the optional
  13-digit seal code (印章编码, the public-security registration number of GA 241.1) runs along the
  lower arc with the digits upright, reading left to right. The name's arc grows with its length
  (at least 150° from 4 characters on) up to 240°; past that the characters are set narrower (and,
  past 14 characters, a little shorter), so that 2 to 40 characters fit without touching.
- **Oval seal** (椭圆章): 国家税务总局公告2011年第7号 for the invoice seal (发票专用章): 40 × 30 mm, ring
  1 mm, the name along the upper arc, the taxpayer identification number (the ``code``: 13 to 20
  digits or capital letters, e.g. an 18-character USCC) across the middle, the type text below. No star.
- **Square seal** (法人章, the legal representative's seal): 20 × 20 mm, border 1 mm, the name in a grid
  of two columns read right to left, top to bottom (the right column first), as seals are read: a
  2-character name gets 之印 (张丽 -> 张丽之印), a 3-character one 印 (王小明 -> 王小明印), 4 characters stand
  alone; 5 and 6 characters take three rows (a 5-character name gets 印).

Glyphs come from Noto Serif CJK SC Bold (a Song face; Debian's fonts-noto-cjk) when installed, else from
the project's Noto Sans CJK (``documents.fonts.cjk_font_path``). They are turned into outlines with
fontTools: the stream uses no font, image or resource, so a PDF shows it the same everywhere, and
``render_png`` rasterises that same stream with PDFium for the web.
"""

from __future__ import annotations

import io
import math
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fontTools.misc.transform import Transform
from fontTools.pens.basePen import BasePen
from fontTools.pens.transformPen import TransformPen

from econtract.seals.errors import InvalidSeal
from econtract.textinput import UnsafeText, clean_line

MM = 72 / 25.4  # PDF points per millimetre
SEAL_RED = (0.85, 0.1, 0.1)
SHAPES = ("round", "oval", "square")

TYPE_TEXTS = {
    "official": "",  # 公章: nothing on the line under the star
    "contract": "合同专用章",
    "finance": "财务专用章",
    "hr": "人事专用章",
    "invoice": "发票专用章",
    "legal_representative": "",  # square seal: the name alone
    "custom": "",  # the caller gives type_text
}

MAX_NAME = {"round": 40, "oval": 30, "square": 6}
MAX_TYPE_TEXT = 10
SERIF_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
)
SPACES = {" ", "\u3000"}


@dataclass(frozen=True)
class SealDrawing:
    width: float  # natural size in PDF points
    height: float
    content: bytes  # filled paths only, box 0..width x 0..height, origin lower-left; sets its own colour


@dataclass(frozen=True)
class PlacedGlyph:
    """One character's box, in mm from the seal's centre; ``rotation`` turns the box's up direction."""

    char: str
    role: str  # "name", "type", "code" (round: lower arc; oval: middle line)
    x: float
    y: float
    rotation: float  # radians, counter-clockwise; 0 = upright
    width: float
    height: float

    def corners(self) -> list[tuple[float, float]]:
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        result = []
        for u, v in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            du, dv = u * self.width / 2, v * self.height / 2
            result.append((self.x + du * cos - dv * sin, self.y + du * sin + dv * cos))
        return result


@dataclass(frozen=True)
class SealLayout:
    shape: str
    width: float  # mm
    height: float
    border: float  # width of the ring or square border, mm
    star_radius: float  # mm, radius of the circle through the star's points; 0 = no star
    glyphs: tuple[PlacedGlyph, ...]


def type_text_for(seal_type: str) -> str:
    """The words a seal of this type shows on its horizontal line ("" for official, legal, custom)."""
    try:
        return TYPE_TEXTS[seal_type]
    except KeyError:
        raise InvalidSeal(f"unknown seal type {seal_type!r}") from None


def draw_seal(*, text: str, type_text: str, shape: str, code: str = "") -> SealDrawing:
    """The seal as a content stream of red filled paths. InvalidSeal when it cannot be drawn."""
    layout = seal_layout(text=text, type_text=type_text, shape=shape, code=code)
    font = _seal_font()
    ops = ["q", "{} {} {} rg".format(*(_n(c) for c in SEAL_RED))]
    origin = Transform().scale(MM).translate(layout.width / 2, layout.height / 2)
    if layout.shape == "square":
        half_w, half_h, inner = layout.width / 2, layout.height / 2, layout.border
        _rectangle(ops, origin, half_w, half_h)
        _rectangle(ops, origin, half_w - inner, half_h - inner)
    else:
        _ellipse(ops, origin, layout.width / 2, layout.height / 2)
        _ellipse(ops, origin, layout.width / 2 - layout.border, layout.height / 2 - layout.border)
    ops.append("f*")
    if layout.star_radius:
        _star(ops, origin, layout.star_radius)
        ops.append("f")
    for glyph in layout.glyphs:
        font.draw(glyph, origin, ops)
    ops.append("f")  # glyph outlines use the non-zero winding rule (CFF and TrueType alike)
    ops.append("Q")
    return SealDrawing(layout.width * MM, layout.height * MM, ("\n".join(ops) + "\n").encode("ascii"))


def seal_layout(*, text: str, type_text: str, shape: str, code: str = "") -> SealLayout:
    """Where every character of the seal goes (what ``draw_seal`` draws; tests measure it)."""
    if shape not in SHAPES:
        raise InvalidSeal(f"unknown seal shape {shape!r}: round, oval or square")
    name = _clean(text, "text", MAX_NAME[shape])
    if not name or not name.strip():
        raise InvalidSeal("the seal needs a name")
    words = _clean(type_text, "type_text", MAX_TYPE_TEXT)
    code = _clean(code, "code", 20)
    font = _seal_font()
    for character in name + words + code:
        if character not in SPACES and not font.has(character):
            raise InvalidSeal(f"the seal font has no glyph for {character!r} (U+{ord(character):04X})")
    if shape == "round":
        if code and not (len(code) == 13 and code.isascii() and code.isdigit()):
            raise InvalidSeal("the code of a round seal is 13 digits")
        return _round_layout(name, words, code)
    if shape == "oval":
        if code and not (
            13 <= len(code) <= 20 and code.isascii() and code.isalnum() and code == code.upper()
        ):
            raise InvalidSeal(
                "the code of an oval seal is a taxpayer number: 13 to 20 digits or capital letters"
            )
        return _oval_layout(name, words, code)
    if words or code:
        raise InvalidSeal("a square seal shows the name alone: no type text, no code")
    if len(name) < 2 or any(c in SPACES for c in name):
        raise InvalidSeal("a square seal holds a name of 2 to 6 characters without spaces")
    return _square_layout(name)


def seal_font_name() -> str:
    """The full name of the face seals are drawn with (reference images depend on it)."""
    return _seal_font().name


def render_png(drawing: SealDrawing, *, dpi: int = 300) -> bytes:
    """The drawing rasterised by PDFium: an RGBA PNG, transparent outside the red ink."""
    if not 36 <= dpi <= 2400:
        raise ValueError(f"dpi {dpi} is outside 36..2400")
    import pypdfium2

    pdf = single_page_pdf(drawing)
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[0]
        bitmap = page.render(scale=dpi / 72, fill_color=(255, 255, 255, 0), may_draw_forms=False)
        image = bitmap.to_pil().convert("RGBA")
        page.close()
    finally:
        document.close()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True, dpi=(dpi, dpi))
    return out.getvalue()


def single_page_pdf(drawing: SealDrawing) -> bytes:
    """A minimal PDF whose one page, the drawing's size, shows the drawing and nothing else."""
    width, height = _n(drawing.width), _n(drawing.height)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] /Resources << >> /Contents 4 0 R >>".encode(),
        b"<< /Length %d >>\nstream\n" % len(drawing.content) + drawing.content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# --- layouts ------------------------------------------------------------------------------------


def _round_layout(name: str, words: str, code: str) -> SealLayout:
    diameter = 42.0 if not words else 40.0
    s = diameter / 42.0
    radius, border = diameter / 2, 1.2
    glyphs: list[PlacedGlyph] = []

    # The name: boxes standing on the inner edge of a band just inside the ring, facing the centre.
    count = len(name)
    height = (6.5 if count <= 14 else max(4.6, 6.5 - (count - 14) * 0.075)) * s
    top = radius - border - 0.7 * s
    inner = top - height
    natural_width = 0.85 * height
    natural_step = 1.15 * 2 * math.asin(natural_width / 2 / inner)
    span = min(math.radians(240), max(count * natural_step, min(math.radians(150), count * math.radians(45))))
    step = span / count
    # Boxes never touch: on the inner edge, where neighbours come closest, 12% stays free.
    width = min(natural_width, 0.88 * 2 * inner * math.sin(step / 2))
    # The outer corners, not only the middle of the top edge, stay inside the band.
    middle = math.sqrt(top**2 - (width / 2) ** 2) - height / 2
    width = min(width, 0.88 * 2 * (middle - height / 2) * math.sin(step / 2))
    for index, character in enumerate(name):
        angle = math.pi / 2 + (count - 1) / 2 * step - index * step
        glyphs.append(_on_circle(character, "name", angle, middle, width, height, outward=True))

    if words:
        glyphs.extend(_line(words, "type", y=-10.4 * s, height=4.2 * s, max_total=19.0 * s))

    if code:
        digit_height = 2.5 * s
        centre = radius - border - 0.5 * s - digit_height / 2
        digit_step = 1.55 * s / centre
        for index, character in enumerate(code):
            angle = 3 * math.pi / 2 - (len(code) - 1) / 2 * digit_step + index * digit_step
            glyphs.append(_on_circle(character, "code", angle, centre, 1.2 * s, digit_height, outward=False))
    return SealLayout("round", diameter, diameter, border, 7.0 * s, tuple(glyphs))


def _oval_layout(name: str, words: str, code: str) -> SealLayout:
    semi_a, semi_b, border = 20.0, 15.0, 1.0
    count = len(name)
    height = 4.2 if count <= 12 else max(3.4, 4.2 - (count - 12) * 0.045)
    a, b = semi_a - border - 0.5 - height / 2, semi_b - border - 0.5 - height / 2
    # Arc length along the text's mid-line, tabulated over the upper arc from -15° to 195° (parameter t).
    start, end, samples = math.radians(-15), math.radians(195), 840
    ts = [start + (end - start) * i / samples for i in range(samples + 1)]
    lengths = [0.0]
    for t0, t1 in zip(ts, ts[1:], strict=False):
        lengths.append(lengths[-1] + math.dist(_ellipse_point(a, b, t0), _ellipse_point(a, b, t1)))
    usable = lengths[-1]
    halfway = _interpolate(ts, lengths, math.pi / 2)
    natural_width = 0.85 * height
    total = min(usable, max(count * natural_width * 1.15, min(0.45 * usable, count * 1.6 * natural_width)))
    pitch = total / count
    positions = []
    for index in range(count):
        # reading left to right is decreasing t; the name is centred on the top (t = 90°)
        along = halfway + ((count - 1) / 2 - index) * pitch
        along = min(max(along, 0.0), usable)
        positions.append(_interpolate(lengths, ts, along))
    centres = [_ellipse_point(a, b, t) for t in positions]
    normals = [_ellipse_normal(a, b, t) for t in positions]
    inner_points = [
        (x - nx * height / 2, y - ny * height / 2) for (x, y), (nx, ny) in zip(centres, normals, strict=True)
    ]
    closest = min(
        (math.dist(p, q) for p, q in zip(inner_points, inner_points[1:], strict=False)), default=pitch
    )
    width = min(natural_width, 0.88 * closest)
    glyphs = [
        PlacedGlyph(c, "name", x, y, math.atan2(ny, nx) - math.pi / 2, width, height)
        for c, (x, y), (nx, ny) in zip(name, centres, normals, strict=True)
    ]
    if code:
        glyphs.extend(_line(code, "code", y=-0.8, height=3.0, max_total=24.0, natural=0.55))
    if words:
        glyphs.extend(_line(words, "type", y=-8.1, height=3.6, max_total=17.0))
    return SealLayout("oval", 2 * semi_a, 2 * semi_b, border, 0.0, tuple(glyphs))


def _square_layout(name: str) -> SealLayout:
    side, border, padding = 20.0, 1.0, 0.7
    cells = name + {2: "之印", 3: "印", 5: "印"}.get(len(name), "")
    rows, columns = len(cells) // 2, 2
    inside = side - 2 * border - 2 * padding
    cell_w, cell_h = inside / columns, inside / rows
    glyphs = []
    for index, character in enumerate(cells):
        column = columns - 1 - index // rows  # the right column is read first
        row = index % rows
        x = -inside / 2 + (column + 0.5) * cell_w
        y = inside / 2 - (row + 0.5) * cell_h
        glyphs.append(PlacedGlyph(character, "name", x, y, 0.0, cell_w * 0.94, cell_h * 0.94))
    return SealLayout("square", side, side, border, 0.0, tuple(glyphs))


def _on_circle(
    character: str, role: str, angle: float, radius: float, width: float, height: float, *, outward: bool
) -> PlacedGlyph:
    rotation = angle - math.pi / 2 if outward else angle + math.pi / 2
    return PlacedGlyph(
        character, role, radius * math.cos(angle), radius * math.sin(angle), rotation, width, height
    )


def _line(
    text: str, role: str, *, y: float, height: float, max_total: float, natural: float = 0.9
) -> list[PlacedGlyph]:
    """Characters on a horizontal line centred on x = 0, narrowed when the line would pass max_total."""
    pitch = min(natural * height * 1.08, max_total / len(text))
    width = pitch / 1.08
    first = -(len(text) - 1) / 2 * pitch
    return [PlacedGlyph(c, role, first + i * pitch, y, 0.0, width, height) for i, c in enumerate(text)]


def _ellipse_point(a: float, b: float, t: float) -> tuple[float, float]:
    return a * math.cos(t), b * math.sin(t)


def _ellipse_normal(a: float, b: float, t: float) -> tuple[float, float]:
    nx, ny = b * math.cos(t), a * math.sin(t)
    norm = math.hypot(nx, ny)
    return nx / norm, ny / norm


def _interpolate(xs: Sequence[float], ys: Sequence[float], value: float) -> float:
    """Linear interpolation of ys at ``value`` over increasing ``xs``."""
    for i in range(1, len(xs)):
        if xs[i] >= value:
            span = xs[i] - xs[i - 1]
            fraction = 0.0 if span == 0 else (value - xs[i - 1]) / span
            return ys[i - 1] + fraction * (ys[i] - ys[i - 1])
    return ys[-1]


# --- validation ---------------------------------------------------------------------------------


def _clean(value: str, field: str, limit: int) -> str:
    try:
        cleaned = clean_line(value, field=field)
    except UnsafeText as exc:
        raise InvalidSeal(str(exc)) from None
    for character in cleaned:
        category = unicodedata.category(character)
        if category[0] == "C" or category in {"Zl", "Zp"} or (category == "Zs" and character not in SPACES):
            raise InvalidSeal(f"{field}: U+{ord(character):04X} cannot be drawn on a seal")
    if len(cleaned) > limit:
        raise InvalidSeal(f"{field}: at most {limit} characters on this seal")
    return cleaned


# --- paths --------------------------------------------------------------------------------------


def _n(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def _point(transform: Transform, x: float, y: float) -> str:
    px, py = transform.transformPoint((x, y))
    return f"{_n(px)} {_n(py)}"


def _ellipse(ops: list[str], transform: Transform, rx: float, ry: float) -> None:
    k = 4 * (math.sqrt(2) - 1) / 3  # control distance of a quarter circle as one cubic Bézier
    point = tuple[float, float]
    quadrants: list[tuple[point, point, point]] = [
        ((rx, k * ry), (k * rx, ry), (0.0, ry)),
        ((-k * rx, ry), (-rx, k * ry), (-rx, 0.0)),
        ((-rx, -k * ry), (-k * rx, -ry), (0.0, -ry)),
        ((k * rx, -ry), (rx, -k * ry), (rx, 0.0)),
    ]
    ops.append(_point(transform, rx, 0) + " m")
    for c1, c2, end in quadrants:
        ops.append(f"{_point(transform, *c1)} {_point(transform, *c2)} {_point(transform, *end)} c")
    ops.append("h")


def _rectangle(ops: list[str], transform: Transform, half_w: float, half_h: float) -> None:
    corners = [(-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h)]
    ops.append(_point(transform, *corners[0]) + " m")
    ops.extend(_point(transform, *corner) + " l" for corner in corners[1:])
    ops.append("h")


def _star(ops: list[str], transform: Transform, radius: float) -> None:
    # A regular five-pointed star: the inner vertices lie where its edges cross, at r·sin18°/sin126°.
    inner = radius * math.sin(math.radians(18)) / math.sin(math.radians(126))
    for index in range(10):
        r = radius if index % 2 == 0 else inner
        angle = math.pi / 2 + index * math.pi / 5
        ops.append(
            _point(transform, r * math.cos(angle), r * math.sin(angle)) + (" m" if index == 0 else " l")
        )
    ops.append("h")


class _PdfPathPen(BasePen):
    """Writes a glyph's outline as PDF path operators (quadratic TrueType curves become cubics)."""

    def __init__(self, ops: list[str]) -> None:
        super().__init__(glyphSet=None)
        self.ops = ops

    def _moveTo(self, pt: tuple[float, float]) -> None:
        self.ops.append(f"{_n(pt[0])} {_n(pt[1])} m")

    def _lineTo(self, pt: tuple[float, float]) -> None:
        self.ops.append(f"{_n(pt[0])} {_n(pt[1])} l")

    def _curveToOne(
        self, pt1: tuple[float, float], pt2: tuple[float, float], pt3: tuple[float, float]
    ) -> None:
        self.ops.append(" ".join(f"{_n(x)} {_n(y)}" for x, y in (pt1, pt2, pt3)) + " c")

    def _closePath(self) -> None:
        self.ops.append("h")

    def _endPath(self) -> None:
        self.ops.append("h")


# --- font ---------------------------------------------------------------------------------------


class _SealFont:
    def __init__(self, font: Any) -> None:
        self.font = font
        self.glyph_set = font.getGlyphSet()
        self.cmap: dict[int, str] = font.getBestCmap() or {}
        self.name = str(font["name"].getDebugName(4) or "")
        os2 = font["OS/2"]
        self.em = float(font["head"].unitsPerEm)
        self.ascender = float(os2.sTypoAscender)
        self.descender = float(os2.sTypoDescender)
        self.cap_height = float(getattr(os2, "sCapHeight", 0) or 0.7 * self.em)
        self.lock = threading.Lock()  # fontTools decompiles lazily: one reader at a time

    def has(self, character: str) -> bool:
        return ord(character) in self.cmap

    def draw(self, glyph: PlacedGlyph, origin: Transform, ops: list[str]) -> None:
        if glyph.char in SPACES:
            return
        with self.lock:
            drawn = self.glyph_set[self.cmap[ord(glyph.char)]]
            advance = float(drawn.width) or self.em
            if glyph.char.isascii():
                # digits and Latin letters: their cap height fills the box, their advance its width
                low, high, scale_x = 0.0, self.cap_height, glyph.width / advance
            else:
                low, high, scale_x = self.descender, self.ascender, glyph.width / self.em
            scale_y = glyph.height / (high - low)
            transform = (
                origin.translate(glyph.x, glyph.y)
                .rotate(glyph.rotation)
                .scale(scale_x, scale_y)
                .translate(-advance / 2, -(low + high) / 2)
            )
            drawn.draw(TransformPen(_PdfPathPen(ops), transform))


_font_lock = threading.Lock()
_font: _SealFont | None = None


def _seal_font() -> _SealFont:
    global _font
    with _font_lock:
        if _font is None:
            _font = _load_font()
        return _font


def _load_font() -> _SealFont:
    from fontTools.ttLib import TTCollection, TTFont

    for path in SERIF_FONTS:
        if path.is_file():
            collection = TTCollection(str(path), lazy=True)
            for face in collection.fonts:
                if str(face["name"].getDebugName(1) or "").endswith(" SC"):
                    return _SealFont(face)
    from econtract.documents.fonts import cjk_font_path

    return _SealFont(TTFont(str(cjk_font_path()), lazy=True))

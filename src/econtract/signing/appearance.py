"""What a visible signature shows, and the font it is drawn with.

pyHanko's ``GlyphAccumulator`` cuts a subset of its font at every signature (``fontTools.subset``,
which also decompiles the layout tables it then drops, and recompiles the CFF program): measured at
about half of a signature. The signer's font is already cut, once per name, to the glyphs a stamp can
show (``documents.fonts.cjk_font_subset_path``), so we embed that small font program as it is and
skip the cut. HarfBuzz still shapes with the font's layout tables, so the text is drawn as before.

A box showing a **mark** (her signature image, or a seal) is drawn by our own pyHanko stamp,
``MarkStampStyle``: pyHanko creates the signature field and asks the style for the widget's appearance
as it does for its text stamps, so the appearance is written in the signer's revision and covered by
her signature. (pyHanko's ``TextStampStyle(background=...)`` was not used: it fits the background to the
whole box under the text and paints it at an opacity, where the mark must sit beside the text, at full
strength.) The stamp draws the mark's form XObject (``marks.mark_xobject``) scaled to fit keeping its
aspect, at the left of a wide box or at the top of a tall one, and name, time and certificate serial in
small text beside or below it (``MARK_FONT_SIZE``, shrunk to fit, never enlarged); all inside the box,
with no border and no background. The mark is painted with blend mode Multiply: ink darkens what lies
under it and never hides it, even where an image is opaque. A seal may overlap the text by
``SEAL_OVERLAP`` of its size, as a seal is stamped over the name; under Multiply the text stays legible
through the red. Without a mark the stamp is the text stamp of step 1 (with its thin border).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from fontTools.ttLib import TTFont
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import ResourceType
from pyhanko.pdf_utils.font.api import FontEngineFactory
from pyhanko.pdf_utils.font.opentype import CIDFontType0, GlyphAccumulator
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.text import TextBox, TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import BaseStamp, BaseStampStyle, TextStampStyle

# Who, when (local time), and which certificate.
STAMP_TEMPLATE = "电子签名 Signed by\n%(signer)s\n%(when)s\n%(serial)s"
_TEMPLATE_TEXT = STAMP_TEMPLATE % {"signer": "", "when": "", "serial": ""}
# What a time label ("2026-11-25 12:00:00 CST", "+08") and a hex serial can hold: with these in every
# signer's font, the font is cut once per name, not once per signature.
_LABEL_ALPHABET = "0123456789abcdefABCDEFGHIJKLMNOPQRSTUVWXYZ +-:"
FONT_SIZE = 9


@dataclass(frozen=True)
class _FontFile:
    data: bytes
    cff_program: bytes | None  # the bare CFF font program, when the font is CID-keyed CFF


@lru_cache(maxsize=256)
def _font_file(path: str) -> _FontFile:
    with open(path, "rb") as handle:
        data = handle.read()
    with TTFont(io.BytesIO(data), lazy=True) as font:
        program = font.reader["CFF "] if "CFF " in font.reader else None
        if program is not None and getattr(font["CFF "].cff[0], "ROS", None) is None:
            program = None  # a name-keyed CFF font: pyHanko re-keys its glyphs, so let it subset
    return _FontFile(data=data, cff_program=program)


class _EmbeddedCFF(CIDFontType0):
    """A CIDFontType0 whose font file is the given CFF program, not a fresh subset compiled from it."""

    def __init__(self, tt: TTFont, base_ps_name: str, subset_prefix: str, program: bytes) -> None:
        super().__init__(tt, base_ps_name, subset_prefix)
        self._program = program

    def set_font_file(self, writer: BasePdfFileWriter) -> generic.IndirectObject:
        stream = generic.StreamObject(
            {pdf_name("/Subtype"): pdf_name("/CIDFontType0C")}, stream_data=self._program
        )
        stream.compress()
        ref = writer.add_object(stream)
        self._font_descriptor[pdf_name("/FontFile3")] = ref
        return ref


class _PrecutGlyphAccumulator(GlyphAccumulator):
    """Shapes like pyHanko's accumulator; embeds the whole (already small) CID-keyed font."""

    def __init__(self, writer: BasePdfFileWriter, font: _FontFile, font_size: int, obj_stream: Any) -> None:
        super().__init__(writer, io.BytesIO(font.data), font_size, obj_stream=obj_stream)
        if font.cff_program is not None and isinstance(self.cidfont_obj, CIDFontType0):
            # CIDs in the content stream index the embedded program's own charset: nothing to re-key.
            self.cidfont_obj = _EmbeddedCFF(
                self.tt, self.cidfont_obj.name.split("+", 1)[1], self.subset_prefix, font.cff_program
            )
            self._subset_created = True


@dataclass(frozen=True)
class PrecutFontFactory(FontEngineFactory):
    """``GlyphAccumulatorFactory`` for a font already cut to what it will show."""

    font_file: str
    font_size: int = FONT_SIZE

    def create_font_engine(self, writer: BasePdfFileWriter, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs:
            obj_stream = writer.prepare_object_stream()
        return _PrecutGlyphAccumulator(writer, _font_file(self.font_file), self.font_size, obj_stream)


@lru_cache(maxsize=256)
def stamp_style(font_path: str) -> TextStampStyle:
    """The stamp drawn with the font at ``font_path`` (from ``font_for``)."""
    return TextStampStyle(
        stamp_text=STAMP_TEMPLATE,
        text_box_style=text_box_style(font_path),
        border_width=1,
    )


def text_box_style(font_path: str) -> TextBoxStyle:
    return TextBoxStyle(font=PrecutFontFactory(font_path), font_size=FONT_SIZE)


def font_for(*texts: str) -> str:
    """Path of the signer's font: the stamp's own text, the label alphabet and ``texts``."""
    from econtract.documents.fonts import cjk_font_subset_path

    return str(cjk_font_subset_path(_TEMPLATE_TEXT + "".join(texts), base=_LABEL_ALPHABET))


def stamp_style_for(*texts: str) -> TextStampStyle:
    """The stamp style for a signature showing ``texts`` (the signer's name, time label, serial...)."""
    return stamp_style(font_for(*texts))


# --- Appearances with a mark (see the module docstring) ------------------------------------------

MARK_TEXT_TEMPLATE = "%(signer)s\n%(when)s\n%(serial)s"
MARK_FONT_SIZE = 7
MARK_LEADING = 8
SEAL_OVERLAP = 0.15
_WIDE = 1.8  # a box at least this many times as wide as high puts the text beside the mark


@dataclass(frozen=True)
class MarkLayout:
    """Where a box's parts go, in the box's coordinates (origin lower-left, points)."""

    mark_x: float
    mark_y: float
    mark_scale: float  # mark units -> points
    text_x: float
    text_y: float
    text_scale: float  # of the text drawn at MARK_FONT_SIZE


def mark_layout(
    *,
    kind: str,
    box_width: float,
    box_height: float,
    mark_size: tuple[float, float],
    text_size: tuple[float, float],
) -> MarkLayout:
    """Fit the mark and the text block (natural ``text_size`` at MARK_FONT_SIZE) inside the box."""
    mark_w, mark_h = mark_size
    text_w, text_h = max(text_size[0], 1.0), max(text_size[1], 1.0)
    pad = min(2.0, 0.04 * min(box_width, box_height))
    inner_w, inner_h = max(box_width - 2 * pad, 1.0), max(box_height - 2 * pad, 1.0)
    overlap = SEAL_OVERLAP if kind == "seal" else 0.0
    if box_width >= _WIDE * box_height:
        text_scale = min(1.0, inner_h / text_h, 0.5 * inner_w / text_w)
        shown_text_w = text_w * text_scale
        room = max(inner_w - shown_text_w - pad, 1.0)
        scale = min(room / (mark_w * (1 - overlap)), inner_h / mark_h)
        shown_w = mark_w * scale
        text_x = pad + shown_w * (1 - overlap) + (0 if overlap else pad)
        return MarkLayout(
            mark_x=pad,
            mark_y=(box_height - mark_h * scale) / 2,
            mark_scale=scale,
            text_x=min(text_x, box_width - pad - shown_text_w),
            text_y=(box_height - text_h * text_scale) / 2,
            text_scale=text_scale,
        )
    text_scale = min(1.0, inner_w / text_w, 0.4 * inner_h / text_h)
    shown_text_h = text_h * text_scale
    room = max(inner_h - shown_text_h - (0 if overlap else pad), 1.0)
    scale = min(inner_w / mark_w, room / (mark_h * (1 - overlap)), inner_h / mark_h)
    mark_y = box_height - pad - mark_h * scale
    # the text right under the mark (under its lower edge, for a seal), not at the foot of a tall box
    text_top = mark_y + mark_h * scale * overlap - (0 if overlap else pad)
    return MarkLayout(
        mark_x=(box_width - mark_w * scale) / 2,
        mark_y=mark_y,
        mark_scale=scale,
        text_x=(box_width - text_w * text_scale) / 2,
        text_y=max(pad, text_top - shown_text_h),
        text_scale=text_scale,
    )


def mark_text_box_style(font_path: str) -> TextBoxStyle:
    return TextBoxStyle(
        font=PrecutFontFactory(font_path),
        font_size=MARK_FONT_SIZE,
        leading=MARK_LEADING,
        box_layout_rule=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MIN,
            margins=layout.Margins(),
            inner_content_scaling=layout.InnerScaling.NO_SCALING,
        ),
    )


@dataclass(frozen=True)
class MarkStampStyle(BaseStampStyle):
    """A box showing the signer's mark (``mark_ref``: the form XObject of ``marks.mark_xobject``) and text."""

    mark_ref: generic.IndirectObject | None = None
    mark_size: tuple[float, float] = (1.0, 1.0)
    kind: str = "signature"
    text_box_style: TextBoxStyle = field(default_factory=TextBoxStyle)
    stamp_text: str = MARK_TEXT_TEMPLATE
    border_width: int = 0

    def create_stamp(
        self, writer: BasePdfFileWriter, box: layout.BoxConstraints, text_params: dict[str, Any]
    ) -> MarkStamp:
        return MarkStamp(writer, self, box=box, text_params=text_params)


class MarkStamp(BaseStamp):
    def __init__(
        self,
        writer: BasePdfFileWriter,
        style: MarkStampStyle,
        *,
        box: layout.BoxConstraints,
        text_params: dict[str, Any],
    ) -> None:
        super().__init__(writer, style, box=box)
        self.text_params = text_params

    def render(self) -> bytes:
        style: MarkStampStyle = self.style
        assert style.mark_ref is not None
        text_box = TextBox(style.text_box_style, writer=self.writer, resources=self.resources)
        text_box.content = style.stamp_text % self.text_params
        text_commands = text_box.render()  # at its natural size: the box is sized to the text
        placed = mark_layout(
            kind=style.kind,
            box_width=self.box.width,
            box_height=self.box.height,
            mark_size=style.mark_size,
            text_size=(text_box.box.width, text_box.box.height),
        )
        self.set_resource(ResourceType.XOBJECT, pdf_name("/Mark"), style.mark_ref)
        self.set_resource(
            ResourceType.EXT_G_STATE,
            pdf_name("/MarkGS"),
            generic.DictionaryObject({pdf_name("/BM"): pdf_name("/Multiply")}),
        )
        return b" ".join(
            [
                b"q",
                b"q %s 0 0 %s %s %s cm"
                % (_n(placed.text_scale), _n(placed.text_scale), _n(placed.text_x), _n(placed.text_y)),
                text_commands,
                b"Q",
                b"q /MarkGS gs %s 0 0 %s %s %s cm /Mark Do Q"
                % (_n(placed.mark_scale), _n(placed.mark_scale), _n(placed.mark_x), _n(placed.mark_y)),
                b"Q",
            ]
        )


def mark_stamp_style(
    font_path: str, *, mark_ref: generic.IndirectObject, mark_size: tuple[float, float], kind: str
) -> MarkStampStyle:
    return MarkStampStyle(
        mark_ref=mark_ref, mark_size=mark_size, kind=kind, text_box_style=mark_text_box_style(font_path)
    )


def _n(value: float) -> bytes:
    return (f"{value:.4f}".rstrip("0").rstrip(".") or "0").encode("ascii")

"""What a visible signature shows, and the font it is drawn with.

pyHanko's ``GlyphAccumulator`` cuts a subset of its font at every signature (``fontTools.subset``,
which also decompiles the layout tables it then drops, and recompiles the CFF program): measured at
about half of a signature. The signer's font is already cut, once per name, to the glyphs a stamp can
show (``documents.fonts.cjk_font_subset_path``), so we embed that small font program as it is and
skip the cut. HarfBuzz still shapes with the font's layout tables, so the text is drawn as before.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fontTools.ttLib import TTFont
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngineFactory
from pyhanko.pdf_utils.font.opentype import CIDFontType0, GlyphAccumulator
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import TextStampStyle

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

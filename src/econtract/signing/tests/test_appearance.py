"""The signature appearance embeds the signer's already-cut font as it is, and draws what pyHanko would."""

from __future__ import annotations

import io

import pypdfium2
import pytest
from fontTools import subset
from fontTools.ttLib import TTFont
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import TextStampStyle, text_stamp_file

from econtract.signing import appearance

NAME = "欧阳娜娜 Nana"
TEXT = {"signer": NAME, "when": "2026-12-01 12:00:00 CST", "serial": "SN 5f0c3a9e21d4b7"}


def _stamped(tmp_path, sample_pdf: bytes, style: TextStampStyle, label: str) -> bytes:
    source, target = tmp_path / "in.pdf", tmp_path / f"{label}.pdf"
    source.write_bytes(sample_pdf)
    text_stamp_file(str(source), str(target), style, dest_page=0, x=60, y=80, text_params=TEXT)
    return target.read_bytes()


def _pixels(pdf: bytes) -> bytes:
    document = pypdfium2.PdfDocument(pdf)
    try:
        bitmap = document[0].render(scale=2, may_draw_forms=True)
        return bytes(bitmap.buffer)
    finally:
        document.close()


def _font_programs(pdf: bytes) -> list[bytes]:
    """Every CFF font program (``/FontFile3``) the PDF embeds."""
    reader = PdfFileReader(io.BytesIO(pdf))
    found, seen = [], set()

    def walk(obj) -> None:
        if isinstance(obj, generic.IndirectObject):
            if obj.reference in seen:
                return
            seen.add(obj.reference)
            obj = obj.get_object()
        if isinstance(obj, generic.DictionaryObject):
            for key, value in obj.items():
                if key == "/FontFile3":
                    found.append(value.get_object().data)
                elif key != "/Parent":
                    walk(obj.raw_get(key))
        elif isinstance(obj, generic.ArrayObject):
            for index in range(len(obj)):
                walk(obj.raw_get(index))

    walk(reader.root)
    return found


@pytest.mark.django_db
def test_the_stamp_embeds_the_cut_font_without_cutting_again_and_draws_like_pyhanko(
    tmp_path, sample_pdf, monkeypatch
):
    font_path = appearance.font_for(*TEXT.values())  # cut once per name, outside what is measured
    pyhanko_style = TextStampStyle(
        stamp_text=appearance.STAMP_TEMPLATE,
        text_box_style=TextBoxStyle(font=GlyphAccumulatorFactory(font_path), font_size=appearance.FONT_SIZE),
        border_width=1,
    )
    drawn_by_pyhanko = _stamped(tmp_path, sample_pdf, pyhanko_style, "pyhanko")

    def no_cutting(*args, **kwargs):
        raise AssertionError("fontTools.subset ran while drawing a signature appearance")

    monkeypatch.setattr(subset.Subsetter, "subset", no_cutting)
    ours = _stamped(tmp_path, sample_pdf, appearance.stamp_style(font_path), "ours")

    with TTFont(font_path, lazy=True) as font:
        cut_program = font.reader["CFF "]
    # the page's own text has a font of its own; the stamp's is the cut font's CFF program, unchanged
    assert cut_program in _font_programs(ours)
    assert cut_program not in _font_programs(drawn_by_pyhanko)
    assert _pixels(ours) == _pixels(drawn_by_pyhanko)  # every glyph where pyHanko's own subset puts it
    assert _pixels(ours) != _pixels(sample_pdf)


@pytest.mark.django_db
def test_one_font_per_name_whatever_the_time_and_serial():
    first = appearance.font_for(NAME, "2026-12-01 12:00:00 CST", "SN 5f0c3a9e21d4b7")
    later = appearance.font_for(NAME, "2027-03-09 23:59:58 +08", "SN 99ab01cdef")
    assert first == later
    assert appearance.font_for("李四", "2026-12-01 12:00:00 CST", "SN 5f") != first

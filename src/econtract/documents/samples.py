"""Sample contracts: real A4 PDFs with embedded Chinese text, for the demo and for tests.

Built with pyHanko's writer and its OpenType font engine (HarfBuzz shaping, subset embedding, a
ToUnicode map so the text can be searched and copied); no external tools.
"""

from __future__ import annotations

import unicodedata
from io import BytesIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

from econtract.documents.fonts import cjk_font_path

A4_WIDTH = 595.28
A4_HEIGHT = 841.89
MARGIN = 64.0
TITLE_SIZE = 18
BODY_SIZE = 11
BODY_LEADING = 18.0
FOOTER_SIZE = 9
PARAGRAPH_GAP = 8.0
FONT_RESOURCE = "/F1"


def make_contract_pdf(title: str, paragraphs: list[str], *, pages: int = 1) -> bytes:
    """An A4 PDF of ``pages`` pages, each with ``title``, the ``paragraphs`` and "Page i / n".

    Paragraphs are wrapped to the text width (between words for Latin text, between characters
    for Chinese); every page repeats them, and lines that do not fit on a page are left out.
    """
    if pages < 1:
        raise ValueError("a contract has at least one page")
    writer = PdfFileWriter()
    engine = GlyphAccumulatorFactory(str(cjk_font_path())).create_font_engine(writer)
    assert isinstance(engine, GlyphAccumulator)
    layout = _Layout(engine)
    body_lines = layout.wrap_paragraphs(paragraphs)
    for page_number in range(1, pages + 1):
        content = layout.page_content(title, body_lines, f"Page {page_number} / {pages}")
        stream = generic.StreamObject(stream_data=content)
        stream.compress()
        resources = generic.DictionaryObject(
            {pdf_name("/Font"): generic.DictionaryObject({pdf_name(FONT_RESOURCE): engine.as_resource()})}
        )
        writer.insert_page(PageObject(writer.add_object(stream), (0, 0, A4_WIDTH, A4_HEIGHT), resources))
    output = BytesIO()
    writer.write(output)
    return output.getvalue()


class _Layout:
    """Measures and places lines of text with one font engine (so one embedded font subset)."""

    def __init__(self, engine: GlyphAccumulator) -> None:
        self.engine = engine
        self.text_width = A4_WIDTH - 2 * MARGIN
        self._advance: dict[str, float] = {}

    def width(self, text: str, size: float) -> float:
        """Width in points, summing cached per-character advances (kerning is ignored for wrapping)."""
        total = 0.0
        for character in text:
            advance = self._advance.get(character)
            if advance is None:
                advance = self._advance[character] = self.engine.shape(
                    character, with_actual_text=False
                ).x_advance
            total += advance
        return total * size

    def wrap_paragraphs(self, paragraphs: list[str]) -> list[str | None]:
        """Lines of body text; ``None`` marks the gap between paragraphs."""
        lines: list[str | None] = []
        for index, paragraph in enumerate(paragraphs):
            if index:
                lines.append(None)
            for part in paragraph.splitlines() or [""]:
                lines.extend(self._wrap(part.strip()))
        return lines

    def _wrap(self, text: str) -> list[str]:
        lines: list[str] = []
        current = ""
        for token in _tokens(text):
            candidate = current + token
            if current and self.width(candidate.rstrip(), BODY_SIZE) > self.text_width:
                lines.append(current.rstrip())
                current = token.lstrip()
            else:
                current = candidate
            while self.width(current.rstrip(), BODY_SIZE) > self.text_width and len(current) > 1:
                # A single token wider than the line (a very long word): break it by characters.
                cut = len(current) - 1
                while cut > 1 and self.width(current[:cut], BODY_SIZE) > self.text_width:
                    cut -= 1
                lines.append(current[:cut])
                current = current[cut:]
        if current.strip() or not lines:
            lines.append(current.rstrip())
        return lines

    def page_content(self, title: str, body_lines: list[str | None], footer: str) -> bytes:
        operators: list[bytes] = []
        top = A4_HEIGHT - MARGIN
        title_width = self.width(title, TITLE_SIZE)
        operators.append(self._text(title, TITLE_SIZE, (A4_WIDTH - title_width) / 2, top - TITLE_SIZE))
        rule_y = top - TITLE_SIZE - 12
        operators.append(b"q 0.6 w 0.4 G %g %g m %g %g l S Q" % (MARGIN, rule_y, A4_WIDTH - MARGIN, rule_y))
        y = rule_y - 12 - BODY_SIZE
        bottom = MARGIN + 2 * FOOTER_SIZE
        for line in body_lines:
            if y < bottom:
                break
            if line is None:
                y -= PARAGRAPH_GAP
                continue
            if line:
                operators.append(self._text(line, BODY_SIZE, MARGIN, y))
            y -= BODY_LEADING
        footer_width = self.width(footer, FOOTER_SIZE)
        operators.append(self._text(footer, FOOTER_SIZE, (A4_WIDTH - footer_width) / 2, MARGIN - FOOTER_SIZE))
        return b"\n".join(operators)

    def _text(self, text: str, size: int, x: float, y: float) -> bytes:
        self.engine.font_size = size
        shaped = self.engine.shape(text)
        return b"BT %s %g Tf 1 0 0 1 %g %g Tm %s ET" % (
            FONT_RESOURCE.encode("ascii"),
            size,
            x,
            y,
            shaped.graphics_ops,
        )


def _tokens(text: str) -> list[str]:
    """Break points: after each CJK character or punctuation mark, and after each space."""
    tokens: list[str] = []
    current = ""
    for character in text:
        if _is_wide(character):
            if current:
                tokens.append(current)
            tokens.append(character)
            current = ""
        elif character.isspace():
            tokens.append(current + " ")
            current = ""
        else:
            current += character
    if current:
        tokens.append(current)
    return tokens


def _is_wide(character: str) -> bool:
    return unicodedata.east_asian_width(character) in ("W", "F")

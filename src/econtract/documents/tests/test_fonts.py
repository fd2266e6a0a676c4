"""The CJK font: one Simplified Chinese face, extracted once, usable by pyHanko."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.writer import PdfFileWriter
from pytest_django.fixtures import Settings

from econtract.documents import fonts
from econtract.documents.errors import FontUnavailable


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "_cached", None)


def test_the_default_font_is_the_extracted_sc_face(fresh_cache: None) -> None:
    path = fonts.cjk_font_path()

    assert path == Path(django_settings.DATA_DIR) / "fonts" / fonts.EXTRACTED_NAME
    assert path.read_bytes()[:4] != b"ttcf"  # a single face, not a collection
    with TTFont(str(path), lazy=True) as font:
        assert font["name"].getDebugName(1).endswith(" SC")
        assert ord("签") in font.getBestCmap()
    assert not list(path.parent.glob("*.tmp"))  # written atomically
    assert fonts.cjk_font_path() is path  # cached for the process


def test_pyhanko_can_shape_chinese_with_it() -> None:
    engine = GlyphAccumulatorFactory(str(fonts.cjk_font_path())).create_font_engine(PdfFileWriter())
    assert engine.shape("签署人 张三").x_advance > 5


def test_a_configured_font_file_wins(settings: Settings, fresh_cache: None) -> None:
    extracted = fonts.cjk_font_path()
    fonts._cached = None
    settings.ECONTRACT_CJK_FONT = str(extracted)
    assert fonts.cjk_font_path() == extracted


def test_a_configured_font_that_is_missing_is_a_clear_error(
    settings: Settings, fresh_cache: None, tmp_path: Path
) -> None:
    settings.ECONTRACT_CJK_FONT = str(tmp_path / "nope.otf")
    with pytest.raises(FontUnavailable, match="ECONTRACT_CJK_FONT"):
        fonts.cjk_font_path()


def latin_only_font(path: Path) -> Path:
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "A"])
    builder.setupCharacterMap({ord("A"): "A"})
    pen = TTGlyphPen(None)
    pen.moveTo((0, 0))
    pen.lineTo((500, 0))
    pen.lineTo((250, 700))
    pen.closePath()
    builder.setupGlyf({".notdef": pen.glyph(), "A": pen.glyph()})
    builder.setupHorizontalMetrics({".notdef": (500, 0), "A": (500, 0)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Latin Only", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(str(path))
    return path


def test_a_configured_font_without_chinese_is_refused(
    settings: Settings, fresh_cache: None, tmp_path: Path
) -> None:
    settings.ECONTRACT_CJK_FONT = str(latin_only_font(tmp_path / "latin.ttf"))
    with pytest.raises(FontUnavailable, match="no Simplified Chinese glyphs"):
        fonts.cjk_font_path()


def test_a_configured_collection_is_reduced_to_its_sc_face(settings: Settings, fresh_cache: None) -> None:
    collection = fonts._packaged_collection() or fonts.DEBIAN_NOTO_CJK
    settings.ECONTRACT_CJK_FONT = str(collection)

    path = fonts.cjk_font_path()

    assert path.name == f"{collection.stem}-SC.otf"
    with TTFont(str(path), lazy=True) as font:
        assert font["name"].getDebugName(1) == "Noto Sans CJK SC"


def test_subset_font_holds_the_names_glyphs_is_small_and_cached():
    from fontTools.ttLib import TTFont

    from econtract.documents.fonts import cjk_font_path, cjk_font_subset_path

    path = cjk_font_subset_path("欧阳娜娜 Nana")
    with TTFont(str(path)) as font:
        cmap = font.getBestCmap()
    assert all(ord(c) in cmap for c in "欧阳娜 Nana0123456789:-")
    assert ord("龘") not in cmap
    assert path.stat().st_size < cjk_font_path().stat().st_size / 50
    assert cjk_font_subset_path("娜欧阳 Nana") == path  # same characters, same cached file

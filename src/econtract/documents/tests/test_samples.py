"""Sample contracts are real PDFs: valid, A4, with Chinese text that renders and extracts."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter

from econtract.documents import samples
from econtract.documents.fonts import cjk_font_path
from econtract.documents.pages import render_page_png
from econtract.documents.pdfsafety import inspect_pdf
from econtract.documents.samples import make_contract_pdf
from econtract.documents.tests.conftest import CONTRACT_PARAGRAPHS, CONTRACT_TITLE
from econtract.documents.tests.pngread import dark_pixel_share


def test_the_sample_passes_inspection_with_the_requested_pages() -> None:
    pdf = make_contract_pdf("合同", ["第一条 双方同意。"], pages=10)
    inspection = inspect_pdf(pdf)
    assert inspection.page_count == 10
    assert inspection.page_sizes[9] == pytest.approx((595.28, 841.89), abs=0.01)


def test_the_font_subset_is_embedded(contract_pdf: bytes) -> None:
    reader = PdfFileReader(io.BytesIO(contract_pdf))
    page = reader.root["/Pages"]["/Kids"][0]
    font = page["/Resources"]["/Font"]["/F1"]
    assert font["/Subtype"] == "/Type0"
    descendant = font["/DescendantFonts"][0]
    assert "+NotoSansCJKsc" in descendant["/BaseFont"]  # a subset ("ABCDEF+") of the SC face
    assert "/FontFile3" in descendant["/FontDescriptor"]
    assert "/ToUnicode" in font


def test_the_sample_renders_visibly(contract_pdf: bytes) -> None:
    assert dark_pixel_share(render_page_png(contract_pdf, 1, width_px=500)) > 0.001


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_the_chinese_text_extracts(contract_pdf: bytes, tmp_path: Path) -> None:
    path = tmp_path / "contract.pdf"
    path.write_bytes(contract_pdf)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    ).stdout.decode()
    assert CONTRACT_TITLE in text
    assert "中华人民共和国民法典" in text
    assert CONTRACT_PARAGRAPHS[1].split()[0] in text
    assert "Page 1 / 2" in text and "Page 2 / 2" in text


def test_long_paragraphs_wrap_inside_the_margins() -> None:
    engine = GlyphAccumulatorFactory(str(cjk_font_path())).create_font_engine(PdfFileWriter())
    layout = samples._Layout(engine)
    paragraphs = ["签署" * 100, "word " * 100, "x" * 300]

    lines = layout.wrap_paragraphs(paragraphs)

    text_lines = [line for line in lines if line is not None]
    assert len(text_lines) > 6
    assert all(layout.width(line, samples.BODY_SIZE) <= layout.text_width for line in text_lines)
    # Nothing is lost: Chinese breaks between characters, Latin between words (or inside a huge word).
    assert "".join(text_lines).replace(" ", "") == "".join(paragraphs).replace(" ", "")
    assert lines.count(None) == 2


def test_at_least_one_page() -> None:
    with pytest.raises(ValueError):
        make_contract_pdf("x", [], pages=0)

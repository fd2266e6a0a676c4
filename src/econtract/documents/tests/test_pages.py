"""Page previews come out of the sandbox as PNGs of the requested width, or as UnsafePdf."""

from __future__ import annotations

import pytest

from econtract.documents.errors import UnsafePdf
from econtract.documents.pages import render_page_png
from econtract.documents.tests import pdfbuild
from econtract.documents.tests.pngread import dark_pixel_share, png_size


def test_a_page_renders_at_the_requested_width(contract_pdf: bytes) -> None:
    png = render_page_png(contract_pdf, 2, width_px=600)

    width, height = png_size(png)
    assert width == 600
    assert height == pytest.approx(600 * 841.89 / 595.28, abs=1)
    assert 0.001 < dark_pixel_share(png) < 0.5  # text was drawn, the page is not a black square


def test_the_default_width_is_900(contract_pdf: bytes) -> None:
    assert png_size(render_page_png(contract_pdf, 1))[0] == 900


@pytest.mark.parametrize("page_number", [0, 3, 10_000])
def test_pages_outside_the_document_are_invalid(contract_pdf: bytes, page_number: int) -> None:
    with pytest.raises(UnsafePdf) as caught:
        render_page_png(contract_pdf, page_number)
    assert caught.value.code == "invalid_page"


def test_width_is_capped_at_2000() -> None:
    assert png_size(render_page_png(pdfbuild.simple_pdf(1), 1, width_px=5000))[0] == 2000


def test_a_long_strip_keeps_the_pixel_count_bounded() -> None:
    strip = pdfbuild.simple_pdf(1, media_box=b"[0 0 10 14400]")
    width, height = png_size(render_page_png(strip, 1, width_px=2000))
    assert width < 2000
    assert width * height <= 12_000_000


def test_garbage_is_corrupt() -> None:
    with pytest.raises(UnsafePdf) as caught:
        render_page_png(b"%PDF-1.7\nnothing here", 1)
    assert caught.value.code == "corrupt"

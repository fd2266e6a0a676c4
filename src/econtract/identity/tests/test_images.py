"""identity.images on its own: what a phone really sends is accepted, upright and bare; the rest not."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from econtract.identity.errors import ImageRefused, NotAnImage
from econtract.identity.images import clean_image
from econtract.identity.tests import pictures


def test_rotated_photo_is_stored_upright_without_its_orientation_tag() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    out = io.BytesIO()
    Image.new("RGB", (400, 200), (200, 10, 10)).save(out, format="JPEG", exif=exif)
    clean = clean_image(out.getvalue())
    assert (clean.width, clean.height) == (200, 400)
    with Image.open(io.BytesIO(clean.data)) as stored:
        assert dict(stored.getexif()) == {}


@pytest.mark.parametrize(
    "save", [{"progressive": True}, {"restart_marker_blocks": 4}, {"subsampling": 0, "quality": 95}]
)
def test_jpeg_variants_are_accepted(save: dict[str, object]) -> None:
    assert clean_image(pictures.jpeg(**save)).content_type == "image/jpeg"


def test_transparency_survives_in_png() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (300, 300), (1, 2, 3, 100)).save(out, format="PNG")
    with Image.open(io.BytesIO(clean_image(out.getvalue()).data)) as stored:
        assert stored.mode == "RGBA"


@pytest.mark.parametrize(
    "data",
    [
        pictures.png()[:-20],  # truncated before IEND
        pictures.jpeg()[:-200],  # truncated inside the scan
        b"GIF89a" + b"\x00" * 100,
        pictures.jpeg() + b"\x00" * 16 + b"PK\x03\x04",
    ],
    ids=["truncated-png", "truncated-jpeg", "gif", "jpeg-padding-then-zip"],
)
def test_malformed_or_other_formats_are_refused(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        clean_image(data)


def test_zero_padding_after_a_jpeg_is_tolerated() -> None:
    assert clean_image(pictures.jpeg() + b"\x00" * 32).content_type == "image/jpeg"


def test_a_png_declaring_huge_dimensions_is_refused_unopened(settings: object) -> None:
    out = io.BytesIO()
    Image.new("1", (9000, 100)).save(out, format="PNG")
    with pytest.raises(ImageRefused, match="9000"):
        clean_image(out.getvalue())

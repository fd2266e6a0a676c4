"""Signature pictures: scans made transparent and trimmed, the pad's PNG trimmed, typed names rendered;
and every picture that is not one refused, quickly."""

from __future__ import annotations

import io
import math
import struct
import time
import zlib

import pytest
from PIL import Image, ImageDraw, PngImagePlugin

from econtract.seals import signature_images, typed
from econtract.seals.errors import InvalidSignatureImage

BLUE_INK = (20, 40, 140)
PAPER = (236, 230, 214)  # a warm off-white, as a phone photographs white paper


def scan(
    size=(1600, 900), *, ink=BLUE_INK, paper=PAPER, noise=12, draw=True, fmt="JPEG", offset=(0, 0)
) -> bytes:
    """A photographed signature: paper with grain, a wave and a slash in pen ink."""
    width, height = size
    grain = Image.effect_noise(size, noise).convert("L")  # centred on 128
    image = Image.merge("RGB", [grain.point(lambda v, p=p: max(0, min(255, p + v - 128))) for p in paper])
    if draw:
        pen = ImageDraw.Draw(image)
        dx, dy = offset
        wave = [
            (dx + width // 4 + i * 4, dy + height // 2 + int(height / 7 * math.sin(i / 15)))
            for i in range(200)
        ]
        pen.line(wave, fill=ink, width=9, joint="curve")
        pen.line(
            [(dx + width // 3, dy + height // 3), (dx + width // 2 + 60, dy + height * 2 // 3)],
            fill=ink,
            width=7,
        )
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return out.getvalue()


def opened(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png), formats=["PNG"])
    image.load()
    return image


def opaque_pixels(image: Image.Image) -> list[tuple[int, int, int, int]]:
    raw = image.convert("RGBA").tobytes()
    pixels = (tuple(raw[i : i + 4]) for i in range(0, len(raw), 4))
    return [pixel for pixel in pixels if pixel[3] == 255]


def ink_box_margin(image: Image.Image) -> int:
    """How far the visible ink (alpha > 0) is from the picture's nearest edge."""
    left, top, right, bottom = image.getchannel("A").getbbox()
    return min(left, top, image.width - right, image.height - bottom)


def refusal(call, data) -> str:
    with pytest.raises(InvalidSignatureImage) as caught:
        call(data)
    return caught.value.reason


# --- uploads ------------------------------------------------------------------------------------------


def test_a_photographed_signature_loses_its_paper_and_keeps_its_blue_ink():
    # Given a JPEG of blue ink on grainy off-white paper
    data = scan()

    # When it is taken as a signature
    png = signature_images.from_upload(data)

    # Then it is an RGBA PNG: the paper is transparent (no grain left as specks)...
    image = opened(png)
    assert image.mode == "RGBA"
    alpha = image.getchannel("A")
    corners = [(0, 0), (image.width - 1, 0), (0, image.height - 1), (image.width - 1, image.height - 1)]
    assert all(alpha.getpixel(corner) == 0 for corner in corners)
    transparent = alpha.histogram()[0] / (image.width * image.height)
    assert transparent > 0.7
    # ...the ink is opaque and still blue, not blended with the paper's colour
    ink = opaque_pixels(image)
    assert len(ink) > 2000
    mean = [sum(pixel[channel] for pixel in ink) / len(ink) for channel in range(3)]
    assert mean[2] > mean[0] + 60 and mean[2] > 100
    assert all(abs(got - want) < 35 for got, want in zip(mean, BLUE_INK, strict=True))


def test_an_upload_is_trimmed_to_the_ink_with_a_small_margin():
    # Given a scan whose signature sits in the middle of a large sheet
    png = signature_images.from_upload(scan((1600, 900)))

    image = opened(png)
    # Then the picture is about the ink's size (wave 800 px wide + margin), not the sheet's
    assert 780 <= image.width <= 900
    assert image.height < 450
    assert 0 <= ink_box_margin(image) <= 40


def test_a_large_photo_is_scaled_down_to_at_most_1200_pixels_wide():
    # Given a 5000 px wide photo whose signature spans most of it
    width, height = 5000, 1800
    image = Image.new("RGB", (width, height), (245, 245, 240))
    ImageDraw.Draw(image).line(
        [(200 + i * 23, 900 + int(500 * math.sin(i / 20))) for i in range(200)], fill=(10, 10, 10), width=30
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)

    png = signature_images.from_upload(out.getvalue())

    result = opened(png)
    assert result.width <= 1200 and result.height <= 600
    assert len(opaque_pixels(result)) > 1000


def test_a_png_that_is_already_cut_out_keeps_its_transparency():
    # Given a transparent PNG with black strokes (exported from another app)
    image = Image.new("RGBA", (600, 300), (255, 255, 255, 0))
    ImageDraw.Draw(image).line([(50, 150), (300, 60), (550, 200)], fill=(0, 0, 0, 255), width=8)
    out = io.BytesIO()
    image.save(out, "PNG")

    result = opened(signature_images.from_upload(out.getvalue()))

    assert result.getchannel("A").getpixel((0, 0)) == 0
    assert len(opaque_pixels(result)) > 1000
    assert result.width < 600


def test_blank_paper_is_refused():
    assert refusal(signature_images.from_upload, scan(draw=False)) == "no_ink"


def test_a_white_image_and_a_black_image_are_refused():
    for colour in ((255, 255, 255), (0, 0, 0)):
        out = io.BytesIO()
        Image.new("RGB", (400, 200), colour).save(out, "PNG")
        assert refusal(signature_images.from_upload, out.getvalue()) in {"no_ink", "dark_background"}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"GIF89a" + b"\x00" * 100,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # a PNG signature and nothing of a PNG
    ],
    ids=["empty", "pdf", "svg", "gif", "truncated-png"],
)
def test_what_is_not_a_png_or_jpeg_is_refused(data):
    assert refusal(signature_images.from_upload, data) == "not_an_image"


def test_a_png_with_a_file_appended_is_refused():
    # A polyglot: a valid PNG followed by a ZIP archive
    assert (
        refusal(signature_images.from_upload, scan(fmt="PNG") + b"PK\x03\x04" + b"\x00" * 64)
        == "not_an_image"
    )


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (its pixel data would be gigabytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_is_refused_before_any_pixel_is_decoded():
    # Given a 200-byte PNG that claims 30000 x 30000 pixels
    data = png_header_only(30000, 30000)
    started = time.monotonic()

    # Then it is refused from its header, at once
    assert refusal(signature_images.from_upload, data) == "too_large"
    assert refusal(signature_images.from_pad, data) == "too_large"
    assert time.monotonic() - started < 1.0


def test_a_file_over_the_byte_limit_is_refused_unread():
    data = b"\xff\xd8\xff" + b"\x00" * signature_images.MAX_BYTES
    assert refusal(signature_images.from_upload, data) == "too_large"


def test_metadata_does_not_survive():
    # Given a PNG with a text chunk (a comment, a GPS position, a script: whatever a file carries)
    image = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(40, 100), (360, 120)], fill=(0, 0, 0, 255), width=6)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret location 26.07N 119.30E")
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)

    png = signature_images.from_pad(out.getvalue())

    assert b"secret location" not in png
    assert opened(png).info.get("Comment") is None


# --- the pad ------------------------------------------------------------------------------------------


def pad_png(size=(1200, 440), strokes=True) -> bytes:
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    if strokes:
        pen = ImageDraw.Draw(image)
        pen.line(
            [(300, 220), (420, 120), (520, 300), (700, 180)], fill=(22, 34, 92, 255), width=6, joint="curve"
        )
        pen.line([(760, 160), (900, 260)], fill=(22, 34, 92, 255), width=6)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_the_pads_drawing_is_trimmed_to_its_strokes():
    png = signature_images.from_pad(pad_png())

    image = opened(png)
    assert image.mode == "RGBA"
    assert 606 <= image.width <= 660 and 186 <= image.height <= 240
    assert ink_box_margin(image) <= 20
    assert {pixel[:3] for pixel in opaque_pixels(image)} == {(22, 34, 92)}


def test_an_empty_pad_is_refused():
    assert refusal(signature_images.from_pad, pad_png(strokes=False)) == "no_ink"


def test_the_pad_takes_only_png():
    assert refusal(signature_images.from_pad, scan()) == "not_an_image"


# --- typed --------------------------------------------------------------------------------------------


def test_a_chinese_and_latin_name_is_written_in_the_handwriting_font():
    # Given a name in Chinese and Latin letters
    png = typed.render_typed("张丽之 Zhang Lizhi")

    # Then it is a transparent picture of dark blue ink, trimmed, wider than high
    image = opened(png)
    assert image.mode == "RGBA"
    assert image.getchannel("A").getpixel((0, 0)) == 0
    ink = opaque_pixels(image)
    assert len(ink) > 5000
    assert {pixel[:3] for pixel in ink} == {typed.INK}
    assert image.width > 3 * image.height
    assert ink_box_margin(image) <= 12
    # and each part of the name draws something: the Chinese half and the Latin half both hold ink
    alpha = image.getchannel("A")
    left, right = (
        alpha.crop((0, 0, image.width // 3, image.height)),
        alpha.crop((image.width * 2 // 3, 0, image.width, image.height)),
    )
    assert left.getbbox() is not None and right.getbbox() is not None


def test_the_shipped_font_covers_chinese_and_latin_and_carries_its_licence():
    assert ord("张") in typed._primary_cmap()
    assert ord("Z") in typed._primary_cmap()
    assert typed.font_path().stat().st_size < 10 * 1024 * 1024
    assert (typed.font_path().parent / "OFL.txt").read_text().find("SIL Open Font License") >= 0


def test_a_rare_character_of_a_name_falls_back_to_noto_cjk():
    # 喆 is outside GB 2312 (and the handwriting font); Noto Sans CJK SC has it.
    assert ord("喆") not in typed._primary_cmap()
    if typed._fallback() is None:
        pytest.skip("no Noto CJK font on this machine")
    image = opened(typed.render_typed("王喆"))
    assert len(opaque_pixels(image)) > 1000


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty_text"),
        ("   ", "empty_text"),
        ("张\n三", "invalid_text"),
        ("\U0001f600", "missing_glyph"),
        ("张" * 41, "invalid_text"),
    ],
    ids=["empty", "blank", "line-break", "emoji", "too-long"],
)
def test_text_that_cannot_be_a_signature_is_refused(text, reason):
    assert refusal(typed.render_typed, text) == reason

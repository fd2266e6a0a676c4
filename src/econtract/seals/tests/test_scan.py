"""Uploaded seal scans: the red ink is kept on transparency; paper, text and noise are not."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import Image, ImageDraw, ImageFont

from econtract.documents.fonts import cjk_font_path
from econtract.seals.drawing import draw_seal, render_png
from econtract.seals.errors import InvalidSeal
from econtract.seals.scan import extract_red_ink

SEAL_AT = (420, 260)  # where the stamp lands on the page, pixels


def seal_stamp(dpi: int = 200) -> Image.Image:
    drawing = draw_seal(
        text="福州示例科技有限公司", type_text="合同专用章", shape="round", code="3501020012345"
    )
    return Image.open(io.BytesIO(render_png(drawing, dpi=dpi))).convert("RGBA")


def paper(colour: tuple[int, int, int], *, size: tuple[int, int] = (1100, 900), seed: int = 7) -> Image.Image:
    """Paper of a colour with grain, and two lines of black text, one of them under the stamp."""
    rnd = random.Random(seed)
    page = Image.new("RGB", size, colour)
    pixels = page.load()
    for _ in range(size[0] * size[1] // 6):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        shade = rnd.randint(-14, 14)
        r, g, b = pixels[x, y]
        pixels[x, y] = (r + shade, g + shade, b + shade)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(cjk_font_path()), 44)
    draw.text((40, 60), "甲方：福州示例科技有限公司  合同编号 2026-001", fill=(25, 25, 25), font=font)
    draw.text(
        (40, 430), "乙方（盖章）：福州示例科技有限公司   日期：2026年12月2日", fill=(15, 15, 20), font=font
    )
    return page


def stamped(
    page: Image.Image, stamp: Image.Image, *, ink: tuple[int, int, int] = (200, 30, 40)
) -> Image.Image:
    """The stamp pressed on the page in ``ink``: multiplied, as ink on paper is."""
    layer = Image.new("RGB", stamp.size, ink)
    white = Image.new("RGB", stamp.size, (255, 255, 255))
    tinted = Image.composite(layer, white, stamp.getchannel("A"))
    from PIL import ImageChops

    region = page.crop((*SEAL_AT, SEAL_AT[0] + stamp.width, SEAL_AT[1] + stamp.height))
    page.paste(ImageChops.multiply(region, tinted), SEAL_AT)
    return page


def jpeg(image: Image.Image, quality: int = 72) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    "paper_colour",
    [(243, 236, 218), (214, 212, 205), (240, 226, 175)],
    ids=["off-white", "grey", "yellowish"],
)
def test_the_red_stamp_is_kept_and_the_paper_and_black_text_are_not(
    paper_colour: tuple[int, int, int],
) -> None:
    # Given a JPEG scan of a contract page: grainy paper, black text, a red seal pressed over a line of it
    stamp = seal_stamp()
    scan = jpeg(stamped(paper(paper_colour), stamp))

    # When its red ink is extracted
    result = Image.open(io.BytesIO(extract_red_ink(scan)))

    # Then it is an RGBA image trimmed to the seal with a small margin,
    assert result.mode == "RGBA"
    assert stamp.width <= result.width <= stamp.width * 1.08
    assert stamp.height <= result.height <= stamp.height * 1.08
    # its ink is the stamp's ink where it was (aligned on the ink's bounding box),
    found = result.getchannel("A").point(lambda v: 255 if v >= 128 else 0)
    box = found.getbbox()
    assert box is not None
    expected = stamp.getchannel("A").point(lambda v: 255 if v >= 128 else 0)
    expected_box = expected.getbbox()
    assert expected_box is not None
    found = found.crop(box).resize(expected.crop(expected_box).size)
    expected = expected.crop(expected_box)
    found_pixels, expected_pixels = found.tobytes(), expected.tobytes()
    both = sum(1 for f, e in zip(found_pixels, expected_pixels, strict=True) if f and e)
    either = sum(1 for f, e in zip(found_pixels, expected_pixels, strict=True) if f or e)
    assert both / either > 0.85  # intersection over union of the inked pixels
    # so the black text under and beside the seal is gone: the ink found is not more than the stamp's
    assert sum(1 for f in found_pixels if f) <= sum(1 for e in expected_pixels if e) * 1.08
    # the paper is transparent (corners of the trim, outside the ring),
    alpha = result.getchannel("A")
    assert max(alpha.getpixel((x, y)) for x in range(3) for y in range(3)) == 0  # type: ignore[type-var]
    # and the ink is red
    r, g, b, _ = result.getpixel((result.width // 2, result.height // 2))  # type: ignore[misc]
    assert r > 150 and g < 80 and b < 80


def test_alpha_follows_the_strength_of_the_ink() -> None:
    # Given the same stamp pressed hard and pressed faintly (pale pink ink)
    stamp = seal_stamp(dpi=150)
    strong = Image.open(io.BytesIO(extract_red_ink(jpeg(stamped(paper((243, 236, 218)), stamp)))))
    faint = stamped(paper((243, 236, 218)), stamp, ink=(238, 160, 160))
    pale = Image.open(io.BytesIO(extract_red_ink(jpeg(faint))))

    # Then both are found, the faint one more transparent,
    def ink_alpha(image: Image.Image) -> float:
        values = [v for v in image.getchannel("A").tobytes() if v >= 32]
        return sum(values) / len(values)

    assert ink_alpha(pale) < 0.7 * ink_alpha(strong)
    assert ink_alpha(pale) > 60
    # and laid on white paper it looks as pale as it was: the star's centre, pink, not red
    on_white = Image.new("RGBA", pale.size, (255, 255, 255, 255))
    on_white.alpha_composite(pale)
    r, g, b, _ = on_white.getpixel((pale.width // 2, pale.height // 2))  # type: ignore[misc]
    assert r > 200 and 120 < g < 200 and 120 < b < 200


def test_a_transparent_png_of_a_seal_comes_back_as_itself() -> None:
    # Given a seal already on transparency (a PNG exported from another system)
    stamp = seal_stamp(dpi=150)
    result = Image.open(io.BytesIO(extract_red_ink(png(stamp))))
    # Then the see-through parts are paper, the ink is kept, trimmed to a small margin
    assert stamp.width <= result.width <= stamp.width * 1.06
    ours = sum(1 for v in result.getchannel("A").tobytes() if v >= 128)
    theirs = sum(1 for v in stamp.getchannel("A").tobytes() if v >= 128)
    assert ours == pytest.approx(theirs, rel=0.05)


def test_a_scan_without_red_ink_is_refused() -> None:
    # black text only, and a blue stamp: neither is a red seal
    page = paper((243, 236, 218))
    ImageDraw.Draw(page).ellipse((500, 300, 800, 600), outline=(30, 60, 190), width=12)
    with pytest.raises(InvalidSeal, match="no red seal ink"):
        extract_red_ink(jpeg(page))


def test_orange_is_not_red() -> None:
    page = paper((243, 236, 218))
    ImageDraw.Draw(page).ellipse((500, 300, 800, 600), outline=(235, 150, 20), width=12)
    with pytest.raises(InvalidSeal, match="no red seal ink"):
        extract_red_ink(jpeg(page))


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n",
        b"",
        png(Image.new("RGB", (200, 200), "white")) + b"PK\x03\x04 appended zip",
        png(Image.new("RGB", (20, 20), "red")),  # too small to be a scan
    ],
    ids=["pdf", "empty", "png with data appended", "tiny"],
)
def test_what_is_not_a_usable_image_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidSeal, match="cannot be used"):
        extract_red_ink(data)


def test_a_decompression_bomb_is_refused_unopened() -> None:
    # a PNG whose header says 30000 x 30000 pixels (900 MP), with a few bytes of data
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 30001))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(InvalidSeal, match="cannot be used: the image (is 30000×30000|expands to too many)"):
        extract_red_ink(bomb)

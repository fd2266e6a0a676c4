"""A seal scanned or photographed on paper, turned into red ink on transparency.

The upload is hostile input: it goes through ``identity.images.clean_image`` first, the same gate as
identity document photos (JPEG or PNG by magic bytes and structure, nothing appended, at most
``ECONTRACT_IDENTITY_IMAGE_MAX_BYTES``, dimensions read from the header and bounded before any pixel is
decoded, so a decompression bomb is refused unopened), and only its re-decoded pixels are used.

Finding the ink, robust to paper colour and JPEG noise:

1. white balance: each channel is scaled so that the paper (the 90th percentile of that channel; a
   seal covers far less of a scan than that) becomes white, so cream, grey or yellowish paper and a
   warm lamp do not read as ink;
2. a pixel is red by its chroma, ``R - max(G, B)``, and its hue: within about 30° of red
   (``|G - B| <= 0.6 (R - min(G, B))``), so orange, brown, magenta and blue are not; black and grey text
   has no chroma at all;
3. the ink's strength is that chroma ramped from ``INK_LOW`` (nothing: JPEG's colour noise around black
   text stays below it) to ``INK_FULL`` (opaque), cleaned of single-pixel specks by a 3×3 median;
4. the result is one colour (the strongest ink's, unmixed from the paper it lies on) with that
   strength as alpha, so over white it looks as the scan did; trimmed to the ink's bounding box plus a
   small margin. An image with (almost) no red ink is refused.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageFilter, ImageMath, ImageOps, ImageStat

from econtract.identity.errors import ImageRefused
from econtract.identity.images import clean_image
from econtract.seals.errors import InvalidSeal

INK_LOW = 24  # darkness (0..255 below the white-balanced paper) that is still paper grain
INK_FULL = 150  # darkness from which the ink is opaque
RED_SHARE_LOW = 35  # percent of the darkness around a pixel that is red chroma: below, not red ink
RED_SHARE_FULL = 60  # from here on, all red
WORK_SIDE = 3000  # larger scans are reduced first: 3000 px over a 42 mm seal is well past 1200 dpi
MIN_INK_PIXELS = 200
MARGIN = 0.02  # of the trimmed ink's larger side


def extract_red_ink(data: bytes) -> bytes:
    """The red ink of an uploaded seal scan as a trimmed RGBA PNG; InvalidSeal when there is none."""
    try:
        clean = clean_image(data)
    except ImageRefused as exc:
        raise InvalidSeal(f"the scan cannot be used: {exc}") from None
    with Image.open(io.BytesIO(clean.data)) as decoded:
        decoded.load()
        image = _on_white(decoded)
    if max(image.size) > WORK_SIDE:
        image.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.LANCZOS)
    balanced = _white_balanced(image)
    strength = _ink_strength(balanced)
    ink_pixels = sum(strength.point(lambda v: 255 if v >= 64 else 0).histogram()[255:])
    if ink_pixels < max(MIN_INK_PIXELS, image.width * image.height // 1000):
        raise InvalidSeal("no red seal ink found in the scan")
    box = strength.point(lambda v: 255 if v >= 32 else 0).getbbox()
    if box is None:  # pragma: no cover - implied by the count above
        raise InvalidSeal("no red seal ink found in the scan")
    margin = max(2, round(MARGIN * max(box[2] - box[0], box[3] - box[1])))
    box = (
        max(0, box[0] - margin),
        max(0, box[1] - margin),
        min(image.width, box[2] + margin),
        min(image.height, box[3] + margin),
    )
    colour = _ink_colour(balanced, strength)
    alpha = strength.crop(box)
    result = Image.new("RGBA", alpha.size, colour + (255,))
    result.putalpha(alpha)
    out = io.BytesIO()
    result.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _on_white(image: Image.Image) -> Image.Image:
    """RGB; a transparent PNG's see-through parts count as white paper."""
    if image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        paper.alpha_composite(rgba)
        return paper.convert("RGB")
    return image.convert("RGB")


def _white_balanced(image: Image.Image) -> Image.Image:
    channels = []
    for channel in image.split():
        paper = _percentile(channel.histogram(), 0.90)
        scale = 255 / max(paper, 96)  # a dark photo is not stretched past 2.7x
        channels.append(channel.point(lambda v, scale=scale: min(255, round(v * scale))))
    return Image.merge("RGB", channels)


def _percentile(histogram: list[int], fraction: float) -> int:
    target = fraction * sum(histogram)
    seen = 0
    for value, count in enumerate(histogram):
        seen += count
        if seen >= target:
            return value
    return 255


def _ink_strength(image: Image.Image) -> Image.Image:
    """L image: 0 for paper and anything not red, up to 255 for saturated red ink.

    How much ink a pixel holds is read from its luminance, at full resolution; whether that ink is
    red is read from the colour of its 3×3 neighbourhood, at the lower resolution JPEG keeps colour
    in (4:2:0 subsampling smears a thin stroke's chroma over its neighbours, never its luminance).
    """
    darkness = ImageOps.invert(image.convert("L"))
    r, g, b = image.filter(ImageFilter.BoxBlur(1)).split()
    darkness_around = darkness.filter(ImageFilter.BoxBlur(1))

    def strength(args: dict[str, Any]) -> Any:
        low, high, maximum, minimum = args["low"], args["high"], args["max"], args["min"]
        red, green, blue = args["r"], args["g"], args["b"]
        chroma = red - maximum(green, blue)
        spread = red - minimum(green, blue)
        red_hue = abs(green - blue) * 10 <= spread * 4  # within about 24 degrees of red
        # of the darkness around, how much is red chroma: ~0.9 for red ink, ~0 for black or grey
        share = (chroma * 100) / maximum(args["around"], 20)
        redness = minimum(maximum((share - low) * 255 / (high - low), 0), 255)
        amount = minimum(maximum((args["dark"] - INK_LOW) * 255 / (INK_FULL - INK_LOW), 0), 255)
        return args["convert"](amount * redness / 255 * red_hue, "L")

    result = ImageMath.lambda_eval(
        strength,
        r=r.convert("I"),
        g=g.convert("I"),
        b=b.convert("I"),
        dark=darkness.convert("I"),
        around=darkness_around.convert("I"),
        low=RED_SHARE_LOW,
        high=RED_SHARE_FULL,
    )
    assert isinstance(result, Image.Image)
    return result.filter(ImageFilter.MedianFilter(3))


def _ink_colour(image: Image.Image, strength: Image.Image) -> tuple[int, int, int]:
    """The colour C that, laid with the strongest ink's alpha a over white paper, shows what the scan
    shows there: P = a·C + (1 - a)·255, so C = 255 - (255 - P) / a (a faint stamp keeps its look)."""
    extrema = strength.getextrema()
    assert isinstance(extrema[1], int)
    floor = max(32, round(0.8 * extrema[1]))
    strong = strength.point(lambda v: 255 if v >= floor else 0)
    seen = ImageStat.Stat(image, mask=strong).mean
    alpha = ImageStat.Stat(strength, mask=strong).mean[0] / 255
    unmixed = [min(255, max(0, round(255 - (255 - value) / alpha))) for value in seen]
    return unmixed[0], unmixed[1], unmixed[2]

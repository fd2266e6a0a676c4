"""Signature pictures from outside: an uploaded scan or photo, or the signature pad's PNG.

Both are hostile input. A picture is accepted only when its first bytes are those of a PNG (or, for
an upload, a JPEG), its structure ends where the format says it ends (``identity.images``' checks:
no polyglot), it is at most ``MAX_BYTES`` and its dimensions, read from the header before any pixel
is decoded, are bounded (a decompression bomb is refused unopened). What is kept is a new RGBA PNG
built from the decoded pixels alone: no metadata survives.

An upload is a signature on paper. The paper's colour is estimated from the picture's border (the
median of a strip along each edge); a pixel's ink is how much darker it is than the paper in its
darkest channel, above the paper's own noise (the border's spread). That darkness becomes the alpha,
and the ink's colour is recovered by undoing the blend with the paper (c = a·ink + (1−a)·paper), so a
blue signature stays blue and its edges carry no paper-coloured halo on another background. The
result is trimmed to the ink plus a small margin and scaled down to at most ``MAX_OUTPUT``.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageChops, ImageFilter, ImageMath, ImageOps, ImageStat, UnidentifiedImageError

from econtract.identity.errors import NotAnImage
from econtract.identity.images import JPEG_MAGIC, PNG_MAGIC
from econtract.identity.images import _check_jpeg_structure as check_jpeg_structure
from econtract.identity.images import _check_png_structure as check_png_structure
from econtract.seals.errors import InvalidSignatureImage

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 6000  # pixels a side, read from the header
MAX_PIXELS = 24_000_000
MIN_SIDE = 16
WORK_SIDE = 2400  # larger pictures are reduced to this before the per-pixel work (bounded time)
MAX_OUTPUT = (1200, 600)  # the stored signature fits this box
MIN_INK_PIXELS = 24  # fewer pixels of ink than this is dust, not a signature
BORDER_FRACTION = 0.04  # the strip along each edge that tells the paper's colour
DARKEST_PAPER = 90  # a "paper" darker than this (luminance) leaves no contrast for ink


class SignatureImageRefused(InvalidSignatureImage):
    """InvalidSignatureImage with a machine-readable ``reason`` the web page turns into a sentence:
    ``not_an_image``, ``too_large``, ``too_small``, ``no_ink``, ``dark_background``, ``limit``,
    ``missing_glyph``, ``empty_text``, ``not_yours``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def from_upload(data: bytes) -> bytes:
    """A PNG or JPEG of a signature on paper -> RGBA PNG, background transparent, trimmed to the ink."""
    image = _decode(data, formats=("PNG", "JPEG"))
    if _has_transparency(image):
        # Already cut out (a PNG with alpha): what is transparent is no ink, whatever its colour.
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = flat
    rgb = _reduce(image.convert("RGB"), WORK_SIDE)
    return _encode(_fit(_remove_paper(rgb)))


def from_pad(data: bytes) -> bytes:
    """The signature pad's PNG (strokes on a transparent canvas) -> RGBA PNG trimmed to the strokes.

    A pad picture without transparency (a canvas filled white by some browser) is treated as paper.
    """
    image = _decode(data, formats=("PNG",))
    if not _has_transparency(image):
        return _encode(_fit(_remove_paper(_reduce(image.convert("RGB"), WORK_SIDE))))
    rgba = _reduce(image.convert("RGBA"), WORK_SIDE)
    return _encode(_fit(_trim(rgba)))


def image_size(png: bytes) -> tuple[int, int]:
    """Width and height of a PNG this module made (read from its header)."""
    with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
        return image.size


# --- decoding ----------------------------------------------------------------------------------------


def _decode(data: bytes, *, formats: tuple[str, ...]) -> Image.Image:
    if not data:
        raise SignatureImageRefused("not_an_image", "the file is empty")
    if len(data) > MAX_BYTES:
        raise SignatureImageRefused("too_large", f"the image is larger than {MAX_BYTES // (1024 * 1024)} MB")
    if data.startswith(PNG_MAGIC) and "PNG" in formats:
        kind, check = "PNG", check_png_structure
    elif data.startswith(JPEG_MAGIC) and "JPEG" in formats:
        kind, check = "JPEG", check_jpeg_structure
    else:
        names = " or ".join(formats)
        raise SignatureImageRefused("not_an_image", f"the file is not a {names} image")
    _structure(check)(data)
    with warnings.catch_warnings():
        # Pillow warns, then raises, past its own pixel limit: ours is lower, so both are refusals.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[kind]) as opened:
                width, height = opened.size
                if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                    raise SignatureImageRefused(
                        "too_large", f"the image is {width}×{height} pixels, more than {MAX_SIDE} a side"
                    )
                if width < MIN_SIDE or height < MIN_SIDE:
                    raise SignatureImageRefused("too_small", f"the image is {width}×{height} pixels")
                if kind == "JPEG":
                    # Decode a big photo at 1/2, 1/4 or 1/8 scale straight away (still >= WORK_SIDE).
                    scale = WORK_SIDE / max(width, height)
                    if scale < 1:
                        opened.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
                opened.load()
                upright = ImageOps.exif_transpose(opened) or opened
                mode = upright.mode if upright.mode in {"RGB", "RGBA", "L", "LA"} else _mode_for(upright)
                converted = upright.convert(mode) if upright.mode != mode else upright.copy()
                # The pixels alone: no EXIF, text chunk or ICC profile follows them into the PNG.
                converted.info = {}
                return converted
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise SignatureImageRefused("too_large", "the image expands to too many pixels") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as exc:
            raise SignatureImageRefused("not_an_image", f"the {kind} image cannot be decoded") from exc


def _structure(check: Callable[[bytes], None]) -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        try:
            check(data)
        except NotAnImage as exc:
            raise SignatureImageRefused("not_an_image", str(exc)) from exc

    return run


def _mode_for(image: Image.Image) -> str:
    has_alpha = image.mode in {"PA", "La", "RGBa"} or "transparency" in image.info
    return "RGBA" if has_alpha else "RGB"


def _has_transparency(image: Image.Image) -> bool:
    if image.mode not in {"RGBA", "LA"}:
        return False
    extrema = image.getchannel("A").getextrema()  # (low, high) of a one-band image
    return isinstance(extrema[0], int | float) and extrema[0] < 250


def _reduce(image: Image.Image, side: int) -> Image.Image:
    if max(image.size) <= side:
        return image
    reduced = image.copy()
    reduced.thumbnail((side, side), Image.Resampling.LANCZOS)
    return reduced


# --- paper removal ---------------------------------------------------------------------------------


def _border(image: Image.Image) -> Image.Image:
    """The strips along the four edges, side by side in one image."""
    width, height = image.size
    strip = max(2, round(min(width, height) * BORDER_FRACTION))
    pieces = [
        image.crop((0, 0, width, strip)),
        image.crop((0, height - strip, width, height)),
        image.crop((0, 0, strip, height)).rotate(90, expand=True),
        image.crop((width - strip, 0, width, height)).rotate(90, expand=True),
    ]
    joined = Image.new(image.mode, (sum(piece.width for piece in pieces), strip))
    x = 0
    for piece in pieces:
        joined.paste(piece, (x, 0))
        x += piece.width
    return joined


def _darkness(image: Image.Image, paper: tuple[int, int, int]) -> Image.Image:
    """Per pixel, how much darker than the paper it is, in its darkest channel (mode L)."""
    below = ImageChops.subtract(Image.new("RGB", image.size, paper), image)  # clamps at 0
    red, green, blue = below.split()
    return ImageChops.lighter(ImageChops.lighter(red, green), blue)


def _remove_paper(image: Image.Image) -> Image.Image:
    """RGB scan -> RGBA trimmed to the ink: paper transparent, ink opaque in its own colour."""
    border = _border(image)
    median = ImageStat.Stat(border).median
    paper = (int(median[0]), int(median[1]), int(median[2]))
    luminance = (299 * paper[0] + 587 * paper[1] + 114 * paper[2]) // 1000
    if luminance < DARKEST_PAPER:
        raise SignatureImageRefused(
            "dark_background", "the background is too dark: photograph the signature on light paper"
        )
    # The paper's own grain, measured where there is (almost surely) no ink, sets the ink threshold.
    border_dark = _darkness(border, paper)
    stat = ImageStat.Stat(border_dark)
    noise = stat.mean[0] + 3 * stat.stddev[0]
    low = min(max(noise + 12, 28), luminance * 0.5)
    span = max(luminance * 0.35, 40)  # from "just ink" to "fully ink"
    # A 3x3 median removes isolated specks (dust, JPEG noise) before they become ink.
    dark = _darkness(image, paper).filter(ImageFilter.MedianFilter(3))
    alpha = dark.point([_ramp(value, low, span) for value in range(256)])
    # Trimmed before the colour is recovered: the per-pixel arithmetic runs on the ink's box only.
    box = _ink_box(alpha)
    return _unblend(image.crop(box), alpha.crop(box), paper)


def _ramp(value: int, low: float, span: float) -> int:
    if value <= low:
        return 0
    return min(255, round((value - low) * 255 / span))


def _unblend(image: Image.Image, alpha: Image.Image, paper: tuple[int, int, int]) -> Image.Image:
    """The ink's own colour where a pixel is ink mixed with paper: ink = (c − (1−a)·paper) / a."""
    opacity = alpha.convert("F")
    channels = []
    for channel, paper_value in zip(image.split(), paper, strict=True):

        def ink(args: dict[str, Any], paper_value: int = paper_value) -> Any:
            a = args["a"] / 255.0
            value = (args["c"] - paper_value * (1.0 - a)) / args["max"](a, 1.0 / 255.0)
            return args["convert"](args["min"](args["max"](value, 0.0), 255.0), "L")

        unblended = ImageMath.lambda_eval(ink, c=channel.convert("F"), a=opacity)
        channels.append(unblended if isinstance(unblended, Image.Image) else channel)
    rgba = Image.merge("RGBA", (*channels, alpha))
    # Where there is no ink, no colour either: the PNG compresses better and nothing hides there.
    return Image.composite(rgba, Image.new("RGBA", rgba.size, (0, 0, 0, 0)), alpha)


# --- trimming and scaling --------------------------------------------------------------------------


def _trim(rgba: Image.Image) -> Image.Image:
    return rgba.crop(_ink_box(rgba.getchannel("A")))


def _ink_box(alpha: Image.Image) -> tuple[int, int, int, int]:
    """The box of the ink (pixels at least half opaque, specks removed) plus a small margin."""
    solid = alpha.point([255 if value >= 128 else 0 for value in range(256)])
    if solid.histogram()[255] < MIN_INK_PIXELS:
        raise SignatureImageRefused("no_ink", "no signature was found in the image")
    cleaned = solid.filter(ImageFilter.MedianFilter(3)) if min(alpha.size) >= 3 else solid
    box = cleaned.getbbox() or solid.getbbox()
    if box is None:
        raise SignatureImageRefused("no_ink", "no signature was found in the image")
    # Keep the faint edges of the strokes that lie just outside the solid box.
    left, top, right, bottom = box
    margin = max(4, round(max(right - left, bottom - top) * 0.03))
    width, height = alpha.size
    return (
        max(0, left - margin),
        max(0, top - margin),
        min(width, right + margin),
        min(height, bottom + margin),
    )


def _fit(rgba: Image.Image) -> Image.Image:
    if rgba.width <= MAX_OUTPUT[0] and rgba.height <= MAX_OUTPUT[1]:
        return rgba
    fitted = rgba.copy()
    fitted.thumbnail(MAX_OUTPUT, Image.Resampling.LANCZOS)  # premultiplied for RGBA: no dark fringes
    return fitted


def _encode(rgba: Image.Image) -> bytes:
    out = io.BytesIO()
    rgba.save(out, format="PNG", optimize=True)
    return out.getvalue()

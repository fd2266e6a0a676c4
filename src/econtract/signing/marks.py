"""A signer's mark (her signature image, or a seal) as PDF objects.

Every mark becomes one **form XObject** whose BBox is ``0 0 width height`` in the mark's own units
(``Mark.width`` x ``Mark.height``), whatever it is made of:

- a vector drawing (``seals.drawing.SealDrawing.content``: filled paths that set their own colour) is
  the form's content stream as it is: no fonts, no images, nothing else to resolve;
- an RGBA PNG is decoded by Pillow within bounds (bytes, pixels, format checked before the pixels are
  read), written as an image XObject by pyHanko's ``pil_image`` (the alpha channel becomes the image's
  ``/SMask``, so transparent pixels show the page), and drawn by the form stretched to its BBox.

Appearances then place, scale and slice that one form (``strip_xobject`` for a cross-page seal), so a
signer's mark is written once per revision, however many widgets show it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.images import pil_image
from pyhanko.pdf_utils.writer import BasePdfFileWriter, init_xobject_dictionary

MAX_PNG_BYTES = 8 * 1024 * 1024
MAX_PNG_PIXELS = 16_000_000  # refused above this, before decoding (a decompression bomb stops here)
MAX_PNG_SIDE = 1600  # larger images are scaled down: 1600 px across a 60 mm box is ~680 dpi
_OPAQUE = (255, 255)


class InvalidMark(ValueError):
    """The mark cannot be drawn (not a PNG, too large, no size, nothing to draw)."""


@dataclass(frozen=True)
class Mark:
    """What a box shows: a vector drawing (generated seal) or an RGBA PNG (signature, scanned seal)."""

    width: float  # natural aspect (points for a drawing; pixels for a PNG are fine)
    height: float
    drawing: bytes | None = None  # PDF content stream, as seals.drawing.SealDrawing.content
    png: bytes | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "width", float(self.width))  # a Decimal or int from a model is welcome
        object.__setattr__(self, "height", float(self.height))
        if not (self.width > 0 and self.height > 0):
            raise InvalidMark("a mark needs a positive width and height")
        if (self.drawing is None) == (self.png is None):
            raise InvalidMark("a mark is either a drawing or a PNG")

    @classmethod
    def from_png(cls, data: bytes) -> Mark:
        """A PNG mark at its own pixel aspect."""
        width, height = _open_png(data).size
        return cls(width=width, height=height, png=data)


def _open_png(data: bytes) -> Image.Image:
    if len(data) > MAX_PNG_BYTES:
        raise InvalidMark("the image is too large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["PNG"])
    except (OSError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise InvalidMark("the image is not a readable PNG") from exc
    if image.width < 1 or image.height < 1 or image.width * image.height > MAX_PNG_PIXELS:
        raise InvalidMark("the image has too many pixels")
    return image


def decode_png(data: bytes) -> Image.Image:
    """The PNG as RGBA (or RGB when it has no transparent pixel), at most ``MAX_PNG_SIDE`` across."""
    image = _open_png(data)
    try:
        image.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidMark("the image is not a readable PNG") from exc
    rgba = image.convert("RGBA")
    if max(rgba.size) > MAX_PNG_SIDE:
        rgba.thumbnail((MAX_PNG_SIDE, MAX_PNG_SIDE), Image.Resampling.LANCZOS)
    if rgba.getchannel("A").getextrema() == _OPAQUE:
        return rgba.convert("RGB")  # no alpha to keep: no /SMask
    return rgba


def _form(
    content: bytes, width: float, height: float, resources: generic.DictionaryObject
) -> generic.StreamObject:
    form = init_xobject_dictionary(content, width, height, resources)
    form[pdf_name("/BBox")] = generic.ArrayObject(
        [
            generic.FloatObject(0),
            generic.FloatObject(0),
            generic.FloatObject(width),
            generic.FloatObject(height),
        ]
    )
    form.compress()
    return form


def mark_xobject(writer: BasePdfFileWriter, mark: Mark) -> generic.IndirectObject:
    """Write the mark as one form XObject (BBox ``0 0 mark.width mark.height``) and return its reference."""
    if mark.drawing is not None:
        return writer.add_object(_form(mark.drawing, mark.width, mark.height, generic.DictionaryObject()))
    assert mark.png is not None
    image_ref = pil_image(decode_png(mark.png), writer)
    resources = generic.DictionaryObject(
        {pdf_name("/XObject"): generic.DictionaryObject({pdf_name("/Im"): image_ref})}
    )
    # an image occupies the unit square: stretch it to the mark's box
    content = b"q %s 0 0 %s 0 0 cm /Im Do Q" % (_num(mark.width), _num(mark.height))
    return writer.add_object(_form(content, mark.width, mark.height, resources))


@dataclass(frozen=True)
class Strip:
    """One page's slice of a cross-page seal: ``index`` (page order) of ``count``, in points."""

    index: int
    count: int
    seal_width: float
    height: float

    @property
    def width(self) -> float:
        return self.seal_width / self.count


def strips_for(mark: Mark, height: float, count: int) -> list[Strip]:
    """The ``count`` strips of a seal drawn ``height`` points high (width kept in the mark's aspect)."""
    seal_width = height * mark.width / mark.height
    return [Strip(index=i, count=count, seal_width=seal_width, height=height) for i in range(count)]


def strip_xobject(
    writer: BasePdfFileWriter, mark_ref: generic.IndirectObject, mark: Mark, strip: Strip
) -> generic.IndirectObject:
    """A form XObject (BBox ``0 0 strip.width strip.height``) showing the strip's vertical slice of the mark."""
    scale = strip.height / mark.height
    offset = -strip.index * strip.width
    content = b"q 0 0 %s %s re W n %s 0 0 %s %s 0 cm /Mark Do Q" % (
        _num(strip.width),
        _num(strip.height),
        _num(scale),
        _num(scale),
        _num(offset),
    )
    resources = generic.DictionaryObject(
        {pdf_name("/XObject"): generic.DictionaryObject({pdf_name("/Mark"): mark_ref})}
    )
    return writer.add_object(_form(content, strip.width, strip.height, resources))


def _num(value: float) -> bytes:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return (text if text not in ("", "-0") else "0").encode("ascii")

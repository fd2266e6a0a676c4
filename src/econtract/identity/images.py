"""Identity document images from outside: checked, decoded and re-encoded before anything keeps them.

A picture of an ID card is hostile input like any upload. It is accepted only when

- its first bytes are those of a JPEG or a PNG, and its structure ends where the format says it ends
  (no bytes after a PNG's IEND chunk or a JPEG's EOI marker: a "polyglot" that is also a ZIP, a PDF or
  an HTML page is refused);
- it is at most ``ECONTRACT_IDENTITY_IMAGE_MAX_BYTES`` and its dimensions are bounded, read from the
  header before any pixel is decoded (a decompression bomb is refused unopened);
- Pillow decodes every pixel of it in the same format its magic bytes named.

What is stored is a new image built from the decoded pixels alone (turned upright by its EXIF
orientation first), so no metadata survives: no EXIF (GPS position, camera serial), no comments, no
ICC profile, nothing appended.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from econtract.identity.errors import ImageRefused, ImageTooLarge, NotAnImage

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 8000  # pixels; a phone's 50 MP photo is 8160 wide: such a photo is resized by the client
MAX_PIXELS = 40_000_000
MIN_SIDE = 64  # smaller cannot show a document anyone could read


@dataclass(frozen=True, slots=True)
class CleanImage:
    data: bytes  # re-encoded, without metadata
    content_type: str  # image/jpeg or image/png
    width: int
    height: int


def max_image_bytes() -> int:
    return int(getattr(settings, "ECONTRACT_IDENTITY_IMAGE_MAX_BYTES", DEFAULT_MAX_BYTES))


def clean_image(data: bytes) -> CleanImage:
    """The upload as a metadata-free JPEG or PNG, or ImageRefused saying why not."""
    limit = max_image_bytes()
    if len(data) > limit:
        raise ImageTooLarge(f"the image is larger than {limit // (1024 * 1024)} MB")
    if data.startswith(JPEG_MAGIC):
        expected = "JPEG"
        _check_jpeg_structure(data)
    elif data.startswith(PNG_MAGIC):
        expected = "PNG"
        _check_png_structure(data)
    else:
        raise NotAnImage("the file is not a JPEG or PNG image")
    with warnings.catch_warnings():
        # Pillow warns, then raises, past its own pixel limit: ours below is lower, so both are errors.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[expected]) as image:
                width, height = image.size
                if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                    raise ImageRefused(f"the image is {width}×{height} pixels, more than {MAX_SIDE} a side")
                if width < MIN_SIDE or height < MIN_SIDE:
                    raise ImageRefused(f"the image is {width}×{height} pixels, too small to read")
                image.load()
                upright = ImageOps.exif_transpose(image) or image
                return _reencode(upright, expected)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRefused("the image expands to too many pixels") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as exc:
            raise NotAnImage(f"the {expected} image cannot be decoded") from exc


def _reencode(image: Image.Image, kind: str) -> CleanImage:
    if kind == "JPEG":
        mode = "L" if image.mode in {"1", "L", "I;16"} else "RGB"
    else:
        mode = "RGBA" if image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info else "RGB"
    converted = image.convert(mode)
    # A new image from the pixels alone: nothing of the original's info (EXIF, text, ICC) can follow.
    bare = Image.frombytes(converted.mode, converted.size, converted.tobytes())
    out = io.BytesIO()
    if kind == "JPEG":
        bare.save(out, format="JPEG", quality=90, optimize=True)
    else:
        bare.save(out, format="PNG", optimize=True)
    return CleanImage(out.getvalue(), CONTENT_TYPES[kind], bare.width, bare.height)


def _check_png_structure(data: bytes) -> None:
    """Walk the chunks: the file must end with IEND (RFC 2083 §3.2), nothing after it."""
    position = len(PNG_MAGIC)
    while True:
        if position + 12 > len(data):
            raise NotAnImage("the PNG image is truncated")
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        position += 12 + length
        if position > len(data):
            raise NotAnImage("the PNG image is truncated")
        if kind == b"IEND":
            break
    if position != len(data):
        raise NotAnImage("the PNG image has data after its end (a file of another kind inside it?)")


def _check_jpeg_structure(data: bytes) -> None:
    """Walk the markers (ITU T.81 annex B) to EOI: nothing but padding may follow it."""
    position = 2
    size = len(data)
    while True:
        # markers may be preceded by any number of 0xFF fill bytes
        if position >= size or data[position] != 0xFF:
            raise NotAnImage("the JPEG image is malformed")
        while position < size and data[position] == 0xFF:
            position += 1
        if position >= size:
            raise NotAnImage("the JPEG image is truncated")
        marker = data[position]
        position += 1
        if marker == 0xD9:  # EOI
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # RSTn, TEM: no length
            continue
        if position + 2 > size:
            raise NotAnImage("the JPEG image is truncated")
        (length,) = struct.unpack(">H", data[position : position + 2])
        if length < 2:
            raise NotAnImage("the JPEG image is malformed")
        position += length
        if marker == 0xDA:  # SOS: entropy-coded data runs to the next marker that is not RSTn
            while True:
                next_ff = data.find(b"\xff", position)
                if next_ff < 0 or next_ff + 1 >= size:
                    raise NotAnImage("the JPEG image is truncated")
                following = data[next_ff + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    position = next_ff + 1 if following == 0xFF else next_ff + 2
                    continue
                position = next_ff
                break
    if data[position:].strip(b"\x00"):
        raise NotAnImage("the JPEG image has data after its end (a file of another kind inside it?)")

"""Just enough PNG reading to check the previews: size, and whether anything was drawn."""

from __future__ import annotations

import struct
import zlib


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def dark_pixel_share(png: bytes) -> float:
    """Share of pixels darker than light grey, for 8-bit RGB PNGs using filter 0 (ours)."""
    width, height = png_size(png)
    position, idat = 8, b""
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        tag = png[position + 4 : position + 8]
        if tag == b"IDAT":
            idat += png[position + 8 : position + 8 + length]
        position += 12 + length
    raw = zlib.decompress(idat)
    row = 1 + 3 * width
    dark = 0
    for y in range(height):
        assert raw[y * row] == 0, "expected PNG filter type 0"
        pixels = raw[y * row + 1 : (y + 1) * row]
        dark += sum(1 for x in range(0, len(pixels), 3) if min(pixels[x : x + 3]) < 200)
    return dark / (width * height)


def dark_pixel_share_in(png: bytes, left: float, top: float, right: float, bottom: float) -> float:
    """Share of dark pixels inside a rectangle given as fractions of the width and height (top down)."""
    width, height = png_size(png)
    position, idat = 8, b""
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        if png[position + 4 : position + 8] == b"IDAT":
            idat += png[position + 8 : position + 8 + length]
        position += 12 + length
    raw = zlib.decompress(idat)
    row = 1 + 3 * width
    x0, x1 = int(left * width), max(int(left * width) + 1, int(right * width))
    y0, y1 = int(top * height), max(int(top * height) + 1, int(bottom * height))
    dark = 0
    for y in range(y0, y1):
        pixels = raw[y * row + 1 + 3 * x0 : y * row + 1 + 3 * x1]
        dark += sum(1 for x in range(0, len(pixels), 3) if min(pixels[x : x + 3]) < 200)
    return dark / ((x1 - x0) * (y1 - y0))

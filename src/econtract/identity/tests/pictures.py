"""Pictures for identity tests, drawn with Pillow: plain, with EXIF GPS, oversized, and polyglots."""

from __future__ import annotations

import io
import zipfile

from PIL import Image

GPS_IFD = 0x8825


def jpeg(
    width: int = 320, height: int = 200, colour: tuple[int, int, int] = (200, 120, 40), **save: object
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG", **save)
    return out.getvalue()


def png(width: int = 320, height: int = 200, colour: tuple[int, int, int] = (30, 90, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    """A photo carrying where it was taken (EXIF GPS) and the camera, as phones write them."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 15"  # Model
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (39.0, 54.0, 27.0)
    gps[3] = "E"
    gps[4] = (116.0, 23.0, 50.0)
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (10, 200, 30)).save(out, format="JPEG", exif=exif, comment=b"secret note")
    return out.getvalue()


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.html", "<script>alert(1)</script>")
    return out.getvalue()


def polyglot_jpeg_zip() -> bytes:
    """A valid JPEG with a ZIP archive appended: opens as an image and as an archive."""
    return jpeg() + zip_archive()


def polyglot_png_html() -> bytes:
    return png() + b"<html><script>alert(document.cookie)</script></html>"


def png_bomb() -> bytes:
    """A small file declaring 20000 x 20000 pixels (1.2 GB decoded)."""
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, format="PNG")
    return out.getvalue()

"""Hand-written PDFs for tests: raw objects with a correct cross-reference table, hostile or not."""

from __future__ import annotations

import zlib

MiB = 1024 * 1024


def build_pdf(objects: dict[int, bytes], *, root: int = 1, trailer_extra: bytes = b"") -> bytes:
    """A PDF whose object ``n`` has body ``objects[n]``, with an exact classic xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    size = max(objects) + 1
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n" % size
    out += b"0000000000 65535 f\r\n"
    for number in range(1, size):
        if number in offsets:
            out += b"%010d 00000 n\r\n" % offsets[number]
        else:
            out += b"0000000000 00000 f\r\n"
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        size,
        root,
        trailer_extra,
        xref_at,
    )
    return bytes(out)


def stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n" % (dictionary, len(data)) + data + b"\nendstream"


def simple_pdf(pages: int, *, media_box: bytes = b"[0 0 595.28 841.89]", count: int | None = None) -> bytes:
    """``pages`` pages under one /Pages node, all drawing the same small content stream."""
    content = 3
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + index) for index in range(pages))
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [%s] /Count %d /MediaBox %s >>"
        % (kids, pages if count is None else count, media_box),
        content: stream(b"/Filter /FlateDecode", zlib.compress(b"0 0 1 rg 72 72 144 144 re f")),
    }
    for index in range(pages):
        objects[first_page + index] = b"<< /Type /Page /Parent 2 0 R /Contents %d 0 R >>" % content
    return build_pdf(objects)


def double_flate_zeros(gibibytes: float = 2.0) -> tuple[bytes, int]:
    """[/FlateDecode /FlateDecode] data that decodes to ``gibibytes`` of zeros; returns (data, size).

    Built without compressing gigabytes: after Z_FULL_FLUSH, every 1 MiB of zeros compresses to
    the same bytes, so the inner layer is that block repeated, closed with the right Adler-32.
    """
    zeros = bytes(MiB)
    compressor = zlib.compressobj(9)
    head = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    final_block = compressor.flush()[:-4]  # drop the Adler-32 of the 2 MiB actually compressed
    blocks = int(gibibytes * 1024)
    size = blocks * MiB
    adler = ((size % 65521) << 16) | 1  # Adler-32 of n zero bytes: a = 1, b = n mod 65521
    inner = head + block * (blocks - 1) + final_block + adler.to_bytes(4, "big")
    return zlib.compress(inner, 9), size


def flate_bomb_pdf() -> bytes:
    """A valid one-page PDF whose content stream is a few KB that decode to more than 2 GiB."""
    data, _ = double_flate_zeros(2.0)
    return build_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            4: stream(b"/Filter [/FlateDecode /FlateDecode]", data),
        }
    )


def xref_stream_bomb_pdf() -> bytes:
    """The cross-reference stream itself is the bomb: pyHanko must decode it just to open the file."""
    data, _ = double_flate_zeros(0.25)
    out = bytearray(b"%PDF-1.7\n")
    xref_at = len(out)
    out += b"1 0 obj\n" + stream(b"/Type /XRef /Size 2 /W [1 4 2] /Filter [/FlateDecode /FlateDecode]", data)
    out += b"\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def looping_page_tree_pdf() -> bytes:
    """/Kids of an intermediate node points back to the root of the page tree."""
    return build_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 2 /MediaBox [0 0 595 842] >>",
            3: b"<< /Type /Pages /Parent 2 0 R /Kids [4 0 R 2 0 R] /Count 2 >>",
            4: b"<< /Type /Page /Parent 3 0 R >>",
        }
    )


def shared_page_pdf() -> bytes:
    """The same page object listed twice: not a cycle, but a walker would visit it twice."""
    return build_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R 3 0 R] /Count 2 /MediaBox [0 0 595 842] >>",
            3: b"<< /Type /Page /Parent 2 0 R >>",
        }
    )


def deep_page_tree_pdf(depth: int) -> bytes:
    """A chain of ``depth`` /Pages nodes, each the only kid of the previous, ending in one page."""
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
    for level in range(depth):
        number = 2 + level
        objects[number] = b"<< /Type /Pages /Kids [%d 0 R] /Count 1 /MediaBox [0 0 595 842] >>" % (number + 1)
    objects[2 + depth] = b"<< /Type /Page >>"
    return build_pdf(objects)

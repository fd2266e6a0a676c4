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


def one_page_pdf(*, catalog: bytes = b"", page: bytes = b"", extra: dict[int, bytes] | None = None) -> bytes:
    """One A4 page (object 3); ``catalog`` and ``page`` are extra entries for the Catalog (1) and
    the Page, ``extra`` further objects (numbered from 10 by convention)."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R %s >>" % catalog,
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595 842] >>",
        3: b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R %s >>" % page,
        4: stream(b"", b"0 0 1 rg 72 72 144 144 re f"),
    }
    objects.update(extra or {})
    return build_pdf(objects)


def embedded_file_pdf(name: bytes, data: bytes, *, compress: bool = False, subtype: bytes = b"") -> bytes:
    """``data`` attached as ``name`` through the document's /EmbeddedFiles name tree."""
    body = zlib.compress(data) if compress else data
    dictionary = b"/Type /EmbeddedFile" + (b" /Filter /FlateDecode" if compress else b"") + subtype
    return one_page_pdf(
        catalog=b"/Names << /EmbeddedFiles << /Names [(attachment) 10 0 R] >> >>",
        extra={
            10: b"<< /Type /Filespec /F (%s) /UF (%s) /EF << /F 11 0 R >> >>" % (name, name),
            11: stream(dictionary, body),
        },
    )


JS = b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"
MZ_HEADER = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


def active_content_cases() -> dict[str, tuple[bytes, str]]:
    """One PDF per kind of active content, with (part of) the finding that must name it."""
    link = b"<< /Type /Annot /Subtype /Link /Rect [72 72 144 144] /A %s >>"
    return {
        "document-javascript": (
            one_page_pdf(
                catalog=b"/Names << /JavaScript 10 0 R >>",
                extra={10: b"<< /Names [(init) 11 0 R] >>", 11: JS},
            ),
            "document JavaScript 'init' (Names/JavaScript)",
        ),
        "open-action-javascript": (
            one_page_pdf(catalog=b"/OpenAction %s" % JS),
            "document open action (OpenAction): JavaScript action",
        ),
        "open-action-launch": (
            one_page_pdf(catalog=b"/OpenAction << /S /Launch /F (calc.exe) >>"),
            "document open action (OpenAction): Launch action",
        ),
        "document-aa": (
            one_page_pdf(catalog=b"/AA << /WC %s >>" % JS),
            "document additional action (AA /WC): JavaScript action",
        ),
        "page-aa-submit": (
            one_page_pdf(page=b"/AA << /O << /S /SubmitForm /F << /FS /URL /F (https://x.example/) >> >> >>"),
            "page 1 additional action (AA /O): SubmitForm action",
        ),
        "link-launch": (
            one_page_pdf(page=b"/Annots [10 0 R]", extra={10: link % b"<< /S /Launch /F (cmd.exe) >>"}),
            "page 1 annotation 1 (Link): Launch action",
        ),
        "next-chain-import": (
            one_page_pdf(
                catalog=b"/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next [<< /S /URI /URI (https://x.example/) >> 10 0 R] >>",
                extra={10: b"<< /S /ImportData /F (data.fdf) >>"},
            ),
            "document open action (OpenAction): ImportData action (in its /Next chain)",
        ),
        "next-cycle-javascript": (
            one_page_pdf(
                catalog=b"/OpenAction 10 0 R",
                extra={
                    10: b"<< /S /GoTo /D [3 0 R /Fit] /Next 11 0 R >>",
                    11: b"<< /S /JavaScript /JS (x) /Next 10 0 R >>",
                },
            ),
            "document open action (OpenAction): JavaScript action (in its /Next chain)",
        ),
        "rich-media": (
            one_page_pdf(
                page=b"/Annots [10 0 R]",
                extra={10: b"<< /Type /Annot /Subtype /RichMedia /Rect [72 72 144 144] >>"},
            ),
            "page 1 annotation 1: RichMedia annotation",
        ),
        "screen-rendition": (
            one_page_pdf(
                page=b"/Annots [10 0 R]",
                extra={
                    10: b"<< /Type /Annot /Subtype /Screen /Rect [72 72 144 144] "
                    b"/A << /S /Rendition /OP 0 /JS (x) >> >>"
                },
            ),
            "page 1 annotation 1: Screen annotation",
        ),
        "widget-submit": (
            one_page_pdf(
                catalog=b"/AcroForm << /Fields [10 0 R] >>",
                page=b"/Annots [10 0 R]",
                extra={
                    10: b"<< /Type /Annot /Subtype /Widget /FT /Btn /Ff 65536 /T (send) /P 3 0 R "
                    b"/Rect [72 72 144 144] /A << /S /SubmitForm /F << /FS /URL /F (https://x.example/) >> >> >>"
                },
            ),
            "form field 'send': SubmitForm action",
        ),
        "field-keystroke-javascript": (
            one_page_pdf(
                catalog=b"/AcroForm << /Fields [10 0 R] >>",
                extra={10: b"<< /FT /Tx /T (amount) /AA << /K %s >> >>" % JS},
            ),
            "form field 'amount' additional action (AA /K): JavaScript action",
        ),
        "xfa": (
            one_page_pdf(
                catalog=b"/AcroForm << /Fields [] /XFA 10 0 R >>",
                extra={10: stream(b"", b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'/>")},
            ),
            "XFA form (AcroForm/XFA)",
        ),
        "outline-javascript": (
            one_page_pdf(
                catalog=b"/Outlines 10 0 R",
                extra={
                    10: b"<< /Type /Outlines /First 11 0 R /Last 11 0 R /Count 1 >>",
                    11: b"<< /Title (Chapter 1) /Parent 10 0 R /A %s >>" % JS,
                },
            ),
            "outline item 'Chapter 1': JavaScript action",
        ),
        "hide-action": (
            one_page_pdf(catalog=b"/OpenAction << /S /Hide /T (clause) /H true >>"),
            "document open action (OpenAction): Hide action",
        ),
        "javascript-uri": (
            one_page_pdf(
                page=b"/Annots [10 0 R]",
                extra={10: link % b"<< /S /URI /URI (javascript:app.alert\\(1\\)) >>"},
            ),
            "page 1 annotation 1 (Link): JavaScript link (javascript: URI)",
        ),
        "unknown-action": (
            one_page_pdf(catalog=b"/OpenAction << /S /Xyzzy >>"),
            "document open action (OpenAction): unknown action type /Xyzzy",
        ),
        "embedded-exe-by-name": (
            embedded_file_pdf(b"setup.exe", b"hello"),
            "embedded executable 'setup.exe' (Names/EmbeddedFiles): .exe file",
        ),
        "embedded-exe-by-magic": (
            embedded_file_pdf(b"terms.txt", MZ_HEADER, compress=True),
            "embedded executable 'terms.txt' (Names/EmbeddedFiles): Windows executable",
        ),
        "embedded-elf-by-magic": (
            embedded_file_pdf(b"data.bin", b"\x7fELF\x02\x01\x01" + b"\x00" * 32),
            "embedded executable 'data.bin' (Names/EmbeddedFiles): ELF executable",
        ),
        "attachment-annotation-macho": (
            one_page_pdf(
                page=b"/Annots [10 0 R]",
                extra={
                    10: b"<< /Type /Annot /Subtype /FileAttachment /Rect [72 72 90 90] /FS 11 0 R >>",
                    11: b"<< /Type /Filespec /F (notes) /EF << /F 12 0 R >> >>",
                    12: stream(b"/Type /EmbeddedFile", b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 24),
                },
            ),
            "embedded executable 'notes' (page 1 annotation 1): Mach-O executable",
        ),
    }


def navigation_cases() -> dict[str, bytes]:
    """PDFs with only ordinary navigation: links, destinations, a page-only open action."""
    link = b"<< /Type /Annot /Subtype /Link /Rect [72 72 144 144] %s >>"
    return {
        "goto-link": one_page_pdf(
            page=b"/Annots [10 0 R]", extra={10: link % b"/A << /S /GoTo /D [3 0 R /Fit] >>"}
        ),
        "uri-link": one_page_pdf(
            page=b"/Annots [10 0 R]", extra={10: link % b"/A << /S /URI /URI (https://example.com/terms) >>"}
        ),
        "dest-link": one_page_pdf(page=b"/Annots [10 0 R]", extra={10: link % b"/Dest [3 0 R /XYZ 0 842 0]"}),
        "page-open-action": one_page_pdf(catalog=b"/OpenAction [3 0 R /Fit]"),
        "goto-open-action": one_page_pdf(catalog=b"/OpenAction << /S /GoTo /D [3 0 R /FitH 842] >>"),
        "named-and-gotor": one_page_pdf(
            page=b"/Annots [10 0 R 11 0 R]",
            extra={
                10: link % b"/A << /S /Named /N /NextPage >>",
                11: link % b"/A << /S /GoToR /F (annex.pdf) /D [0 /Fit] >>",
            },
        ),
        "outline-destinations": one_page_pdf(
            catalog=b"/Outlines 10 0 R",
            extra={
                10: b"<< /Type /Outlines /First 11 0 R /Last 11 0 R /Count 1 >>",
                11: b"<< /Title (Terms) /Parent 10 0 R /Dest [3 0 R /Fit] >>",
            },
        ),
    }

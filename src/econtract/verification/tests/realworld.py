"""Signed PDFs shaped like the ones other tools write, each reduced to the one trait that matters.

Word and old Acrobat write hybrid cross-references; vendors write plain-format ECDSA, SHA-1
``adbe.pkcs7.sha1`` containers, document timestamps without ``/Type``; many files carry small
structural faults that every viewer reads. Each builder here makes one such trait from our throwaway
PKI with pyHanko, qpdf and a few lines of PDF written by hand, so a test can state the expected
verdict for the *class*, not for one file.

Two ways to get a signature in:

* ``sign_incrementally``: pyHanko appends a signed revision (its lenient reader accepts the faulty
  bases built here, as Acrobat would);
* ``with_placeholder`` + ``fill_signature``: the signature dictionary is part of the file from the
  start (placeholder ``/ByteRange`` and zeroed ``/Contents``), the file may then be rewritten (e.g.
  linearized by qpdf), and the byte range and CMS are filled in at the end, the way a signing tool
  that writes the whole file does.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import subprocess
import tempfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from asn1crypto import algos, cms
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter

from econtract.verification.tests.pki_fixtures import Issued, ThrowawayPki, key_to_asn1

PLACEHOLDER_RANGE = b"[0 1000000000 1000000000 1000000000]"
CONTENTS_BYTES = 12000  # DER bytes reserved in /Contents (hex doubles it)
_CONTENT = b"BT /F1 18 Tf 72 760 Td (Sales contract No. 42) Tj ET"


# --- hand-written PDF --------------------------------------------------------------------------------


def assemble(
    objects: dict[int, bytes],
    trailer: bytes,
    *,
    base: bytes = b"",
    size: int | None = None,
    offsets: dict[int, int] | None = None,
    prev_shift: int = 0,
) -> bytes:
    """A revision with a classic xref table: ``objects`` (number -> body) after ``base``.

    ``size`` overrides ``/Size`` (a size mismatch), ``offsets`` overrides table entries, and
    ``prev_shift`` moves the ``/Prev`` pointer off the previous table (an offset readers repair).
    """
    out = bytearray(base or b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    positions: dict[int, int] = {}
    for number, body in sorted(objects.items()):
        positions[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    positions.update(offsets or {})
    xref_at = len(out)
    out += b"xref\n"
    if not base:
        out += b"0 1\n0000000000 65535 f \n"
    for number in sorted(objects):
        out += b"%d 1\n%s 00000 n \n" % (number, b"%010d" % positions[number])
    declared = size if size is not None else max([*objects, _previous_size(base) - 1]) + 1
    prev = b""
    if base:
        prev = b" /Prev %d" % (_last_startxref(base) + prev_shift)
    out += b"trailer\n<< /Size %d%s %s >>\nstartxref\n%d\n%%%%EOF\n" % (declared, prev, trailer, xref_at)
    return bytes(out)


def _last_startxref(pdf: bytes) -> int:
    return int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])


def _previous_size(pdf: bytes) -> int:
    sizes = re.findall(rb"/Size (\d+)", pdf)
    return int(sizes[-1]) if sizes else 1


def simple_objects(extra_catalog: bytes = b"", extra_page: bytes = b"") -> dict[int, bytes]:
    """Catalog 1, pages 2, page 3, content 4, font 5."""
    return {
        1: b"<< /Type /Catalog /Pages 2 0 R" + extra_catalog + b" >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >>" + extra_page + b" >>",
        4: b"<< /Length %d >>\nstream\n%s\nendstream" % (len(_CONTENT), _CONTENT),
        5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }


def hand_pdf(**overrides: object) -> bytes:
    return assemble(simple_objects(), b"/Root 1 0 R", **overrides)  # type: ignore[arg-type]


# --- structural traits ---------------------------------------------------------------------------------


def hybrid_pdf() -> bytes:
    """A hybrid-reference file as Word writes it: a classic table plus an ``/XRefStm``.

    The font lives in an object stream that only the cross-reference stream knows; the table lists
    its number as free, so a reader that ignores ``/XRefStm`` (PDF 1.4) still opens the file.
    """
    objects = simple_objects()
    font = objects.pop(5)
    header = b"5 0 "
    objstm_data = header + font
    objects[6] = b"<< /Type /ObjStm /N 1 /First %d /Length %d >>\nstream\n%s\nendstream" % (
        len(header),
        len(objstm_data),
        objstm_data,
    )
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    positions: dict[int, int] = {}
    for number, body in sorted(objects.items()):
        positions[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    # the cross-reference stream (object 7) lists object 5 as "in object stream 6, index 0"
    rows = b"".join(bytes([2]) + (6).to_bytes(2, "big") + (0).to_bytes(1, "big") for _ in [0])
    positions[7] = len(out)
    out += (
        b"7 0 obj\n<< /Type /XRef /Size 8 /Index [5 1] /W [1 2 1] /Length %d >>\nstream\n" % len(rows)
        + rows
        + b"\nendstream\nendobj\n"
    )
    xref_at = len(out)
    out += b"xref\n0 8\n0000000000 65535 f \n"
    for number in range(1, 8):
        if number == 5:
            out += b"0000000000 65535 f \n"
        else:
            out += b"%010d 00000 n \n" % positions[number]
    out += b"trailer\n<< /Size 8 /Root 1 0 R /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        positions[7],
        xref_at,
    )
    return bytes(out)


def dangling_reference_placeholder() -> bytes:
    """The form's field list also names an object that does not exist (viewers read it as null)."""
    return with_placeholder(more_fields=b" 99 0 R")


def decreasing_size_pdf() -> bytes:
    """Two revisions, the second declaring a smaller ``/Size`` than the first."""
    first = assemble({**simple_objects(), 6: b"<< /Producer (first) >>"}, b"/Root 1 0 R /Info 6 0 R")
    return assemble({2: simple_objects()[2]}, b"/Root 1 0 R", base=first, size=4)


def size_mismatch_pdf() -> bytes:
    """``/Size`` says 4 while the table lists objects up to 5."""
    return hand_pdf(size=4)


def shifted_prev_pdf(shift: int = -3) -> bytes:
    """The second revision's ``/Prev`` points a few bytes before the table it means."""
    first = hand_pdf()
    return assemble(
        {6: b"<< /Producer (update) >>"}, b"/Root 1 0 R /Info 6 0 R", base=first, prev_shift=shift
    )


def clobbered_xref_stream_pdf() -> bytes:
    """An update that reuses the object number of an earlier cross-reference stream."""
    objects = simple_objects()
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    positions: dict[int, int] = {}
    for number, body in sorted(objects.items()):
        positions[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    rows = bytes([0, 0, 0, 0, 0xFF])  # object 0: free
    for number in range(1, 6):
        rows += bytes([1]) + positions[number].to_bytes(3, "big") + bytes([0])
    rows += bytes([1]) + xref_at.to_bytes(3, "big") + bytes([0])  # object 6: this stream
    out += b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 3 1] /Root 1 0 R /Length %d >>\nstream\n" % len(rows)
    out += rows + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    # the update redefines object 6 (the stream above) as the document information dictionary
    return assemble({6: b"<< /Producer (rewritten) >>"}, b"/Root 1 0 R /Info 6 0 R", base=bytes(out))


class _Verbatim(generic.PdfObject):
    """Bytes written as they are: placeholders that encryption must not touch (as pyHanko's own)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def write_to_stream(self, stream: BinaryIO, handler: object = None, container_ref: object = None) -> None:
        stream.write(self.raw)


def inline_encryption_placeholder() -> bytes:
    """Encrypted with an empty user password (opens without one), ``/Encrypt`` written inline.

    Built with pyHanko's writer (RC4/AES as it chooses), then the trailer's ``/Encrypt`` reference is
    replaced by the dictionary itself; the signature placeholder waits for ``fill_signature``.
    """
    writer = PdfFileWriter(stream_xrefs=False)
    font = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica"),
            }
        )
    )
    resources = generic.DictionaryObject(
        {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})}
    )
    page = PageObject(
        contents=writer.add_object(generic.StreamObject(stream_data=_CONTENT)),
        media_box=[0, 0, 595, 842],
        resources=resources,
    )
    writer.insert_page(page)
    sig = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Sig"),
                pdf_name("/Filter"): pdf_name("/Adobe.PPKLite"),
                pdf_name("/SubFilter"): pdf_name("/ETSI.CAdES.detached"),
                pdf_name("/ByteRange"): _Verbatim(PLACEHOLDER_RANGE),
                pdf_name("/Contents"): _Verbatim(b"<" + b"0" * (2 * CONTENTS_BYTES) + b">"),
            }
        )
    )
    page_ref = writer.root["/Pages"]["/Kids"][0]
    field = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/FT"): pdf_name("/Sig"),
                pdf_name("/T"): generic.TextStringObject("Signature1"),
                pdf_name("/V"): sig,
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Widget"),
                pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(0)] * 4),
                pdf_name("/F"): generic.NumberObject(132),
                pdf_name("/P"): page_ref,
            }
        )
    )
    page_ref.get_object()[pdf_name("/Annots")] = generic.ArrayObject([field])
    writer.root[pdf_name("/AcroForm")] = generic.DictionaryObject(
        {pdf_name("/Fields"): generic.ArrayObject([field]), pdf_name("/SigFlags"): generic.NumberObject(3)}
    )
    # no ISO 32004 MAC: it would (rightly) reject the trailer edit below
    writer.encrypt("owner secret", "", pdf_mac=False)
    out = BytesIO()
    writer.write(out)
    data = out.getvalue()
    trailer_at = data.rindex(b"trailer")
    match = re.compile(rb"/Encrypt (\d+) 0 R").search(data, trailer_at)
    assert match is not None, "pyHanko wrote no indirect /Encrypt"
    body = re.search(rb"\n%d 0 obj\s*(<<.*?>>)\s*endobj" % int(match.group(1)), data, re.S)
    assert body is not None
    # only the trailer follows the xref table: no offset moves
    return data[: match.start()] + b"/Encrypt " + body.group(1) + data[match.end() :]


# --- placeholders (signature dictionary written with the file) -----------------------------------------


def with_placeholder(
    *,
    field_name: bytes = b"Signature1",
    more_fields: bytes = b"",
    second_page: bool = False,
    subfilter: bytes = b"/ETSI.CAdES.detached",
    sig_type: bytes | None = b"/Sig",
) -> bytes:
    """A one-page PDF whose form holds a signature dictionary waiting for ``fill_signature``."""
    type_entry = b"/Type %s " % sig_type if sig_type else b""
    objects = simple_objects(
        extra_catalog=b" /AcroForm << /Fields [6 0 R%s] /SigFlags 3 >>" % more_fields,
        extra_page=b" /Annots [6 0 R]",
    )
    widget_page = 3
    if second_page:
        # the widget sits on page 2 (object 8): linearization puts it outside the first-page part
        objects[3] = objects[3].replace(b" /Annots [6 0 R]", b"")
        objects[2] = b"<< /Type /Pages /Kids [3 0 R 8 0 R] /Count 2 >>"
        objects[8] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> /Annots [6 0 R] >>"
        )
        widget_page = 8
    objects[6] = (
        b"<< /FT /Sig /T (%s) /V 7 0 R /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /F 132 /P %d 0 R >>"
        % (field_name, widget_page)
    )
    objects[7] = b"<< %s/Filter /Adobe.PPKLite /SubFilter %s /ByteRange %s /Contents <%s> >>" % (
        type_entry,
        subfilter,
        PLACEHOLDER_RANGE,
        b"0" * (2 * CONTENTS_BYTES),
    )
    return assemble(objects, b"/Root 1 0 R")


def linearized_placeholder() -> bytes:
    """A linearized one-save file whose signature dictionary lives in the *main* xref section.

    Linearized files carry two cross-reference sections for one save: the first-page section near
    the start (where ``startxref`` points) and the main section at the end (its ``/Prev``). Tools
    that put the signature's objects in the main section (as Acrobat may, unlike qpdf) make the
    signature's objects look like an earlier "revision" than the first-page section.
    """
    placeholder = with_placeholder()
    objects = {
        int(number): body
        for number, body in re.findall(rb"(?m)^(\d+) 0 obj\n(.*?)\nendobj\n", placeholder, re.S)
    }
    first_part = {number: objects[number] for number in (1, 2, 3, 4, 5)}
    main_part = {number: objects[number] for number in (6, 7)}
    header = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    lin_template = b"9 0 obj\n<< /Linearized 1 /L %010d /O 3 /N 1 >>\nendobj\n"

    def build(length: int, main_xref_at: int) -> bytes:
        out = bytearray(header + lin_template % length)
        first_xref_at = len(out)
        positions: dict[int, int] = {9: len(header)}
        # the first-page table is written with fixed-width entries, so offsets can be patched in
        table_len = len(b"xref\n1 5\n" + b"0000000000 00000 n \n" * 5 + b"9 1\n0000000000 00000 n \n")
        trailer = b"trailer\n<< /Size 10 /Root 1 0 R /Prev %010d >>\nstartxref\n0\n%%%%EOF\n" % main_xref_at
        body_at = first_xref_at + table_len + len(trailer)
        body = bytearray()
        for number, text in [*first_part.items(), *main_part.items()]:
            positions[number] = body_at + len(body)
            body += b"%d 0 obj\n" % number + text + b"\nendobj\n"
        table = b"xref\n1 5\n" + b"".join(b"%010d 00000 n \n" % positions[n] for n in (1, 2, 3, 4, 5))
        table += b"9 1\n%010d 00000 n \n" % positions[9]
        out += table + trailer + body
        out += b"xref\n0 1\n0000000000 65535 f \n6 2\n"
        out += b"".join(b"%010d 00000 n \n" % positions[n] for n in (6, 7))
        out += b"trailer\n<< /Size 10 >>\nstartxref\n%d\n%%%%EOF\n" % first_xref_at
        return bytes(out)

    draft = build(0, 0)
    main_xref_at = draft.rindex(b"xref\n0 1")
    return build(len(draft), main_xref_at)


def linearize(pdf: bytes) -> bytes:
    """qpdf's linearization (first-page cross-reference section at the start, main one at the end)."""
    with tempfile.TemporaryDirectory() as scratch:
        source, target = Path(scratch, "in.pdf"), Path(scratch, "out.pdf")
        source.write_bytes(pdf)
        subprocess.run(
            ["qpdf", "--linearize", "--object-streams=disable", str(source), str(target)],
            check=True,
            capture_output=True,
        )
        return target.read_bytes()


def fill_signature(pdf: bytes, make_cms: Callable[[bytes], bytes], *, extra_length: int = 0) -> bytes:
    """Fill the last placeholder: ``/ByteRange`` around ``/Contents``, then the CMS over those bytes.

    ``make_cms`` gets the signed bytes (both ranges, concatenated) and returns DER. A positive
    ``extra_length`` makes the second range claim bytes the file does not have; a negative one
    leaves the file's tail unsigned.
    """
    # qpdf writes the array as "[ 0 1000000000 ... ]"
    *_, placeholder = re.finditer(rb"\[\s*0 1000000000 1000000000 1000000000\s*\]", pdf)
    at, width = placeholder.start(), len(placeholder.group(0))
    window = max(0, at - 3 * CONTENTS_BYTES)
    found = re.search(rb"/Contents\s*<0+>", pdf[window : at + 3 * CONTENTS_BYTES])
    assert found is not None, "no /Contents placeholder next to the /ByteRange"
    hole_start = window + found.start() + found.group(0).index(b"<")
    hole_end = pdf.index(b">", hole_start) + 1
    byte_range = [0, hole_start, hole_end, len(pdf) - hole_end + extra_length]
    text = ("[" + " ".join(str(n) for n in byte_range) + "]").encode().ljust(width)
    data = pdf[:at] + text + pdf[at + width :]
    der = make_cms(data[:hole_start] + data[hole_end : hole_end + byte_range[3]])
    hexed = der.hex().encode()
    assert len(hexed) <= hole_end - hole_start - 2, "the CMS does not fit the placeholder"
    return data[: hole_start + 1] + hexed.ljust(hole_end - hole_start - 2, b"0") + data[hole_end - 1 :]


def detached_cms(
    pki: ThrowawayPki, who: Issued | None = None, signer: signers.Signer | None = None
) -> Callable[[bytes], bytes]:
    """A PAdES CMS over the signed bytes (the usual ``ETSI.CAdES.detached`` container)."""

    def make(signed: bytes) -> bytes:
        chosen = signer or pki.pdf_signer(who)
        digest = hashlib.sha256(signed).digest()
        return bytes(asyncio.run(chosen.async_sign(digest, "sha256", use_pades=True)).dump())

    return make


def pkcs7_sha1_cms(pki: ThrowawayPki) -> Callable[[bytes], bytes]:
    """``adbe.pkcs7.sha1``: the SHA-1 digest of the signed bytes is the encapsulated content."""

    def make(signed: bytes) -> bytes:
        content = cms.ContentInfo({"content_type": "data", "content": hashlib.sha1(signed).digest()})
        info = asyncio.run(pki.pdf_signer().async_sign_general_data(content, "sha256", detached=False))
        return bytes(info.dump())

    return make


def embedding_cms(pki: ThrowawayPki) -> Callable[[bytes], bytes]:
    """A "detached" container that carries the signed bytes as encapsulated content as well."""

    def make(signed: bytes) -> bytes:
        content = cms.ContentInfo({"content_type": "data", "content": signed})
        info = asyncio.run(pki.pdf_signer().async_sign_general_data(content, "sha256", detached=False))
        return bytes(info.dump())

    return make


def two_signer_cms(pki: ThrowawayPki, second: Issued) -> Callable[[bytes], bytes]:
    """One CMS container with two SignerInfos over the same bytes (two people, one container)."""

    def make(signed: bytes) -> bytes:
        first = cms.ContentInfo.load(detached_cms(pki)(signed))
        other = cms.ContentInfo.load(detached_cms(pki, second)(signed))
        signed_data = first["content"]
        signed_data["signer_infos"] = [*signed_data["signer_infos"], *other["content"]["signer_infos"]]
        signed_data["certificates"] = [*signed_data["certificates"], *other["content"]["certificates"]]
        return bytes(first.dump(force=True))

    return make


def timestamp_token(pki: ThrowawayPki) -> Callable[[bytes], bytes]:
    """An RFC 3161 token over the signed bytes (a document timestamp's ``/Contents``)."""

    def make(signed: bytes) -> bytes:
        token = asyncio.run(pki.timestamper().async_timestamp(hashlib.sha256(signed).digest(), "sha256"))
        return bytes(token.dump())

    return make


class PlainEcdsaSigner(signers.SimpleSigner):
    """Writes ECDSA signatures in BSI TR-03111 plain format (r || s) under ``ecdsa-plain-SHA256``."""

    PLAIN_SHA256 = "0.4.0.127.0.7.1.1.4.1.3"

    def __init__(self, pki: ThrowawayPki, *, corrupt: bool = False) -> None:
        super().__init__(
            signing_cert=pki.signer.asn1,
            signing_key=key_to_asn1(pki.signer.key),
            cert_registry=pki.cert_store(),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": self.PLAIN_SHA256}),
        )
        self._key = pki.signer.key
        self._corrupt = corrupt

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        assert isinstance(self._key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(hashes.SHA256())))
        plain = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if self._corrupt:
            plain = plain[:-1] + bytes([plain[-1] ^ 0x01])
        return plain


def sign_incrementally(
    pdf: bytes,
    pki: ThrowawayPki,
    *,
    field_name: str = "Signature1",
    signer: signers.Signer | None = None,
    password: str | None = None,
) -> bytes:
    """PAdES B-B in an appended revision, read with pyHanko's lenient reader (as Acrobat would)."""
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    if password is not None:
        writer.encrypt(password)
    out = signers.sign_pdf(writer, meta, signer=signer or pki.pdf_signer(), bytes_reserved=16384)
    return bytes(out.getvalue())

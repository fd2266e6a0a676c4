"""Reading a PDF we did not make: the reader (strict, or lenient as a fallback) and its signatures.

Real-world files (Word exports, old Acrobat, vendor tools) often carry small structural faults that
Acrobat, poppler and the reference validators read: hybrid cross-references, dangling references,
odd xref sections. pyHanko's strict reader refuses them, so we fall back to its lenient reader. The
lenient reader only helps to *locate* objects: every digest is still computed over the file's own
bytes as its ``/ByteRange`` says, and the report says which mode was used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from io import BytesIO
from typing import Literal

from asn1crypto import cms
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.crypt import AuthStatus
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.reader import PdfFileReader, process_data_at_eof
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import EmbeddedPdfSignature

from econtract.verification.errors import UnreadablePdf
from econtract.verification.services.reports import DocumentTimestampReport, Mode, SignatureReport

logger = logging.getLogger(__name__)

Kind = Literal["signature", "timestamp"]

# adbe.pkcs7.sha1 (ISO 32000-1 §12.8.3.3.1, deprecated in PDF 2.0): judged by signatures.py itself
PKCS7_SHA1 = "/adbe.pkcs7.sha1"
SIGNATURE_SUBFILTERS = frozenset({"/adbe.pkcs7.detached", "/ETSI.CAdES.detached", PKCS7_SHA1})
TIMESTAMP_SUBFILTER = "/ETSI.RFC3161"


class StrictReadRefused(Exception):
    """The strict reader cannot judge this file; the caller starts over in lenient mode."""


def open_pdf(data: bytes, mode: Mode) -> PdfFileReader:
    # Hostile input: any parser failure, whatever its type, means "not a PDF we can judge".
    try:
        reader = PdfFileReader(BytesIO(data), strict=mode == "strict")
        if reader.encrypted:
            # Only documents that open without a password (owner-password-only) can be judged.
            if reader.decrypt("").status == AuthStatus.FAILED:
                raise UnreadablePdf("the PDF is encrypted with a password")
        _ = reader.root, reader.xrefs.total_revisions
    except UnreadablePdf:
        raise
    except Exception as exc:
        raise UnreadablePdf(f"not a readable PDF: {exc}") from exc
    if mode == "strict" and reader.xrefs.hybrid_xrefs_present:
        # pyHanko's strict mode refuses to validate hybrid-reference files (a table plus /XRefStm,
        # as Word and old Acrobat write them); its lenient reader handles them.
        raise StrictReadRefused("hybrid-reference file")
    return reader


class LocatedSignature(EmbeddedPdfSignature):
    """An embedded signature whose kind we decided ourselves, from ``/SubFilter`` first.

    Tools write document timestamps without ``/Type`` or typed ``/Sig``; the ``/SubFilter``
    ``/ETSI.RFC3161`` and a timestamp token inside say what they are. pyHanko checks
    ``sig_object_type``, so it reports the kind decided here.
    """

    kind: Kind = "signature"

    @property
    def sig_object_type(self) -> generic.NameObject:
        return pdf_name("/DocTimeStamp" if self.kind == "timestamp" else "/Sig")

    @property
    def subfilter(self) -> str:
        value = self.sig_object.get("/SubFilter")
        return str(value) if value is not None else ""


@dataclass
class Located:
    """Everything found in the form: signatures to validate, and entries that cannot be."""

    signatures: list[LocatedSignature] = field(default_factory=list)
    timestamps: list[LocatedSignature] = field(default_factory=list)
    refused: list[SignatureReport] = field(default_factory=list)
    refused_timestamps: list[DocumentTimestampReport] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.signatures) + len(self.timestamps) + len(self.refused) + len(self.refused_timestamps)


def locate_signatures(reader: PdfFileReader, data: bytes, mode: Mode) -> Located:
    """Every filled signature field: ``/Sig`` signatures, document timestamps, and broken ones.

    Unlike pyHanko's ``embedded_signatures`` we do not skip signatures with an unknown
    ``/SubFilter`` or a broken ``/Contents``: a signature we cannot check is reported (Universal
    Signature Forgery plays with exactly these).
    """
    located = Located()
    try:
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:
        if mode == "strict":
            raise StrictReadRefused(f"unreadable form fields: {exc}") from exc
        raise UnreadablePdf(f"unreadable form fields: {exc}") from exc
    for fq_name, sig_obj, sig_field in fields:
        name = str(fq_name)
        try:
            sig_dict = sig_obj.get_object() if isinstance(sig_obj, generic.IndirectObject) else sig_obj
        except Exception as exc:
            if mode == "strict":
                raise StrictReadRefused(str(exc)) from exc
            sig_dict = None
        kind = _kind(sig_dict)
        report: SignatureReport | DocumentTimestampReport = (
            DocumentTimestampReport(field=name) if kind == "timestamp" else SignatureReport(field=name)
        )
        if not isinstance(sig_dict, generic.DictionaryObject):
            report.fail("malformed_signature", "the signature value is not a dictionary")
            _add_refused(located, report)
            continue
        if isinstance(report, SignatureReport):
            report.subfilter = str(sig_dict.get("/SubFilter", ""))
        if not _byte_range_usable(sig_dict, len(data), report):
            _add_refused(located, report)
            continue
        try:
            embedded = LocatedSignature(reader, sig_field, name)
        except Exception as exc:
            if mode == "strict" and _is_read_error(exc):
                raise StrictReadRefused(str(exc)) from exc
            _refuse_container(sig_dict, exc, report)
            _add_refused(located, report)
            continue
        embedded.kind = kind
        _settle_signed_revision(embedded, data)
        if kind == "timestamp":
            located.timestamps.append(embedded)
        elif embedded.subfilter in SIGNATURE_SUBFILTERS:
            located.signatures.append(embedded)
        else:
            assert isinstance(report, SignatureReport)
            report.fail(
                "unsupported_subfilter",
                f"the signature format {embedded.subfilter or '(none)'} is not supported; it was not checked",
            )
            located.refused.append(report)
    located.signatures.sort(key=lambda s: s.signed_revision)
    located.timestamps.sort(key=lambda s: s.signed_revision)
    return located


def _settle_signed_revision(embedded: LocatedSignature, data: bytes) -> None:
    """Judge coverage against the revision the signed bytes really end with (linearization included).

    pyHanko takes the signed revision to be the xref section that last lists the signature object.
    A linearized save has two sections (first-page and main) for one revision; when the signature's
    objects sit in the main section, the signed bytes end with the *first-page* section's
    ``startxref`` and pyHanko would call a complete revision "not covered". If the signed zone ends
    with a later section's ``startxref`` and every section up to that one lies inside the signed
    bytes, that section is where the signed revision really ends. Nothing outside the signed bytes
    is ever taken in: the coverage check and the difference analysis still run from there.
    """
    _, len1, start2, len2 = (int(v) for v in embedded.byte_range)
    signed_end = start2 + len2
    xrefs = embedded.reader.xrefs
    try:
        stream = BytesIO(data)
        stream.seek(signed_end)  # as pyHanko's coverage check reads it
        startxref = process_data_at_eof(stream)
        if startxref == xrefs.get_startxref_for_revision(embedded.signed_revision):
            return
        for later in range(embedded.signed_revision + 1, xrefs.total_revisions):
            if xrefs.get_startxref_for_revision(later) != startxref:
                continue
            sections_signed = all(
                xrefs.get_xref_container_info(i).end_location <= signed_end for i in range(later + 1)
            )
            # and every object those sections place lies inside the signed bytes too
            objects_signed = all(
                offset < signed_end
                for i in range(embedded.signed_revision + 1, later + 1)
                for _generation, offset in xrefs.get_xref_data(i).standard_xrefs.values()
            )
            if sections_signed and objects_signed:
                embedded.signed_revision = later
            return
    except Exception:
        # no readable startxref at the end of the signed zone: pyHanko's own check reports it
        logger.debug("cannot settle the signed revision of %s", embedded.field_name, exc_info=True)


def _add_refused(located: Located, report: SignatureReport | DocumentTimestampReport) -> None:
    if isinstance(report, DocumentTimestampReport):
        located.refused_timestamps.append(report)
    else:
        located.refused.append(report)


def _kind(sig_dict: object) -> Kind:
    if not isinstance(sig_dict, generic.DictionaryObject):
        return "signature"
    if sig_dict.get("/SubFilter") == TIMESTAMP_SUBFILTER or sig_dict.get("/Type") == "/DocTimeStamp":
        return "timestamp"
    return "signature"


def _is_read_error(exc: Exception) -> bool:
    from pyhanko.pdf_utils.misc import PdfStrictReadError

    return isinstance(exc, PdfStrictReadError)


def _byte_range_usable(
    sig_dict: generic.DictionaryObject, file_size: int, report: SignatureReport | DocumentTimestampReport
) -> bool:
    """Check ``/ByteRange`` before anything hashes it; record why when it cannot be used."""
    try:
        raw = sig_dict.raw_get("/ByteRange")
        values = [int(v) for v in raw] if isinstance(raw, generic.ArrayObject) else None
        if values is not None and not all(isinstance(v, generic.NumberObject) for v in raw):
            values = None
    except (KeyError, TypeError, ValueError):
        values = None
    if values is None or len(values) != 4 or any(v < 0 for v in values):
        report.fail("byte_range_malformed", "the /ByteRange is missing or is not four non-negative integers")
        return False
    start1, len1, start2, len2 = values
    if start1 != 0 or start2 < start1 + len1:
        report.fail(
            "byte_range_malformed",
            "the /ByteRange does not start at the beginning of the file or its ranges overlap",
        )
        return False
    end = start2 + len2
    if end > file_size:
        # The signature claims bytes that are not there: broken, not merely "short".
        report.fail(
            "byte_range_past_eof", f"the byte range ends {end - file_size} bytes past the end of the file"
        )
        return False
    return True


def _refuse_container(
    sig_dict: generic.DictionaryObject, exc: Exception, report: SignatureReport | DocumentTimestampReport
) -> None:
    """Say why pyHanko could not even load the signature container."""
    contents = sig_dict.get("/Contents")
    signed_data = None
    if isinstance(contents, (generic.ByteStringObject, generic.TextStringObject)):
        try:
            content_info = cms.ContentInfo.load(bytes(contents.original_bytes).rstrip(b"\x00") or b"\x00")
            signed_data = (
                content_info["content"] if content_info["content_type"].native == "signed_data" else None
            )
            if signed_data is not None:
                _ = signed_data.native
        except Exception:
            signed_data = None
    if signed_data is not None and len(signed_data["signer_infos"]) != 1:
        count = len(signed_data["signer_infos"])
        report.fail(
            "unsupported_cms_structure",
            f"the CMS container holds {count} SignerInfos; only single-signer containers are checked",
        )
        return
    report.fail("malformed_signature", f"the signature container cannot be read: {exc}")

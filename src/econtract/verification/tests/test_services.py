"""verify_pdf() against PDFs signed, extended and attacked with a throwaway PKI."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from io import BytesIO

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter, append_signature_field

from econtract.verification.errors import UnreadablePdf
from econtract.verification.services import VerificationReport, async_verify_pdf, verify_pdf
from econtract.verification.tests import pki_fixtures as fx

SIGNATURE_KEYS = {
    "signer",
    "certificate_serial",
    "trusted",
    "intact",
    "valid",
    "timestamp_time",
    "timestamp_valid",
    "revocation",
    "modification",
    "field",
    "signing_time",
    "coverage",
    "problems",
    "status",
    "reasons",
}


def verify(data: bytes, pki: fx.ThrowawayPki) -> VerificationReport:
    return verify_pdf(data, trust_roots=[pki.root.asn1])


def test_one_timestamped_signature_is_valid(pki, signed):
    report = verify(signed, pki)

    assert report.valid, report.to_dict()
    assert report.error is None
    (sig,) = report.signatures
    assert sig.signer == "张三"
    assert sig.certificate_serial == str(pki.signer.serial)
    assert sig.field == "Signature1"
    assert (sig.intact, sig.valid, sig.trusted) == (True, True, True)
    assert sig.modification == "none"
    assert sig.coverage == "entire_file"
    assert sig.timestamp_valid and sig.timestamp_time is not None
    assert sig.revocation == "unknown"  # B-T carries no revocation data
    assert sig.problems == []


def test_report_dict_has_the_documented_shape(pki, signed):
    report = verify(signed, pki).to_dict()

    assert set(report) >= {"valid", "mode", "signatures", "document_timestamps"}
    (sig,) = report["signatures"]
    assert set(sig) >= SIGNATURE_KEYS
    assert isinstance(sig["certificate_serial"], str) and sig["certificate_serial"].isdigit()
    assert dt.datetime.fromisoformat(sig["timestamp_time"]).tzinfo is not None
    assert sig["revocation"] in {"good", "revoked", "unknown"}


def test_signature_without_timestamp_is_valid_but_has_no_proven_time(pki, blank):
    report = verify(fx.sign(blank, pki, timestamp=False), pki)

    assert report.valid
    (sig,) = report.signatures
    assert sig.timestamp_time is None and not sig.timestamp_valid
    assert sig.signing_time is not None  # the signer's claim, not evidence


def test_two_incremental_signatures_are_both_valid(pki, signed):
    second = pki.issue_signer("李四")
    both = fx.sign(signed, pki, field_name="Signature2", who=second)

    report = verify(both, pki)

    assert report.valid, report.to_dict()
    first, last = report.signatures
    assert (first.field, first.modification, first.coverage) == (
        "Signature1",
        "form_filling",
        "entire_revision",
    )
    assert first.changed_fields == ["Signature2"]
    assert (last.field, last.signer, last.modification) == ("Signature2", "李四", "none")


def test_embedded_crl_gives_revocation_good(pki, signed_lt):
    report = verify(signed_lt, pki)

    assert report.valid, report.to_dict()
    (sig,) = report.signatures
    assert sig.revocation == "good"
    assert sig.modification == "lta_updates"


def test_document_timestamp_is_listed_and_keeps_signature_valid(pki, signed_lt):
    lta = fx.add_document_timestamp(signed_lt, pki)

    report = verify(lta, pki)

    assert report.valid, report.to_dict()
    (sig,) = report.signatures
    assert sig.modification == "lta_updates"
    assert sig.revocation == "good"
    (doc_ts,) = report.document_timestamps
    assert (doc_ts.intact, doc_ts.valid, doc_ts.trusted) == (True, True, True)
    assert doc_ts.time is not None and sig.timestamp_time is not None
    assert doc_ts.time >= sig.timestamp_time
    assert report.to_dict()["document_timestamps"][0]["time"] == doc_ts.time.isoformat()


def test_flipped_byte_in_signed_content_is_detected(pki, signed):
    tampered = fx.flip_byte(signed, b"(Sales contract")

    report = verify(tampered, pki)

    assert not report.valid
    (sig,) = report.signatures
    assert sig.intact is False
    assert any("altered" in p for p in sig.problems)


def test_page_content_added_after_signing_is_other(pki, signed):
    report = verify(fx.append_page_content(signed), pki)

    assert not report.valid
    (sig,) = report.signatures
    assert sig.intact and sig.valid  # the signed revision itself is untouched...
    assert sig.modification == "other"  # ...but a later revision changed the page
    assert any("changed after signing" in p for p in sig.problems)


def test_content_added_after_a_document_timestamp_is_other(pki, signed_lt):
    lta = fx.add_document_timestamp(signed_lt, pki)

    report = verify(fx.append_page_content(lta), pki)

    assert not report.valid
    assert report.signatures[0].modification == "other"
    assert report.document_timestamps[0].modification == "other"


def test_byte_range_short_of_its_revision_is_rejected(pki, blank):
    wrapped = fx.shrink_byte_range(fx.sign(blank, pki, timestamp=False), pki, uncovered_tail=8)

    report = verify(wrapped, pki)

    assert not report.valid
    (sig,) = report.signatures
    assert sig.intact and sig.valid  # the digest matches the (shortened) range
    assert sig.coverage not in {"entire_revision", "entire_file"}
    assert sig.modification == "other"
    assert any("/ByteRange" in p for p in sig.problems)


def test_signer_from_an_untrusted_root_is_not_trusted(pki, rogue_pki, blank):
    forged = fx.sign(blank, rogue_pki)  # same names as the real PKI, other keys

    report = verify(forged, pki)

    assert not report.valid
    (sig,) = report.signatures
    assert sig.intact and sig.valid
    assert sig.trusted is False
    assert sig.timestamp_valid is False  # its TSA is not trusted either
    assert any("not trusted" in p for p in sig.problems)


def test_no_trust_roots_trusts_nothing(signed):
    # an empty list must not fall back to the operating system's roots
    report = verify_pdf(signed, trust_roots=[])

    assert not report.valid
    assert report.signatures[0].trusted is False


def test_revoked_signer_is_rejected(pki, signed, now):
    crl = pki.crl(revoked={pki.signer.serial: now - dt.timedelta(hours=2)})

    report = verify(fx.add_dss(signed, crls=[crl, pki.crl(pki.root)]), pki)

    assert not report.valid
    (sig,) = report.signatures
    assert sig.revocation == "revoked"
    assert sig.trusted is False
    assert any("revoked" in p for p in sig.problems)


def test_revocation_after_the_proven_signing_time_does_not_void_the_signature(pki, blank, now):
    # the timestamp proves the signature existed before the certificate was revoked
    earlier = fx.sign(blank, pki, timestamp_at=now - dt.timedelta(hours=3))
    crl = pki.crl(revoked={pki.signer.serial: now - dt.timedelta(hours=1)})

    report = verify(fx.add_dss(earlier, crls=[crl, pki.crl(pki.root)]), pki)

    assert report.valid, report.to_dict()
    assert report.signatures[0].revocation == "good"


def test_revocation_without_timestamp_counts_whenever_it_happened(pki, blank, now):
    untimed = fx.sign(blank, pki, timestamp=False)
    crl = pki.crl(revoked={pki.signer.serial: now - dt.timedelta(minutes=1)})

    report = verify(fx.add_dss(untimed, crls=[crl, pki.crl(pki.root)]), pki)

    assert not report.valid
    assert report.signatures[0].revocation == "revoked"


def test_unsigned_pdf_is_not_valid(pki, blank):
    report = verify(blank, pki)

    assert not report.valid
    assert report.signatures == [] and report.document_timestamps == []
    assert report.error


@pytest.mark.parametrize(
    "data",
    [b"", b"not a pdf at all", b"%PDF-1.7\n%garbage\n", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<"],
)
def test_garbage_raises_unreadable_pdf(data, pki):
    with pytest.raises(UnreadablePdf):
        verify(data, pki)


def test_password_protected_pdf_raises_unreadable_pdf(pki, blank):
    writer = copy_into_new_writer(PdfFileReader(BytesIO(blank)))
    writer.encrypt("owner secret", "user secret")
    out = BytesIO()
    writer.write(out)

    with pytest.raises(UnreadablePdf, match="password"):
        verify(out.getvalue(), pki)


def test_truncated_signed_pdf_raises_unreadable_pdf(pki, signed):
    with pytest.raises(UnreadablePdf):
        verify(signed[: len(signed) // 2], pki)


def test_broken_signature_contents_is_reported_not_crashed(pki, signed):
    # Universal Signature Forgery style: the /Contents no longer parses as CMS
    start = signed.index(b"/Contents <") + len(b"/Contents <")
    broken = signed[:start] + b"00" * 16 + signed[start + 32 :]

    report = verify(broken, pki)

    assert not report.valid
    (sig,) = report.signatures
    assert sig.problems


def test_works_inside_a_running_event_loop(pki, signed):
    async def in_loop() -> VerificationReport:
        return verify_pdf(signed, trust_roots=[pki.root.asn1])

    assert asyncio.run(in_loop()).valid


def test_async_entry_point(pki, signed):
    assert asyncio.run(async_verify_pdf(signed, trust_roots=[pki.root.asn1])).valid


def test_works_from_worker_threads(pki, signed):
    results: list[bool] = []

    def work() -> None:
        results.append(verify(signed, pki).valid)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True, True, True]


def test_bytes_hidden_after_the_last_revision_are_rejected(pki, signed):
    report = verify(signed + b"\nBT /F1 18 Tf 72 600 Td (Pay 1,000,000 CNY) Tj ET\n", pki)

    assert not report.valid
    assert report.signatures[0].problems == []  # each signature alone still checks out
    assert any("%%EOF" in p for p in report.problems)


def test_trailing_whitespace_is_harmless(pki, signed):
    assert verify(signed + b"\r\n\n", pki).valid


def test_change_forbidden_by_a_certification_signature_is_other(pki, blank):

    meta = signers.PdfSignatureMetadata(
        field_name="Author",
        certify=True,
        docmdp_permissions=MDPPerm.NO_CHANGES,
        subfilter=SigSeedSubFilter.PADES,
    )
    certified = signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(blank)), meta, signer=pki.pdf_signer())
    writer = IncrementalPdfFileWriter(BytesIO(certified.getvalue()))
    append_signature_field(writer, SigFieldSpec("Later", box=(10, 10, 100, 50)))
    out = BytesIO()
    writer.write(out)

    report = verify(out.getvalue(), pki)

    assert not report.valid
    assert report.signatures[0].modification == "other"


def test_embedded_ocsp_response_good(pki, signed):
    report = verify(fx.add_dss(signed, ocsps=[pki.ocsp_response()]), pki)

    assert report.valid, report.to_dict()
    assert report.signatures[0].revocation == "good"


def test_embedded_ocsp_response_revoked(pki, signed, now):
    ocsp = pki.ocsp_response(revoked_at=now - dt.timedelta(hours=1))

    report = verify(fx.add_dss(signed, ocsps=[ocsp]), pki)

    assert not report.valid
    assert report.signatures[0].revocation == "revoked"


def test_revocation_data_signed_by_a_stranger_is_ignored(pki, rogue_pki, signed, now):
    # a look-alike CA's CRL saying "revoked" (or "good") proves nothing about our signer
    fake = rogue_pki.crl(revoked={pki.signer.serial: now - dt.timedelta(hours=2)})

    report = verify(fx.add_dss(signed, crls=[fake]), pki)

    assert report.valid
    assert report.signatures[0].revocation == "unknown"


def test_stale_crl_reads_unknown_not_good(pki, signed, now):
    stale = pki.crl(this_update=now - dt.timedelta(days=10), next_update=now - dt.timedelta(days=3))

    report = verify(fx.add_dss(signed, crls=[stale]), pki)

    assert report.signatures[0].revocation == "unknown"


def test_signature_with_an_unknown_subfilter_is_reported_not_skipped(pki, signed):
    odd = signed.replace(b"/ETSI.CAdES.detached", b"/ETSI.CAdES.detacheX", 1)

    report = verify(odd, pki)

    assert not report.valid
    (sig,) = report.signatures
    assert sig.problems

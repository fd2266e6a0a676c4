"""verify_pdf in the sandboxed child: same report as in-process, and bounded in time and memory."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest

from econtract.verification.errors import UnreadablePdf, VerificationLimitExceeded
from econtract.verification.isolation import verify_pdf_isolated
from econtract.verification.services import VerificationReport, verify_pdf
from econtract.verification.tests import pki_fixtures as fx

DOS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "dos"
DOS_FILES = sorted(DOS.glob("*.pdf")) + sorted(DOS.glob("*.pdf.gz")) if DOS.is_dir() else []


def test_the_child_reports_what_the_parent_would(pki: fx.ThrowawayPki, signed_lt: bytes) -> None:
    lta = fx.add_document_timestamp(signed_lt, pki)

    isolated = verify_pdf_isolated(lta, trust_roots=[pki.root.asn1], other_certs=[pki.ca.asn1])
    direct = verify_pdf(lta, trust_roots=[pki.root.asn1], other_certs=[pki.ca.asn1])

    assert isinstance(isolated, VerificationReport)
    assert isolated.to_dict() == direct.to_dict()
    assert isolated.valid and isolated.signatures[0].timestamp_time == direct.signatures[0].timestamp_time


def test_report_round_trips_through_its_dict(pki: fx.ThrowawayPki, signed: bytes) -> None:
    report = verify_pdf(signed, trust_roots=[pki.root.asn1])

    assert VerificationReport.from_dict(report.to_dict()).to_dict() == report.to_dict()


def test_unreadable_input_is_unreadable_in_the_child_too(pki: fx.ThrowawayPki) -> None:
    with pytest.raises(UnreadablePdf) as raised:
        verify_pdf_isolated(b"not a pdf at all", trust_roots=[pki.root.asn1])

    assert not isinstance(raised.value, VerificationLimitExceeded)


def test_the_child_is_killed_at_the_time_limit(pki: fx.ThrowawayPki, signed: bytes, settings) -> None:
    settings.ECONTRACT_VERIFY_TIMEOUT_SECONDS = 0.05  # less than the interpreter needs to start

    started = time.monotonic()
    with pytest.raises(VerificationLimitExceeded, match="longer than"):
        verify_pdf_isolated(signed, trust_roots=[pki.root.asn1])
    assert time.monotonic() - started < 5


def test_the_child_cannot_exceed_its_memory_limit(pki: fx.ThrowawayPki, signed: bytes, settings) -> None:
    settings.ECONTRACT_VERIFY_MEMORY_BYTES = 64 * 1024 * 1024  # too little to even load pyHanko

    with pytest.raises(VerificationLimitExceeded):
        verify_pdf_isolated(signed, trust_roots=[pki.root.asn1])


@pytest.mark.skipif(not DOS_FILES, reason=f"no denial-of-service corpus at {DOS}")
@pytest.mark.parametrize("path", DOS_FILES, ids=[p.name[:60] for p in DOS_FILES])
def test_denial_of_service_files_are_judged_or_refused_within_bounds(
    path: Path, pki: fx.ThrowawayPki
) -> None:
    data = path.read_bytes()
    data = gzip.decompress(data) if path.suffix == ".gz" else data

    started = time.monotonic()
    try:
        report = verify_pdf_isolated(data, trust_roots=[pki.root.asn1])
    except UnreadablePdf:
        report = None  # refused (unreadable, or stopped at a limit): never a crash of the caller
    assert time.monotonic() - started < 35
    assert report is None or not report.valid

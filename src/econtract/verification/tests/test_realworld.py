"""PDFs other tools write: each class of real-world file gets its expected verdict.

The files come from ``realworld.py`` (pyHanko, qpdf and a few hand-written lines of PDF); the
verdicts are what a reference validator (ETSI EN 319 102-1) gives such files: structural faults and
unimplemented formats never make a signature "forged", and nothing unproven is ever "valid".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from econtract.verification.services import REASON_STATUS, VerificationReport, verify_pdf
from econtract.verification.tests import pki_fixtures as fx
from econtract.verification.tests import realworld as rw

Build = Callable[[fx.ThrowawayPki], bytes]


def verify(data: bytes, pki: fx.ThrowawayPki) -> VerificationReport:
    return verify_pdf(data, trust_roots=[pki.root.asn1])


@dataclass(frozen=True)
class Case:
    build: Build
    mode: str
    statuses: tuple[str, ...]  # per signature, in revision order
    reasons: tuple[tuple[str, ...], ...] = ()

    @property
    def valid(self) -> bool:
        return all(status == "valid" for status in self.statuses)


def _sign_after(build: Build, field_name: str = "Signature2") -> Build:
    return lambda pki: rw.sign_incrementally(build(pki), pki, field_name=field_name)


def _filled(
    placeholder: Callable[[], bytes], cms: Callable[[fx.ThrowawayPki], Callable[[bytes], bytes]]
) -> Build:
    return lambda pki: rw.fill_signature(placeholder(), cms(pki))


CASES: dict[str, Case] = {
    # item 2: hybrid-reference files (Word, old Acrobat)
    "hybrid_reference": Case(lambda pki: rw.sign_incrementally(rw.hybrid_pdf(), pki), "lenient", ("valid",)),
    # item 3: small structural faults that viewers read
    "dangling_reference": Case(
        _filled(rw.dangling_reference_placeholder, rw.detached_cms), "lenient", ("valid",)
    ),
    "decreasing_xref_size": Case(
        lambda pki: rw.sign_incrementally(rw.decreasing_size_pdf(), pki), "lenient", ("valid",)
    ),
    "size_mismatch": Case(
        lambda pki: rw.sign_incrementally(rw.size_mismatch_pdf(), pki), "lenient", ("valid",)
    ),
    "xref_offset_off": Case(
        lambda pki: rw.sign_incrementally(rw.shifted_prev_pdf(), pki), "lenient", ("valid",)
    ),
    "inline_encryption_dictionary": Case(
        _filled(rw.inline_encryption_placeholder, rw.detached_cms), "lenient", ("valid",)
    ),
    "clobbered_xref_stream": Case(
        lambda pki: rw.sign_incrementally(rw.clobbered_xref_stream_pdf(), pki), "lenient", ("valid",)
    ),
    # item 4: legitimate formats
    "plain_ecdsa": Case(
        lambda pki: rw.sign_incrementally(rw.hand_pdf(), pki, signer=rw.PlainEcdsaSigner(pki)),
        "strict",
        ("valid",),
    ),
    "plain_ecdsa_forged": Case(
        lambda pki: rw.sign_incrementally(rw.hand_pdf(), pki, signer=rw.PlainEcdsaSigner(pki, corrupt=True)),
        "strict",
        ("invalid",),
        (("signature_invalid",),),
    ),
    "adbe_pkcs7_sha1": Case(
        _filled(lambda: rw.with_placeholder(subfilter=b"/adbe.pkcs7.sha1"), rw.pkcs7_sha1_cms),
        "strict",
        ("indeterminate",),
        (("algorithm_not_allowed",),),
    ),
    "adbe_x509_rsa_sha1": Case(
        _filled(lambda: rw.with_placeholder(subfilter=b"/adbe.x509.rsa_sha1"), rw.detached_cms),
        "strict",
        ("indeterminate",),
        (("unsupported_subfilter",),),
    ),
    "document_timestamp_without_type": Case(
        _sign_after(
            _filled(
                lambda: rw.with_placeholder(subfilter=b"/ETSI.RFC3161", sig_type=None), rw.timestamp_token
            )
        ),
        "strict",
        ("valid",),
    ),
    "document_timestamp_typed_sig": Case(
        _sign_after(
            _filled(
                lambda: rw.with_placeholder(subfilter=b"/ETSI.RFC3161", sig_type=b"/Sig"), rw.timestamp_token
            )
        ),
        "strict",
        ("valid",),
    ),
    "detached_cms_embedding_content": Case(
        _filled(lambda: rw.with_placeholder(subfilter=b"/adbe.pkcs7.detached"), rw.embedding_cms),
        "strict",
        ("valid",),
    ),
    "detached_cms_embedding_other_content": Case(
        lambda pki: rw.fill_signature(
            rw.with_placeholder(subfilter=b"/adbe.pkcs7.detached"),
            lambda signed: rw.embedding_cms(pki)(signed.replace(b"No. 42", b"No. 43")),
        ),
        "strict",
        ("invalid",),
        (("digest_mismatch",),),
    ),
    "two_signer_infos": Case(
        lambda pki: rw.fill_signature(
            rw.with_placeholder(), rw.two_signer_cms(pki, pki.issue_signer("李四"))
        ),
        "strict",
        ("indeterminate",),
        (("unsupported_cms_structure",),),
    ),
    "field_name_with_period": Case(
        _filled(lambda: rw.with_placeholder(field_name=b"Sig.nature"), rw.detached_cms), "strict", ("valid",)
    ),
    "field_name_with_period_then_another_signature": Case(
        _sign_after(_filled(lambda: rw.with_placeholder(field_name=b"Sig.nature"), rw.detached_cms)),
        "strict",
        ("indeterminate", "valid"),
        (("modifications_not_checked",), ()),
    ),
    # item 5: linearized first revision, signature objects in the main xref section
    "linearized_first_revision": Case(
        _sign_after(_filled(rw.linearized_placeholder, rw.detached_cms)), "strict", ("valid", "valid")
    ),
    "qpdf_linearized_first_revision": Case(
        _sign_after(_filled(lambda: rw.linearize(rw.with_placeholder(second_page=True)), rw.detached_cms)),
        "strict",
        ("valid", "valid"),
    ),
    # no reader opens it: the signature is found by scanning and judged, never better than indeterminate
    "unreadable_structure": Case(
        _filled(lambda: rw.with_placeholder().replace(b"startxref", b"startxrex"), rw.detached_cms),
        "lenient",
        ("indeterminate",),
        (("structure_unreadable",),),
    ),
    # item 6: a byte range past the end of the file is broken, not "short"
    "byte_range_past_eof": Case(
        lambda pki: rw.fill_signature(rw.with_placeholder(), rw.detached_cms(pki), extra_length=100),
        "strict",
        ("invalid",),
        (("byte_range_past_eof",),),
    ),
}


@pytest.fixture(scope="module")
def built(pki: fx.ThrowawayPki) -> dict[str, bytes]:
    return {name: case.build(pki) for name, case in CASES.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_real_world_class_gets_the_reference_verdict(
    name: str, built: dict[str, bytes], pki: fx.ThrowawayPki
) -> None:
    case = CASES[name]

    report = verify(built[name], pki)

    assert report.mode == case.mode, report.to_dict()
    assert tuple(s.status for s in report.signatures) == case.statuses, report.to_dict()
    if case.reasons:
        assert tuple(tuple(s.reasons) for s in report.signatures) == case.reasons
    assert report.valid is case.valid
    for sig in report.signatures:
        # an unsupported or uncomputed check is never called a forgery
        assert "the CMS signature does not verify" not in sig.problems or "signature_invalid" in sig.reasons
        assert all(code in REASON_STATUS for code in sig.reasons)
        if sig.status == "valid":
            assert (sig.intact, sig.valid, sig.trusted) == (True, True, True)
            assert sig.coverage in {"entire_file", "entire_revision"}


def test_lenient_mode_says_why(built: dict[str, bytes], pki: fx.ThrowawayPki) -> None:
    report = verify(built["hybrid_reference"], pki).to_dict()

    assert report["mode"] == "lenient"
    assert "hybrid" in report["mode_reason"]


def test_strict_files_stay_strict(pki: fx.ThrowawayPki, signed: bytes) -> None:
    assert verify(signed, pki).to_dict()["mode"] == "strict"


def test_byte_range_past_the_end_says_so_and_computes_no_digest(
    built: dict[str, bytes], pki: fx.ThrowawayPki
) -> None:
    (sig,) = verify(built["byte_range_past_eof"], pki).signatures

    assert sig.intact is None and sig.valid is None  # not computed, so neither true nor false
    assert sig.problems == ["the byte range ends 100 bytes past the end of the file"]
    assert sig.to_dict()["intact"] is None


def test_a_truncated_file_says_its_byte_range_runs_past_the_end(pki: fx.ThrowawayPki, signed: bytes) -> None:
    report = verify(signed[:-100], pki)  # the last revision's xref and trailer are cut off

    assert report.mode == "lenient"
    (sig,) = report.signatures
    assert (sig.status, sig.reasons, sig.intact) == ("invalid", ["byte_range_past_eof"], None)
    assert sig.problems == ["the byte range ends 100 bytes past the end of the file"]


def test_a_scanned_signature_still_catches_a_changed_byte(
    built: dict[str, bytes], pki: fx.ThrowawayPki
) -> None:
    (sig,) = verify(fx.flip_byte(built["unreadable_structure"], b"(Sales contract"), pki).signatures

    assert sig.status == "invalid" and "digest_mismatch" in sig.reasons and sig.intact is False


def test_plain_ecdsa_names_its_algorithm(built: dict[str, bytes], pki: fx.ThrowawayPki) -> None:
    (sig,) = verify(built["plain_ecdsa"], pki).signatures

    assert sig.algorithm == "ecdsa-plain-sha256"
    assert sig.signer == "张三"


def test_lenient_reading_still_digests_the_files_own_bytes(
    built: dict[str, bytes], pki: fx.ThrowawayPki
) -> None:
    # a hybrid file that verifies leniently must still fail once a signed byte changes
    tampered = fx.flip_byte(built["hybrid_reference"], b"(Sales contract")

    report = verify(tampered, pki)

    assert report.mode == "lenient"
    (sig,) = report.signatures
    assert sig.status == "invalid" and sig.intact is False
    assert "digest_mismatch" in sig.reasons


def test_lenient_reading_still_catches_later_changes(built: dict[str, bytes], pki: fx.ThrowawayPki) -> None:
    changed = fx.append_page_content(built["dangling_reference"])

    report = verify(changed, pki)

    assert report.mode == "lenient"
    (sig,) = report.signatures
    assert sig.status == "invalid" and "modified_after_signing" in sig.reasons


def test_linearized_signature_covers_its_real_revision(built: dict[str, bytes], pki: fx.ThrowawayPki) -> None:
    first, _second = verify(built["linearized_first_revision"], pki).signatures

    assert first.coverage == "entire_revision"
    assert first.modification == "form_filling"


def test_a_truly_short_byte_range_in_a_linearized_file_is_still_caught(pki: fx.ThrowawayPki) -> None:
    # the signed zone stops 40 bytes short: the main section's trailer and startxref are unsigned
    short = rw.fill_signature(rw.linearized_placeholder(), rw.detached_cms(pki), extra_length=-40)

    report = verify(rw.sign_incrementally(short, pki, field_name="Signature2"), pki)

    first = report.signatures[0]
    assert first.intact is True  # the digest matches the (shortened) range
    assert first.status == "invalid"
    assert "coverage_incomplete" in first.reasons


# --- public attack corpus ---------------------------------------------------------------------------

SHADOW = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "shadow"


def _shadow_files() -> list[Path]:
    return sorted(SHADOW.glob("*.pdf")) if SHADOW.is_dir() else []


@pytest.mark.skipif(not _shadow_files(), reason=f"the shadow-attack corpus is not at {SHADOW}")
@pytest.mark.parametrize("path", _shadow_files(), ids=lambda p: p.name[:60])
def test_shadow_attack_corpus(path: Path) -> None:
    data = path.read_bytes()
    signer = next(iter(PdfFileReader(BytesIO(data), strict=False).embedded_signatures)).signer_cert

    report = verify_pdf(data, trust_roots=[signer])

    if "-manipulated" in path.name:
        assert not report.valid
        assert report.signatures[0].status == "invalid"
        assert "modified_after_signing" in report.signatures[0].reasons
    else:
        assert report.valid, report.to_dict()

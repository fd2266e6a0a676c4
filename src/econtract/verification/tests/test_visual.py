"""What the signer saw is what counts: changes classified as ETSI does, pages compared as rendered."""

from __future__ import annotations

from pathlib import Path

import pytest

from econtract.verification.services import VerificationReport, verify_pdf
from econtract.verification.services.reading import locate_signatures, open_pdf
from econtract.verification.services.reports import SignatureReport
from econtract.verification.services.visual import review_appearance
from econtract.verification.tests import pki_fixtures as fx
from econtract.verification.tests import visualcases as vc


def verify(data: bytes, pki: fx.ThrowawayPki) -> VerificationReport:
    return verify_pdf(data, trust_roots=[pki.root.asn1])


# --- content changed through "form filling": never valid ------------------------------------------


@pytest.mark.parametrize(
    "build", [vc.appearance_swap, vc.hide_by_field, vc.replace_by_field], ids=lambda b: b.__name__
)
def test_a_form_filling_revision_that_changes_what_a_page_shows_is_not_valid(
    build: object, pki: fx.ThrowawayPki
) -> None:
    report = verify(build(pki), pki)  # type: ignore[operator]

    assert not report.valid
    (sig,) = report.signatures
    assert (sig.intact, sig.valid, sig.trusted) == (True, True, True)  # cryptographically fine
    assert sig.status == "invalid"
    assert sig.modification == "visual"
    assert "visual_change" in sig.reasons
    (change,) = sig.visual_changes
    assert change["page"] == 1
    x0, y0, x1, y1 = change["box"]
    # the change lies where the field is (72 600 372 630), not elsewhere on the page
    assert 70 <= x0 < x1 <= 374 and 598 <= y0 < y1 <= 632, change
    assert report.to_dict()["signatures"][0]["visual_changes"] == [change]


def test_the_appearance_swap_is_also_named_at_the_signature(pki: fx.ThrowawayPki) -> None:
    report = verify(vc.appearance_swap(pki), pki)

    assert any(
        w.startswith("field_appearance_mismatch:")
        and "'World Health Organisation'" in w
        and "'Attacker'" in w
        and "'Signature1'" in w
        for w in report.warnings
    ), report.warnings


def test_a_prepared_swap_not_yet_revealed_is_valid_with_a_warning(pki: fx.ThrowawayPki) -> None:
    report = verify(vc.swapped_but_unchanged(pki), pki)

    assert report.valid, report.to_dict()
    assert [w for w in report.warnings if w.startswith("field_appearance_mismatch:")]


def test_a_field_that_shows_its_value_raises_no_warning(pki: fx.ThrowawayPki) -> None:
    report = verify(vc.honest_form(pki), pki)

    assert report.valid and report.warnings == []


def test_an_annotation_painted_over_signed_text_is_a_visual_change(pki: fx.ThrowawayPki) -> None:
    report = verify(vc.annotation_over_text(pki), pki)

    (sig,) = report.signatures
    assert sig.status == "invalid" and sig.modification == "visual"
    ((page_box),) = [c["box"] for c in sig.visual_changes]
    assert page_box[1] >= 748 and page_box[3] <= 782  # the title line under the square


# --- harmless changes: intact -------------------------------------------------------------------


def test_filling_a_field_that_was_empty_at_signing_is_form_filling(pki: fx.ThrowawayPki) -> None:
    report = verify(vc.filled_empty_field(pki), pki)

    assert report.valid, report.to_dict()
    (sig,) = report.signatures
    assert sig.modification == "form_filling"
    assert sig.changed_fields == ["Organisation"]
    assert sig.visual_changes == []


def test_annotations_added_after_signing_are_intact_with_a_warning_naming_them(pki: fx.ThrowawayPki) -> None:
    report = verify(vc.annotation_added(pki), pki)

    assert report.valid, report.to_dict()
    (sig,) = report.signatures
    assert (sig.status, sig.modification, sig.reasons) == ("valid", "annotations", [])
    added = [w for w in report.warnings if w.startswith("annotation added after signature 'Signature1'")]
    assert len(added) == 2, report.warnings
    assert any("Text at [500 60 520 80] 'Checked by legal'" in w for w in added)
    assert any("page 1, Link" in w for w in added)


def test_validation_data_rewritten_and_freed_is_lta_maintenance(pki: fx.ThrowawayPki) -> None:
    report = verify(vc.dss_rewritten(pki), pki)

    assert report.valid, report.to_dict()
    (sig,) = report.signatures
    assert sig.modification == "lta_updates"
    assert report.warnings == []


def test_a_page_pointing_at_an_identical_resource_dictionary_changes_nothing(pki: fx.ThrowawayPki) -> None:
    report = verify(vc.identical_resources(pki), pki)

    assert report.valid, report.to_dict()
    assert report.signatures[0].modification == "lta_updates"


def test_a_choice_field_selected_later_with_its_indices_is_form_filling(pki: fx.ThrowawayPki) -> None:
    report = verify(vc.choice_field_selected(pki), pki)

    assert report.valid, report.to_dict()
    (sig,) = report.signatures
    assert sig.modification == "form_filling"
    assert sig.changed_fields == ["Organisation"]


def test_a_later_signature_stamp_is_not_a_visual_change(pki: fx.ThrowawayPki) -> None:
    second = pki.issue_signer("李四")
    first = vc.sign(vc.form_base(b"ACME Ltd", vc._appearance(b"ACME Ltd")), pki)
    both = _visible_signature(first, pki, second)

    report = verify(both, pki)

    assert report.valid, report.to_dict()
    assert report.signatures[0].modification == "form_filling"


def _visible_signature(pdf: bytes, pki: fx.ThrowawayPki, who: fx.Issued) -> bytes:
    from io import BytesIO

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    fields.append_signature_field(writer, fields.SigFieldSpec("Signature2", box=(72, 400, 272, 460)))
    meta = signers.PdfSignatureMetadata(field_name="Signature2", md_algorithm="sha256")
    out = signers.sign_pdf(writer, meta, signer=pki.pdf_signer(who), bytes_reserved=16384)
    return bytes(out.getvalue())


# --- the public shadow-attack corpus, judged by its effect on the page -----------------------------

SHADOW = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "shadow"
# Its manipulating revision is malformed; PDFium reads past it and shows the signed page unchanged
# (pyHanko refuses the revision, so the file is still not valid).
_PDFIUM_SHOWS_NO_CHANGE = "hide__variant-2_hide-via-referenced-object__hide-form-via-form__4"


def _manipulated() -> list[Path]:
    return sorted(SHADOW.glob("*-manipulated*.pdf")) if SHADOW.is_dir() else []


@pytest.mark.skipif(not _manipulated(), reason=f"the shadow-attack corpus is not at {SHADOW}")
@pytest.mark.parametrize("path", _manipulated(), ids=lambda p: p.name[:60])
def test_shadow_attacks_show_as_visual_changes(path: Path) -> None:
    # Whatever object trick the attack uses, treat its revision as if the difference analysis had
    # let it pass as form filling: the rendered pages alone must give it away.
    data = path.read_bytes()
    located = locate_signatures(open_pdf(data, "lenient"), data, "lenient")
    signature = located.signatures[0]
    report = SignatureReport(
        field=str(signature.field_name), intact=True, coverage="entire_revision", modification="form_filling"
    )

    review_appearance(data, [(signature, report)])

    if path.name.startswith(_PDFIUM_SHOWS_NO_CHANGE):
        assert report.modification == "form_filling"
    else:
        assert report.modification == "visual", path.name
        assert report.visual_changes and report.visual_changes[0]["page"] == 1


def test_the_pages_are_compared_inside_the_sandboxed_child(pki: fx.ThrowawayPki) -> None:
    from econtract.verification.isolation import verify_pdf_isolated

    report = verify_pdf_isolated(vc.appearance_swap(pki), trust_roots=[pki.root.asn1])

    (sig,) = report.signatures
    assert sig.status == "invalid" and sig.modification == "visual"
    assert sig.visual_changes[0]["page"] == 1


@pytest.mark.parametrize("build", [vc.freed_page_content, vc.different_resources], ids=lambda b: b.__name__)
def test_look_alikes_of_harmless_changes_are_still_changes(build: object, pki: fx.ThrowawayPki) -> None:
    report = verify(build(pki), pki)  # type: ignore[operator]

    (sig,) = report.signatures
    assert sig.status == "invalid"
    assert sig.modification == "other"
    assert "modified_after_signing" in sig.reasons


def test_pages_not_compared_in_time_are_never_valid(
    pki: fx.ThrowawayPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    from econtract.verification.services import visual

    monkeypatch.setattr(visual, "BUDGET_SECONDS", -1.0)

    report = verify(vc.filled_empty_field(pki), pki)

    (sig,) = report.signatures
    assert sig.status == "indeterminate"
    assert (sig.modification, sig.reasons) == ("unchecked", ["modifications_not_checked"])

"""Active content: found precisely, refused at upload, navigation left alone, the walk bounded."""

from __future__ import annotations

import io
import time

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from econtract.documents import activecontent
from econtract.documents.activecontent import ActiveContent, find_active_content
from econtract.documents.errors import UnsafePdf
from econtract.documents.pdfsafety import inspect_pdf
from econtract.documents.tests import pdfbuild

ACTIVE = pdfbuild.active_content_cases()
NAVIGATION = pdfbuild.navigation_cases()


def found(data: bytes) -> ActiveContent:
    return find_active_content(PdfFileReader(io.BytesIO(data), strict=False))


@pytest.mark.parametrize("case", sorted(ACTIVE))
def test_each_kind_of_active_content_is_named_with_its_place(case: str) -> None:
    data, expected = ACTIVE[case]
    assert expected in found(data).active


@pytest.mark.parametrize("case", sorted(NAVIGATION))
def test_navigation_is_not_active_content(case: str) -> None:
    assert found(NAVIGATION[case]) == ActiveContent(active=[], embedded_files=[])


def test_a_widget_in_both_the_form_and_the_page_is_reported_once() -> None:
    data, _ = ACTIVE["widget-submit"]
    assert found(data).active == ["form field 'send': SubmitForm action"]


def test_a_screen_annotation_reports_its_rendition_too() -> None:
    data, _ = ACTIVE["screen-rendition"]
    assert found(data).active == [
        "page 1 annotation 1: Screen annotation",
        "page 1 annotation 1 (Screen): Rendition action",
    ]


def test_an_ordinary_attachment_is_listed_but_not_active() -> None:
    result = found(pdfbuild.embedded_file_pdf(b"invoice.xml", b"<?xml version='1.0'?><invoice/>"))
    assert result.active == []
    assert result.embedded_files == ["embedded file 'invoice.xml' (Names/EmbeddedFiles)"]


def test_a_declared_executable_mime_type_is_active() -> None:
    data = pdfbuild.embedded_file_pdf(b"report", b"hello", subtype=b" /Subtype /application#2Fx-msdownload")
    assert found(data).active == [
        "embedded executable 'report' (Names/EmbeddedFiles): declared as application/x-msdownload"
    ]


def test_a_compressed_executable_is_recognised_from_its_first_bytes_only() -> None:
    # 2 GiB of zeros behind an MZ header: the magic check must stop after the first chunk.
    bomb, _ = pdfbuild.double_flate_zeros(2.0)
    data = pdfbuild.one_page_pdf(
        catalog=b"/Names << /EmbeddedFiles << /Names [(a) 10 0 R] >> >>",
        extra={
            10: b"<< /Type /Filespec /F (a.dat) /EF << /F 11 0 R >> >>",
            11: pdfbuild.stream(b"/Type /EmbeddedFile /Filter [/FlateDecode /FlateDecode]", bomb),
        },
    )
    started = time.monotonic()
    result = found(data)
    assert time.monotonic() - started < 2
    # zeros, not MZ: an attachment, and no decoding of the gigabytes behind it
    assert result.embedded_files == ["embedded file 'a.dat' (Names/EmbeddedFiles)"]


def test_loops_through_outlines_actions_and_name_trees_end() -> None:
    data = pdfbuild.one_page_pdf(
        catalog=b"/Outlines 10 0 R /Names << /JavaScript 13 0 R >> /OpenAction 15 0 R",
        extra={
            10: b"<< /Type /Outlines /First 11 0 R /Count 2 >>",
            11: b"<< /Title (a) /Parent 10 0 R /Next 12 0 R /First 11 0 R >>",
            12: b"<< /Title (b) /Parent 10 0 R /Next 11 0 R /A << /S /Launch /F (x) >> >>",
            13: b"<< /Kids [14 0 R] >>",
            14: b"<< /Kids [13 0 R] /Names [(loop) 16 0 R] >>",
            15: b"<< /S /GoTo /D [3 0 R /Fit] /Next [15 0 R 15 0 R] >>",
            16: pdfbuild.JS,
        },
    )
    assert found(data).active == [
        "document JavaScript 'loop' (Names/JavaScript)",
        "outline item 'b': Launch action",
    ]


def test_a_deep_chain_is_reported_as_unchecked_active_content() -> None:
    depth = activecontent.MAX_CHAIN + 5
    extra = {
        10 + level: b"<< /S /GoTo /D [3 0 R /Fit] /Next %d 0 R >>" % (11 + level) for level in range(depth)
    }
    extra[10 + depth] = b"<< /S /GoTo /D [3 0 R /Fit] >>"
    result = found(pdfbuild.one_page_pdf(catalog=b"/OpenAction 10 0 R", extra=extra))
    assert result.active == [
        f"document open action (OpenAction): an action chain longer than {activecontent.MAX_CHAIN} actions "
        "(not checked)"
    ]


def test_the_walk_stops_at_its_object_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(activecontent, "MAX_VISITS", 50)
    annotations = {10 + index: b"<< /Type /Annot /Subtype /Link /Rect [0 0 1 1] >>" for index in range(60)}
    refs = b" ".join(b"%d 0 R" % number for number in annotations)
    data = pdfbuild.one_page_pdf(page=b"/Annots [%s]" % refs, extra=annotations)
    with pytest.raises(UnsafePdf) as caught:
        found(data)
    assert caught.value.code == "resource_limit"


def test_many_findings_are_capped_and_counted() -> None:
    count = activecontent.MAX_FINDINGS + 7
    annotations = {
        10 + index: b"<< /Type /Annot /Subtype /Link /Rect [0 0 1 1] /A << /S /Launch /F (x) >> >>"
        for index in range(count)
    }
    refs = b" ".join(b"%d 0 R" % number for number in annotations)
    result = found(pdfbuild.one_page_pdf(page=b"/Annots [%s]" % refs, extra=annotations))
    assert len(result.active) == activecontent.MAX_FINDINGS + 1
    assert result.active[-1] == "and 7 more"


# --- through the sandbox ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["document-javascript", "link-launch", "embedded-exe-by-magic"])
def test_inspect_pdf_refuses_active_content_naming_it(case: str) -> None:
    data, expected = ACTIVE[case]
    with pytest.raises(UnsafePdf) as caught:
        inspect_pdf(data)
    assert caught.value.code == "active_content"
    assert expected in caught.value.detail


def test_a_refusal_names_five_findings_and_counts_the_rest() -> None:
    annotations = {
        10 + index: b"<< /Type /Annot /Subtype /Link /Rect [0 0 1 1] /A << /S /Launch /F (x) >> >>"
        for index in range(8)
    }
    refs = b" ".join(b"%d 0 R" % number for number in annotations)
    with pytest.raises(UnsafePdf) as caught:
        inspect_pdf(pdfbuild.one_page_pdf(page=b"/Annots [%s]" % refs, extra=annotations))
    assert "page 1 annotation 5 (Link): Launch action; and 3 more" in caught.value.detail
    assert "annotation 6" not in caught.value.detail


def test_verification_may_inspect_active_content_without_refusing() -> None:
    data, expected = ACTIVE["open-action-javascript"]
    inspection = inspect_pdf(data, allow_active_content=True)
    assert inspection.active_content == [expected]
    assert inspection.page_count == 1


def test_navigation_and_attachments_pass_the_upload_check() -> None:
    inspection = inspect_pdf(NAVIGATION["named-and-gotor"])
    assert inspection.active_content == [] and inspection.embedded_files == []
    attached = inspect_pdf(pdfbuild.embedded_file_pdf(b"invoice.xml", b"<invoice/>"))
    assert attached.embedded_files == ["embedded file 'invoice.xml' (Names/EmbeddedFiles)"]


def test_a_real_contract_has_no_active_content(contract_pdf: bytes) -> None:
    inspection = inspect_pdf(contract_pdf)
    assert inspection.active_content == [] and inspection.embedded_files == []

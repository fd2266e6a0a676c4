"""Warnings in the verification report: active content in a signed file, and where revocation came from."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from econtract.documents.tests import pdfbuild
from econtract.verification.services import verify_pdf
from econtract.verification.tests import pki_fixtures as fx

JAVASCRIPT = "active content: document open action (OpenAction): JavaScript action"
LAUNCH = "active content: page 1 annotation 1 (Link): Launch action"


@pytest.fixture(scope="module")
def signed_with_javascript(pki: fx.ThrowawayPki) -> bytes:
    """A PAdES B-T signature over a file that runs JavaScript when opened and attaches an XML file."""
    data = pdfbuild.one_page_pdf(
        catalog=b"/OpenAction << /S /JavaScript /JS (this.print\\(\\)) >> "
        b"/Names << /EmbeddedFiles << /Names [(x) 10 0 R] >> >>",
        extra={
            10: b"<< /Type /Filespec /F (invoice.xml) /EF << /F 11 0 R >> >>",
            11: pdfbuild.stream(b"/Type /EmbeddedFile", b"<invoice/>"),
        },
    )
    return fx.sign(data, pki)


def run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def test_a_signed_file_with_javascript_is_valid_with_warnings(signed_with_javascript, pki):
    report = verify_pdf(signed_with_javascript, trust_roots=[pki.root.asn1])

    assert report.valid
    assert report.warnings == [
        JAVASCRIPT,
        "embedded file 'invoice.xml' (Names/EmbeddedFiles): signed with the document but shown on no page",
    ]
    assert report.to_dict()["warnings"] == report.warnings
    assert report.to_dict()["revocation_source"] == "embedded"


def test_a_clean_signed_file_has_no_warnings(signed, pki):
    report = verify_pdf(signed, trust_roots=[pki.root.asn1])
    assert report.valid and report.warnings == []


def test_active_content_added_after_signing_is_a_warning_and_a_change(signed, pki):
    from io import BytesIO

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(BytesIO(signed))
    action = generic.DictionaryObject(
        {pdf_name("/S"): pdf_name("/Launch"), pdf_name("/F"): generic.TextStringObject("calc.exe")}
    )
    link = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Annot"),
            pdf_name("/Subtype"): pdf_name("/Link"),
            pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 50, 50)]),
            pdf_name("/A"): action,
        }
    )
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    page[pdf_name("/Annots")] = generic.ArrayObject([writer.add_object(link)])
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)

    report = verify_pdf(out.getvalue(), trust_roots=[pki.root.asn1])

    assert LAUNCH in report.warnings
    assert not report.valid  # the change after signing is judged as such


def test_the_command_prints_warnings_and_the_revocation_source(
    signed_with_javascript, tmp_path: Path, root_pem
):
    path = tmp_path / "js.pdf"
    path.write_bytes(signed_with_javascript)

    code, out = run(str(path), "--trust-root", str(root_pem), "--no-platform-root")

    assert code == 0, out
    assert "Revocation:     judged from data embedded at signing" in out
    warnings = out.split("Warnings:\n", 1)[1]
    assert f"  - {JAVASCRIPT}" in warnings
    assert "Verdict: VALID" in out and "Read the 2 warning(s) above." in out
    assert "Problems:       none" in out  # the signature itself is fine


def test_the_command_json_has_warnings(signed_with_javascript, tmp_path: Path, root_pem):
    path = tmp_path / "js.pdf"
    path.write_bytes(signed_with_javascript)

    code, out = run(str(path), "--json", "--trust-root", str(root_pem), "--no-platform-root")

    report = json.loads(out)
    assert code == 0 and report["valid"] is True
    assert JAVASCRIPT in report["warnings"]
    assert report["revocation_source"] == "embedded"


@pytest.mark.django_db
def test_the_verify_page_shows_the_warnings(client, signed_with_javascript):
    response = client.post(
        reverse("web:verify_page"),
        {"document": SimpleUploadedFile("js.pdf", signed_with_javascript, "application/pdf")},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200  # judged, not refused like an upload for signing
    assert JAVASCRIPT in response.context["report"]["warnings"]
    page = response.content.decode()
    assert 'id="warnings"' in page and "JavaScript action" in page
    assert "judged from the data embedded at signing" in page


def test_a_dangling_reference_does_not_stop_the_walk():
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    from econtract.verification.services.activecontent import active_content_warnings

    data = pdfbuild.one_page_pdf(
        page=b"/Annots [99 0 R 10 0 R]",
        extra={10: b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /Launch /F (x) >> >>"},
    )
    # The strict reader refuses the missing object 99; viewers (and the lenient reader) skip it.
    assert active_content_warnings(PdfFileReader(io.BytesIO(data), strict=True), data) == [
        "active content: page 1 annotation 2 (Link): Launch action"
    ]

"""Hostile uploads through the API: a clear 4xx within seconds, nothing stored."""

from __future__ import annotations

import json
import time
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from econtract.signing.models import DocumentRevision, Envelope

pytestmark = pytest.mark.django_db

SPEC = json.dumps({"title": "t", "parties": [{"name": "a", "email": "a@example.test", "order": 1}]})


def _pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF with a correct xref table from numbered object bodies."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def _bomb() -> bytes:
    """A few KB that decode to 1 GiB: zeros, deflated twice."""
    compressor = zlib.compressobj(9)
    chunk = b"\0" * (1024 * 1024)
    inner = b"".join(compressor.compress(chunk) for _ in range(1024)) + compressor.flush()
    outer = zlib.compress(inner, 9)
    stream = (
        b"<< /Length %d /Filter [/FlateDecode /FlateDecode] >>\nstream\n" % len(outer)
        + outer
        + b"\nendstream"
    )
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            stream,
        ]
    )


def _looping_page_tree() -> bytes:
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
        ]
    )


@pytest.fixture
def sender_api(enterprise, api_client):
    return api_client(enterprise.memberships.get().user, enterprise)


def _upload(client, data: bytes):
    start = time.monotonic()
    response = client.post(
        "/api/v1/envelopes", {"document": SimpleUploadedFile("x.pdf", data, "application/pdf"), "spec": SPEC}
    )
    assert time.monotonic() - start < 20
    return response


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda: b"this is not a pdf", 415, "not_pdf"),
        (lambda: b"%PDF-1.7\n1 0 obj << /Type /Catalog", 422, "corrupt"),
        (_looping_page_tree, 422, "page_tree_loop"),
        (_bomb, 422, "decompression_bomb"),
    ],
    ids=["not-pdf", "truncated", "looping-page-tree", "compression-bomb"],
)
def test_hostile_pdf_is_refused_and_nothing_is_stored(sender_api, make, status, code):
    response = _upload(sender_api, make())
    assert response.status_code == status, response.content
    assert response.json()["error"] == code
    assert Envelope.objects.count() == 0 and DocumentRevision.objects.count() == 0


def test_encrypted_pdf_is_refused(sender_api, sample_pdf):
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(sample_pdf)))
    writer.encrypt("owner-secret", "user-secret")
    out = io.BytesIO()
    writer.write(out)
    assert IncrementalPdfFileWriter  # imported for clarity of the pyHanko API in use
    response = _upload(sender_api, out.getvalue())
    assert response.status_code == 422 and response.json()["error"] == "encrypted"
    assert Envelope.objects.count() == 0


def test_oversized_upload_is_refused_before_it_is_read(sender_api, settings):
    settings.ECONTRACT_MAX_UPLOAD_BYTES = 1024
    response = _upload(sender_api, b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024))
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert Envelope.objects.count() == 0


def test_fields_outside_the_page_are_refused(sender_api, sample_pdf):
    spec = json.dumps(
        {
            "title": "t",
            "parties": [{"name": "a", "email": "a@example.test", "order": 1}],
            "fields": [{"party": 0, "page": 1, "x": 500, "y": 10, "width": 300, "height": 50}],
        }
    )
    response = sender_api.post(
        "/api/v1/envelopes",
        {"document": SimpleUploadedFile("x.pdf", sample_pdf, "application/pdf"), "spec": spec},
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_envelope"
    assert Envelope.objects.count() == 0


def test_oversized_web_upload_gets_a_plain_413(client, settings):
    settings.ECONTRACT_MAX_UPLOAD_BYTES = 1024
    response = client.post(
        "/envelopes/new/", data=b"x" * (3 * 1024 * 1024), content_type="application/octet-stream"
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")
    assert Envelope.objects.count() == 0


def test_public_verify_refuses_hostile_and_unsigned_files_clearly(client):
    response = client.post(
        "/api/v1/verify", {"document": SimpleUploadedFile("x.pdf", _bomb(), "application/pdf")}
    )
    assert response.status_code == 422 and response.json()["error"] == "decompression_bomb"
    response = client.post(
        "/api/v1/verify", {"document": SimpleUploadedFile("x.pdf", b"garbage", "application/pdf")}
    )
    assert response.status_code == 415 and response.json()["error"] == "not_pdf"


def test_public_verify_reports_an_unsigned_pdf_as_not_valid(client, sample_pdf):
    response = client.post(
        "/api/v1/verify", {"document": SimpleUploadedFile("x.pdf", sample_pdf, "application/pdf")}
    )
    assert response.status_code == 200
    assert response.json()["valid"] is False and response.json()["signatures"] == []


def test_public_verify_is_rate_limited_per_address(client, sample_pdf, settings):
    from econtract.verification import platform

    statuses = []
    for _ in range(platform.VERIFICATIONS_PER_MINUTE + 1):
        response = client.post(
            "/api/v1/verify", {"document": SimpleUploadedFile("x.pdf", b"nope", "application/pdf")}
        )
        statuses.append(response.status_code)
    assert statuses[:-1] == [415] * platform.VERIFICATIONS_PER_MINUTE
    assert statuses[-1] == 429
    assert (
        client.post(
            "/api/v1/verify", {"document": SimpleUploadedFile("x.pdf", b"x", "application/pdf")}
        ).json()["error"]
        == "rate_limited"
    )

"""An imported PDF is a fixed document: checked as an envelope upload is, kept byte for byte, read and
commented but never edited, and sent for signing with parties whose fields the sender places."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from econtract.documents import authoring
from econtract.documents.errors import DocumentNotEditable, InvalidDocument
from econtract.documents.models import Document
from econtract.documents.tests import pdfbuild
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext
from econtract.signing.models import Envelope, SignatureField

pytestmark = pytest.mark.django_db


@pytest.fixture
def sender(enterprise):
    return enterprise.memberships.get().user


@pytest.fixture
def sender_api(sender, enterprise, api_client):
    return api_client(sender, enterprise)


def import_pdf(api, data: bytes, name: str = "采购合同.pdf"):
    return api.post("/api/v1/documents/import", {"file": SimpleUploadedFile(name, data, "application/pdf")})


def _json(api, method, url, body):
    return getattr(api, method)(url, body, content_type="application/json")


def test_a_pdf_becomes_a_fixed_document_kept_byte_for_byte(sender_api, sample_pdf):
    # When a PDF is imported
    response = import_pdf(sender_api, sample_pdf)
    # Then it is a draft of one version, named after the file, with no HTML
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["version"] == 1 and created["messages"] == []
    url = f"/api/v1/documents/{created['id']}"
    document = sender_api.get(url).json()
    assert document["fixed"] is True and document["html"] == "" and document["title"] == "采购合同"
    stored = Document.objects.get(pk=created["id"])
    assert stored.is_fixed and stored.fixed_pdf_pages == 2
    assert stored.fixed_pdf_sha256 == hashlib.sha256(sample_pdf).hexdigest()
    assert stored.fixed_pdf_name == f"documents/fixed/{stored.pk}.pdf"
    event = Event.objects.get(kind="document_created", subject_id=str(stored.pk))
    assert event.document_sha256 == stored.fixed_pdf_sha256
    # and its PDF is the very bytes imported
    pdf = sender_api.get(f"{url}/pdf")
    assert pdf.status_code == 200 and pdf.content == sample_pdf
    assert pdf["X-Document-SHA256"] == hashlib.sha256(sample_pdf).hexdigest()
    # and it cannot be edited, restored or exported as DOCX
    response = _json(sender_api, "put", url, {"html": "<p>changed</p>", "base_version": 1})
    assert response.status_code == 409
    assert response.json() == {
        "error": "document_not_editable",
        "detail": "a PDF document is fixed; it cannot be edited",
    }
    assert sender_api.post(f"{url}/versions/1/restore").status_code == 409
    docx = sender_api.get(f"{url}/docx")
    assert docx.status_code == 409 and docx.json()["error"] == "fixed_document"
    # and its page setup stays, while its title and kind may change
    assert _json(sender_api, "patch", url, {"page_size": "Letter"}).status_code == 409
    renamed = _json(sender_api, "patch", url, {"title": "采购合同 2026", "kind": "agreement"})
    assert renamed.status_code == 200 and renamed.json()["title"] == "采购合同 2026"
    # and comments work (unanchored: there is no text to quote), and the diff of its one version is empty
    comment = _json(sender_api, "post", f"{url}/comments", {"body": "第二页的金额请核对"})
    assert comment.status_code == 201, comment.content
    assert sender_api.get(f"{url}/diff?from=1&to=1").json()["changes"] == []
    assert Document.objects.get(pk=created["id"]).current_version == 1


def test_sending_a_fixed_document_makes_a_draft_with_its_bytes_and_parties_without_fields(
    sender_api, sample_pdf
):
    document_id = import_pdf(sender_api, sample_pdf).json()["id"]
    url = f"/api/v1/documents/{document_id}"
    parties = [
        {"role": "party_1", "name": "张三", "email": "first@example.test"},
        {"role": "party_2", "name": "李四", "email": "second@example.test", "order": 2},
    ]
    # a draft is not sent
    response = _json(sender_api, "post", f"{url}/envelope", {"parties": parties})
    assert response.status_code == 409 and response.json()["error"] == "document_not_final"
    assert _json(sender_api, "post", f"{url}/status", {"status": "final"}).status_code == 200
    # When the final PDF is sent for signing with two parties (free role labels, no fields to match)
    response = _json(sender_api, "post", f"{url}/envelope", {"parties": parties})
    # Then a draft envelope holds the imported bytes, the parties, and no fields yet
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft" and body["fields"] == []
    assert [(p["name"], p["email"]) for p in body["parties"]] == [
        ("张三", "first@example.test"),
        ("李四", "second@example.test"),
    ]
    envelope = Envelope.objects.get(pk=body["id"])
    assert envelope.original_sha256 == hashlib.sha256(sample_pdf).hexdigest()
    assert envelope.current_document().read_bytes() == sample_pdf
    assert envelope.page_count == 2
    assert not SignatureField.objects.filter(envelope=envelope).exists()
    assert Event.objects.filter(kind="document_sent_for_signing", subject_id=document_id).count() == 1


def stored_fixed_files() -> set[str]:
    if not default_storage.exists("documents/fixed"):
        return set()
    return set(default_storage.listdir("documents/fixed")[1])


def test_a_hostile_pdf_is_refused_as_an_envelope_upload_is(sender_api):
    data, finding = pdfbuild.active_content_cases()["open-action-javascript"]
    files_before = stored_fixed_files()
    # When a PDF carrying JavaScript is imported as a document
    response = import_pdf(sender_api, data, "hostile.pdf")
    # Then it is refused with the code and status an envelope upload of the same file gets
    envelope = sender_api.post(
        "/api/v1/envelopes",
        {
            "document": SimpleUploadedFile("hostile.pdf", data, "application/pdf"),
            "spec": '{"title": "t", "parties": [{"name": "a", "email": "a@example.test", "order": 1}]}',
        },
    )
    assert envelope.status_code == 422 and envelope.json()["error"] == "active_content"
    assert response.status_code == envelope.status_code
    assert response.json()["error"] == "active_content" and finding in response.json()["detail"]
    # and nothing was stored
    assert not Document.objects.exists()
    assert stored_fixed_files() == files_before


def test_a_file_named_pdf_that_is_not_one_is_refused(sender_api):
    response = import_pdf(sender_api, b"<p>not a pdf</p>", "contract.pdf")
    assert response.status_code == 415 and response.json()["error"] == "not_pdf"
    assert not Document.objects.exists()


def test_the_service_refuses_editing_a_fixed_document(sender, enterprise, sample_pdf):
    context = RequestContext.system("test")
    document, _ = authoring.import_file(
        sender, enterprise, filename="x.pdf", data=sample_pdf, title="Fixed", context=context
    )
    with pytest.raises(DocumentNotEditable, match="fixed"):
        authoring.save_version(document, sender, html="<p>x</p>", base_version=1, context=context)
    with pytest.raises(DocumentNotEditable, match="fixed"):
        authoring.restore_version(document, sender, 1, context)
    with pytest.raises(DocumentNotEditable, match="page setup"):
        authoring.update_settings(document, sender, context=context, margins={"top": 30})
    with pytest.raises(InvalidDocument) as caught:
        authoring.export_docx(document, sender)
    assert caught.value.code == "fixed_document"
    rendered = authoring.render_version(document, sender)
    assert rendered.pdf == sample_pdf and rendered.fields == [] and rendered.page_count == 2
    assert rendered.page_size == (595.28, 841.89)
    # the stored bytes are checked against their hash when read
    with default_storage.open(document.fixed_pdf_name, "wb") as handle:
        handle.write(sample_pdf + b"\n% appended\n")
    with pytest.raises(InvalidDocument) as caught:
        authoring.render_version(document, sender)
    assert caught.value.code == "fixed_pdf_damaged"

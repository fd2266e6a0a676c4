"""Page setup of a document (PATCH /api/v1/documents/{id}): page size, margins, header and footer reach
the rendered PDF; a final document, unsafe text and someone else's document are refused; a change of
setup never leaves a stale preview behind."""

from __future__ import annotations

import subprocess

import pypdfium2 as pdfium
import pytest

from econtract.accounts.services import add_member
from econtract.documents import authoring, previews
from econtract.documents.errors import InvalidDocument
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext

pytestmark = pytest.mark.django_db


@pytest.fixture
def author(make_user, enterprise):
    user = make_user("author@acme.test", "王五 Wang Wu")
    add_member(enterprise, user)
    return user


@pytest.fixture
def author_api(author, enterprise, api_client):
    return api_client(author, enterprise)


@pytest.fixture
def document_id(author_api):
    response = author_api.post(
        "/api/v1/documents",
        {"title": "买卖合同", "kind": "contract", "html": "<p>甲方应于三十日内付款。</p>"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def patch(api, document_id, body):
    return api.patch(f"/api/v1/documents/{document_id}", body, content_type="application/json")


def first_page_size(pdf: bytes) -> tuple[float, float]:
    document = pdfium.PdfDocument(pdf)
    try:
        width, height = document[0].get_size()
    finally:
        document.close()
    return round(width, 2), round(height, 2)


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True).stdout.decode()


def test_patch_changes_header_page_size_and_margins_of_the_pdf(author_api, document_id, tmp_path):
    url = f"/api/v1/documents/{document_id}"
    # Given an A4 document with the default margins
    before = author_api.get(url).json()
    assert (before["page_size"], before["header"], before["footer"]) == ("A4", "", "")
    assert before["margins"] == {"top": 25, "right": 20, "bottom": 25, "left": 20}
    assert first_page_size(author_api.get(f"{url}/pdf").content) == (595.28, 841.89)
    # When its page setup is changed
    response = patch(
        author_api,
        document_id,
        {"page_size": "Letter", "header": "Acme 科技 No. 2026-7", "footer": "机密", "margins": {"left": 30}},
    )
    # Then the answer is the document with its new setup (a side left out is kept)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["page_size"], body["header"], body["footer"]) == ("Letter", "Acme 科技 No. 2026-7", "机密")
    assert body["margins"] == {"top": 25, "right": 20, "bottom": 25, "left": 30}
    assert body["title"] == "买卖合同" and body["version"] == 1  # no new version: the text is unchanged
    # and the PDF is Letter (612 x 792 points) with the header and footer on its page
    pdf = author_api.get(f"{url}/pdf").content
    assert first_page_size(pdf) == (612.0, 792.0)
    text = pdf_text(pdf, tmp_path)
    assert "Acme 科技 No. 2026-7" in text and "机密" in text
    # and the change is an evidence event naming the fields
    event = Event.objects.get(kind="document_settings_changed")
    assert sorted(event.payload["fields"]) == ["footer", "header", "margins", "page_size"]
    # and the same request again changes nothing and records nothing
    again = patch(author_api, document_id, {"page_size": "Letter", "margins": {"left": 30}})
    assert again.status_code == 200
    assert Event.objects.filter(kind="document_settings_changed").count() == 1


def test_margins_change_the_layout(author_api, document_id):
    url = f"/api/v1/documents/{document_id}"
    before = author_api.get(f"{url}/pdf")["X-Document-SHA256"]
    assert patch(author_api, document_id, {"margins": {"top": 60, "bottom": 5}}).status_code == 200
    after = author_api.get(f"{url}/pdf")["X-Document-SHA256"]
    assert after != before
    # and going back gives the same bytes as before: the setup is all that changed
    assert patch(author_api, document_id, {"margins": {"top": 25, "bottom": 25}}).status_code == 200
    assert author_api.get(f"{url}/pdf")["X-Document-SHA256"] == before


def test_title_kind_and_language_are_settings_too(author_api, document_id):
    response = patch(
        author_api, document_id, {"title": "  采购合同  ", "kind": "agreement", "language": "en"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["kind"], body["language"]) == ("采购合同", "agreement", "en")


def test_a_final_document_refuses_its_settings(author_api, document_id):
    assert (
        author_api.post(
            f"/api/v1/documents/{document_id}/status", {"status": "final"}, content_type="application/json"
        ).status_code
        == 200
    )
    response = patch(author_api, document_id, {"header": "new"})
    assert response.status_code == 409
    assert response.json()["error"] == "document_not_editable"
    assert author_api.get(f"/api/v1/documents/{document_id}").json()["header"] == ""


def test_unsafe_header_and_bad_margins_are_refused(author_api, document_id):
    # a control character: refused by the schema's text type
    response = patch(author_api, document_id, {"header": "Acme\x1b[2J"})
    assert response.status_code in (400, 422) and response.json()["error"] in (
        "invalid_request",
        "invalid_text",
    )
    # a right-to-left mark passes as text but not as a printed header (the renderer's CSS string rules)
    response = patch(author_api, document_id, {"footer": "Acme\u200fX"})
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "render_invalid_setup"
    # a margin outside 5..60 mm
    assert patch(author_api, document_id, {"margins": {"top": 4}}).status_code == 422
    assert patch(author_api, document_id, {"margins": {"top": 61}}).status_code == 422
    assert patch(author_api, document_id, {"page_size": "A3"}).status_code == 422
    document = author_api.get(f"/api/v1/documents/{document_id}").json()
    assert document["header"] == "" and document["footer"] == "" and document["margins"]["top"] == 25


def test_the_service_refuses_what_the_schema_would(author, document_id):
    document = authoring.visible_document(author, document_id)
    context = RequestContext.system("test")
    with pytest.raises(InvalidDocument) as caught:
        authoring.update_settings(document, author, context=context, header="a\x00b")
    assert caught.value.code == "unsafe_text"
    with pytest.raises(InvalidDocument) as caught:
        authoring.update_settings(document, author, context=context, margins={"top": 4})
    assert caught.value.code == "invalid_page_setup"
    with pytest.raises(InvalidDocument):
        authoring.update_settings(document, author, context=context, margins={"middle": 10})
    with pytest.raises(InvalidDocument):
        authoring.update_settings(document, author, context=context, title="   ")


def test_another_organisations_document_is_not_found(document_id, make_user, api_client, enterprise):
    from econtract.accounts.services import create_enterprise

    stranger = make_user("stranger@example.test")
    create_enterprise("Other 有限公司", stranger)
    response = patch(api_client(stranger), document_id, {"header": "mine"})
    assert response.status_code == 404
    # a member who only views it may not change it either
    viewer = make_user("viewer@acme.test")
    add_member(enterprise, viewer, role="member")
    owner = enterprise.memberships.get(role="owner").user
    authoring.share(
        authoring.visible_document(owner, document_id),
        owner,
        email=viewer.email,
        right="view",
        context=RequestContext.system("test"),
    )
    response = patch(api_client(viewer, enterprise), document_id, {"header": "mine"})
    assert response.status_code == 403


def test_a_setup_change_never_serves_a_stale_preview(
    author, author_api, document_id, django_capture_on_commit_callbacks
):
    document = authoring.visible_document(author, document_id)
    # Given an A4 preview laid out and kept in storage, with its first page picture
    assert first_page_size(previews.preview_pdf(document, author, 1)) == (595.28, 841.89)
    a4_picture = previews.preview_page_png(document, author, 1, 1)
    # When the page size becomes Letter
    with django_capture_on_commit_callbacks(execute=True):
        assert patch(author_api, document_id, {"page_size": "Letter"}).status_code == 200
    # Then the preview of the same version is laid out again, on Letter pages
    document.refresh_from_db()
    assert first_page_size(previews.preview_pdf(document, author, 1)) == (612.0, 792.0)
    assert previews.preview_page_png(document, author, 1, 1) != a4_picture

"""The documents API contract: POST/PUT with optimistic locking, versions, comments, who sees what."""

from __future__ import annotations

import pytest

from econtract.accounts.services import add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def author_api(make_user, enterprise, api_client):
    user = make_user("author@acme.test", "王五 Wang Wu")
    add_member(enterprise, user)
    return api_client(user, enterprise)


def _create(api, html="<p>甲方应于三十日内付款。</p>"):
    response = api.post(
        "/api/v1/documents",
        {"title": "买卖合同", "kind": "contract", "html": html},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_create_save_and_conflict(author_api):
    # Given a new document
    created = _create(author_api)
    assert created["version"] == 1
    url = f"/api/v1/documents/{created['id']}"
    # When it is saved on top of version 1, then version 2
    response = author_api.put(
        url, {"html": "<p>甲方应于六十日内付款。</p>", "base_version": 1}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json() == {"version": 2}
    # and saving again on top of version 1 is a conflict carrying the latest version and its HTML
    response = author_api.put(
        url, {"html": "<p>mine</p>", "base_version": 1}, content_type="application/json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "version_conflict" and body["current_version"] == 2
    assert "六十" in body["current_html"]
    # and the document reads as version 2, with two versions listed, newest first
    assert author_api.get(url).json()["version"] == 2
    versions = author_api.get(f"{url}/versions").json()["items"]
    assert [v["number"] for v in versions] == [2, 1]


def test_comments_with_replies_and_resolution(author_api):
    created = _create(author_api)
    url = f"/api/v1/documents/{created['id']}/comments"
    first = author_api.post(
        url, {"body": "三十日太短", "quote": "三十日", "start": 4, "end": 7}, content_type="application/json"
    )
    assert first.status_code == 201, first.content
    reply = author_api.post(
        url, {"body": "同意", "reply_to": first.json()["id"]}, content_type="application/json"
    )
    assert reply.status_code == 201 and reply.json()["reply_to"] == first.json()["id"]
    resolved = author_api.post(f"{url}/{first.json()['id']}/resolve")
    assert resolved.status_code == 200 and resolved.json()["resolved_at"]
    assert len(author_api.get(url).json()) == 2


def test_someone_else_gets_404_and_bad_input_400(author_api, make_user, api_client):
    created = _create(author_api)
    stranger = api_client(make_user("stranger@example.test"))
    url = f"/api/v1/documents/{created['id']}"
    assert stranger.get(url).status_code == 404
    assert (
        stranger.put(
            url, {"html": "<p>x</p>", "base_version": 1}, content_type="application/json"
        ).status_code
        == 404
    )
    assert stranger.get(f"{url}/versions").status_code == 404
    # bad input: an unknown kind, a control character in the title, an oversized number
    response = author_api.post(
        "/api/v1/documents",
        {"title": "x", "kind": "poem", "html": "<p>x</p>"},
        content_type="application/json",
    )
    assert response.status_code == 422
    response = author_api.post(
        "/api/v1/documents",
        {"title": "a\x1bb", "kind": "contract", "html": "<p>x</p>"},
        content_type="application/json",
    )
    assert response.status_code in (400, 422)
    response = author_api.put(
        url, {"html": "<p>x</p>", "base_version": 2**40}, content_type="application/json"
    )
    assert response.status_code == 422


def test_diff_between_versions_marks_words_and_characters(author_api):
    created = _create(author_api, "<p>甲方应于三十日内付款。The buyer pays within thirty days.</p>")
    url = f"/api/v1/documents/{created['id']}"
    author_api.put(
        url,
        {"html": "<p>甲方应于六十日内付款。The buyer pays within sixty days.</p>", "base_version": 1},
        content_type="application/json",
    )
    diff = author_api.get(f"{url}/diff?from=1&to=2").json()
    changes = {(c["kind"], c["text"]) for c in diff["changes"]}
    assert {("delete", "三"), ("insert", "六"), ("delete", "thirty"), ("insert", "sixty")} <= changes
    assert "<ins>" in diff["html"] and "<del>" in diff["html"]
    assert author_api.get(f"{url}/diff?from=1&to=9").status_code == 404


def test_the_pdf_is_the_same_bytes_every_time(author_api):
    created = _create(author_api)
    url = f"/api/v1/documents/{created['id']}/pdf"
    first, second = author_api.get(url), author_api.get(url)
    assert first.status_code == 200 and first.content.startswith(b"%PDF-")
    assert first.content == second.content and first["X-Document-SHA256"] == second["X-Document-SHA256"]


def test_a_template_lists_its_variables_and_fields_and_fills_a_new_document(author_api):
    html = (
        "<h1>买卖合同</h1><p>买方：{{ buyer.name }}，地址 {{ text: buyer_address }}</p>"
        "<p>价款：{{ total | money }} 元（大写：{{ total | money_capital }}）</p>"
        "<p>买方签字：{{ signature: buyer }} 日期：{{ date_signed: buyer }}</p>"
    )
    response = author_api.post(
        "/api/v1/templates", {"title": "买卖合同模板", "html": html}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    template = response.json()
    assert {(v["name"], v["type"]) for v in template["variables"]} == {("buyer", "party"), ("total", "money")}
    assert {(f["kind"], f["party"], f["name"]) for f in template["fields"]} == {
        ("text", "buyer", "buyer_address"),
        ("signature", "buyer", "signature_buyer"),
        ("date_signed", "buyer", "date_signed_buyer"),
    }
    # the organisation's template is listed beside the built-in ones
    listed = author_api.get("/api/v1/templates").json()["items"]
    assert template["id"] in {t["id"] for t in listed}
    assert any(t["builtin"] for t in listed)
    # filling it: a JSON number keeps its digits; a script in a value stays text
    response = author_api.post(
        f"/api/v1/templates/{template['id']}/documents",
        {"values": {"buyer": {"name": "<script>x</script>福州公司"}, "total": 12345.67}},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    document = author_api.get(f"/api/v1/documents/{response.json()['id']}").json()
    assert "壹万贰仟叁佰肆拾伍元陆角柒分" in document["html"] and "12,345.67" in document["html"]
    assert "<script>" not in document["html"] and "福州公司" in document["html"]
    assert "{{ signature: buyer }}" in document["html"]  # fields stay placeholders: editable in any editor
    # a value missing, or a template with a broken placeholder, is a clear 400
    response = author_api.post(
        f"/api/v1/templates/{template['id']}/documents", {"values": {}}, content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["error"] == "template_value"
    response = author_api.post(
        "/api/v1/templates", {"title": "x", "html": "<p>{{ buyer. }}</p>"}, content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["error"] == "template_syntax"


def test_a_docx_is_imported_as_a_draft_and_exported_back(author_api):
    import io

    import docx
    from django.core.files.uploadedfile import SimpleUploadedFile

    # Given a Word document with a heading, a list and a table
    source = docx.Document()
    source.add_heading("保密协议 NDA", level=1)
    source.add_paragraph("第一条 保密信息", style="List Number")
    table = source.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "甲方", "乙方"
    buffer = io.BytesIO()
    source.save(buffer)
    # When it is imported
    response = author_api.post(
        "/api/v1/documents/import", {"file": SimpleUploadedFile("nda.docx", buffer.getvalue())}
    )
    # Then a draft exists with its heading, list and table
    assert response.status_code == 201, response.content
    document = author_api.get(f"/api/v1/documents/{response.json()['id']}").json()
    assert document["title"] == "nda" and "<h1>保密协议 NDA</h1>" in document["html"]
    assert (
        "<ol><li>第一条 保密信息</li></ol>" in document["html"] and "<td><p>甲方</p></td>" in document["html"]
    )
    # and exported back as DOCX, Word reads the same heading and table
    exported = author_api.get(f"/api/v1/documents/{document['id']}/docx")
    assert exported.status_code == 200
    again = docx.Document(io.BytesIO(exported.content))
    assert any(p.text == "保密协议 NDA" and p.style.name == "Heading 1" for p in again.paragraphs)
    assert again.tables[0].rows[0].cells[0].text == "甲方"
    # and something that is neither DOCX nor UTF-8 HTML is refused
    response = author_api.post(
        "/api/v1/documents/import", {"file": SimpleUploadedFile("x.bin", b"\xff\xfe\x00garbage")}
    )
    assert response.status_code == 415 and response.json()["error"] == "unsupported_file"

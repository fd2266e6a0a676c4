"""The document pages: what each shows and does, who may see them, and what bad input gets."""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from econtract.documents import authoring
from econtract.documents.models import Collaborator, Comment, Document, Template
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext
from econtract.signing.models import Envelope, SignatureField

pytestmark = pytest.mark.django_db

CONTRACT = (
    "<h1>买卖合同 Sales contract</h1><p>The buyer pays 100 yuan.</p>"
    "<p>{{ text: buyer_address }}</p><p>{{ signature: buyer }}</p><p>{{ seal: seller }}</p>"
)


@pytest.fixture
def author(enterprise):
    return enterprise.memberships.get().user


@pytest.fixture
def document(enterprise, author):
    return authoring.create_document(
        author,
        enterprise,
        title="买卖合同",
        kind="contract",
        html=CONTRACT,
        context=RequestContext.system("test"),
    )


def browser(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_the_list_shows_her_documents_and_the_built_in_templates(author, document):
    page = browser(author).get(reverse("web:documents"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "买卖合同" in body
    assert reverse("web:document_edit", args=[document.pk]) in body
    assert Template.objects.filter(organization__isnull=True).count() >= 8
    assert (
        reverse("web:template_fill", args=[Template.objects.filter(organization__isnull=True).first().pk])
        in body
    )


def test_a_blank_document_opens_in_the_editor(author, enterprise):
    client = browser(author)
    answer = client.post(
        reverse("web:document_new"),
        {"title": "通知 <b>Notice</b>", "kind": "announcement", "organization": enterprise.pk},
    )
    document = Document.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse(
        "web:document_edit", args=[document.pk]
    )
    # the title is text in the first heading, never markup
    assert document.latest().html == "<h1>通知 &lt;b&gt;Notice&lt;/b&gt;</h1><p></p>"
    page = client.get(answer["Location"])
    body = page.content.decode()
    assert 'id="document-editor"' in body and f'data-version="{document.current_version}"' in body
    assert f'data-save-url="/api/v1/documents/{document.pk}"' in body
    assert 'type="module"' in body and "web/document-editor.js" in body
    assert 'id="editor-catalog" type="application/json"' in body


def test_a_document_in_another_organisation_is_not_found(document, make_user):
    stranger = browser(make_user("stranger@other.test"))
    for name in (
        "web:document_edit",
        "web:document_versions",
        "web:document_diff",
        "web:document_preview",
        "web:document_send",
    ):
        assert stranger.get(reverse(name, args=[document.pk])).status_code == 404, name
    assert (
        stranger.post(reverse("web:document_status", args=[document.pk]), {"status": "final"}).status_code
        == 404
    )
    assert (
        stranger.post(reverse("web:document_comment", args=[document.pk]), {"body": "x"}).status_code == 404
    )
    document.refresh_from_db()
    assert document.status == Document.Status.DRAFT and not Comment.objects.exists()


def test_a_viewer_reads_without_the_editor(document, author, make_user):
    viewer = make_user("viewer@acme.test")
    authoring.share(document, author, email=viewer.email, right="view", context=RequestContext.system("test"))
    page = browser(viewer).get(reverse("web:document_edit", args=[document.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'id="document-read"' in body and 'id="document-editor"' not in body
    assert 'id="comment-form"' not in body  # view only: no comments either
    assert "The buyer pays 100 yuan." in body


def test_a_final_document_is_not_editable_and_offers_sending(document, author):
    client = browser(author)
    assert (
        client.post(reverse("web:document_status", args=[document.pk]), {"status": "final"}).status_code
        == 302
    )
    document.refresh_from_db()
    assert document.status == Document.Status.FINAL
    body = client.get(reverse("web:document_edit", args=[document.pk])).content.decode()
    assert 'id="document-editor"' not in body and 'id="send-for-signing"' in body
    # a transition the rules do not allow is a message, not a change
    answer = client.post(
        reverse("web:document_status", args=[document.pk]), {"status": "in_review"}, follow=True
    )
    assert "cannot become" in answer.content.decode()
    document.refresh_from_db()
    assert document.status == Document.Status.FINAL


def test_comments_quote_the_text_reply_and_resolve(document, author):
    client = browser(author)
    url = reverse("web:document_comment", args=[document.pk])
    assert client.post(url, {"body": "Which currency?", "quote": "100 yuan"}).status_code == 302
    thread = Comment.objects.get()
    assert (thread.quote, thread.start, thread.end) == ("100 yuan", 34, 42)
    client.post(url, {"body": "RMB.", "parent": str(thread.pk)})
    assert thread.replies.get().body == "RMB."
    # a quote that is not in the saved text is refused, and nothing stored
    answer = client.post(url, {"body": "?", "quote": "not in the text"}, follow=True)
    assert Comment.objects.count() == 2 and "not in that version" in answer.content.decode()
    client.post(reverse("web:document_comment_resolve", args=[document.pk, thread.pk]))
    thread.refresh_from_db()
    assert thread.resolved_at is not None
    body = client.get(reverse("web:document_edit", args=[document.pk])).content.decode()
    assert "Resolved by" in body and "Which currency?" in body


def test_sharing_gives_a_right(document, author, make_user):
    colleague = make_user("colleague@acme.test")
    client = browser(author)
    client.post(
        reverse("web:document_share", args=[document.pk]), {"email": colleague.email, "right": "edit"}
    )
    assert Collaborator.objects.get(document=document, user=colleague).right == "edit"
    answer = client.post(
        reverse("web:document_share", args=[document.pk]),
        {"email": "nobody@acme.test", "right": "edit"},
        follow=True,
    )
    assert "no account has this email" in answer.content.decode()


def test_versions_restore_and_diff(document, author):
    ctx = RequestContext.system("test")
    authoring.save_version(
        document, author, html=CONTRACT.replace("100 yuan", "200 元"), base_version=1, context=ctx
    )
    client = browser(author)
    page = client.get(reverse("web:document_versions", args=[document.pk]))
    assert page.status_code == 200 and 'id="version-2"' in page.content.decode()
    diff = client.get(reverse("web:document_diff", args=[document.pk]), {"from": 1, "to": 2}).content.decode()
    assert "<ins>200</ins>" in diff.replace(" ", "") or "<ins>" in diff
    assert "<del>" in diff and "元" in diff
    bad = client.get(reverse("web:document_diff", args=[document.pk]), {"from": 1, "to": 99})
    assert bad.status_code == 400 and "no version 99" in bad.content.decode()
    garbage = client.get(reverse("web:document_diff", args=[document.pk]), {"from": "x", "to": "-3"})
    assert garbage.status_code == 200  # unreadable numbers fall back to the latest two versions
    client.post(reverse("web:document_restore", args=[document.pk, 1]))
    document.refresh_from_db()
    assert document.current_version == 3 and document.latest().restored_from == 1
    assert "100 yuan" in document.latest().html


def test_preview_pages_are_rendered_once_per_version(document, author, django_capture_on_commit_callbacks):
    client = browser(author)
    page = client.get(reverse("web:document_preview", args=[document.pk]))
    assert page.status_code == 200
    image_url = reverse("web:document_page_image", args=[document.pk, 1, 1])
    assert image_url in page.content.decode()
    png = client.get(image_url)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert client.get(image_url).content == png.content  # from storage the second time
    assert client.get(reverse("web:document_page_image", args=[document.pk, 1, 9])).status_code == 404
    assert client.get(reverse("web:document_page_image", args=[document.pk, 7, 1])).status_code == 404


def test_a_template_form_fills_a_new_document(author, enterprise):
    template = authoring_template(author, enterprise)
    client = browser(author)
    page = client.get(reverse("web:template_fill", args=[template.pk]))
    body = page.content.decode()
    assert 'name="buyer__name"' in body and 'type="date"' in body and 'name="price"' in body
    answer = client.post(
        reverse("web:template_fill", args=[template.pk]),
        {
            "title": "Order 7",
            "organization": enterprise.pk,
            "buyer__name": "李四 <script>",
            "price": "10010.10",
            "signed_on": "2026-12-02",
            "currency": "CNY",
        },
    )
    assert answer.status_code == 302
    html = Document.objects.get(title="Order 7").latest().html
    assert "李四 &lt;script&gt;" in html and "壹万零壹拾元零壹角整" in html and "2026年12月2日" in html
    assert "{{ signature: buyer }}" in html
    bad = client.post(
        reverse("web:template_fill", args=[template.pk]),
        {
            "title": "Bad",
            "organization": enterprise.pk,
            "buyer__name": "x",
            "price": "1e999999",
            "signed_on": "2026-12-02",
            "currency": "CNY",
        },
    )
    assert bad.status_code == 200 and not Document.objects.filter(title="Bad").exists()


def authoring_template(author, enterprise):
    from econtract.documents.templating import create_template

    return create_template(
        author,
        enterprise,
        title="Order",
        html=(
            "<p>Buyer {{ buyer.name }} pays {{ price | money_capital }} ({{ currency | choice: CNY, USD }}) "
            "on {{ signed_on | date_cn }}.</p><p>{{ signature: buyer }}</p>"
        ),
        context=RequestContext.system("test"),
    )


def test_import_a_docx_opens_it_in_the_editor(author, enterprise):
    import docx

    word = docx.Document()
    word.add_heading("导入的合同", level=1)
    word.add_paragraph("First clause.", style="List Number")
    buffer = io.BytesIO()
    word.save(buffer)
    upload = io.BytesIO(buffer.getvalue())
    upload.name = "contract.docx"
    client = browser(author)
    answer = client.post(reverse("web:document_import"), {"file": upload, "organization": enterprise.pk})
    assert answer.status_code == 302
    html = Document.objects.get().latest().html
    assert "<h1>导入的合同</h1>" in html and "<ol><li>" in html
    junk = io.BytesIO(b"\xff\xfe not a document")
    junk.name = "x.docx"
    refused = client.post(reverse("web:document_import"), {"file": junk, "organization": enterprise.pk})
    assert refused.status_code == 400 and Document.objects.count() == 1


def test_send_for_signing_asks_for_each_role_and_makes_the_envelope(document, author, enterprise, make_user):
    buyer = make_user("buyer@example.test", "李四 Li Si")
    client = browser(author)
    assert client.get(reverse("web:document_send", args=[document.pk])).status_code == 200
    # not final yet: the service refuses, the page says so, nothing is made
    data = {
        "title": "",
        "buyer__name": buyer.full_name,
        "buyer__email": buyer.email,
        "buyer__kind": "person",
        "buyer__order": 1,
        "seller__name": enterprise.name,
        "seller__email": author.email,
        "seller__kind": "organization",
        "seller__uscc": "91350100M000100Y43",
        "seller__order": 2,
    }
    refused = client.post(reverse("web:document_send", args=[document.pk]), data)
    assert (
        refused.status_code == 400 and "final" in refused.content.decode() and not Envelope.objects.exists()
    )
    authoring.set_status(document, author, "final", RequestContext.system("test"))
    page = client.get(reverse("web:document_send", args=[document.pk])).content.decode()
    assert 'id="role-buyer"' in page and 'id="role-seller"' in page
    assert 'value="organization" selected' in page  # a role with a seal field signs as an organisation
    answer = client.post(reverse("web:document_send", args=[document.pk]), data)
    assert answer.status_code == 302, answer.content.decode()[-3000:]
    envelope = Envelope.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse(
        "web:envelope_edit", args=[envelope.pk]
    )
    assert envelope.title == document.title
    fields = sorted(SignatureField.objects.filter(envelope=envelope).values_list("kind", "party__email"))
    assert fields == [("seal", author.email), ("signature", buyer.email), ("text", buyer.email)]
    assert Event.objects.filter(kind="document_sent_for_signing").count() == 1


def test_a_document_without_fields_cannot_be_sent(enterprise, author):
    document = authoring.create_document(
        author,
        enterprise,
        title="Memo",
        kind="other",
        html="<p>No fields.</p>",
        context=RequestContext.system("test"),
    )
    page = browser(author).get(reverse("web:document_send", args=[document.pk]))
    assert page.status_code == 200 and "no signer fields" in page.content.decode()
    assert 'id="send-form"' not in page.content.decode()


def test_the_editor_catalog_is_translated(document, author):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(author)
    body = client.get(reverse("web:document_edit", args=[document.pk])).content.decode()
    start = body.index('id="editor-catalog" type="application/json">') + len(
        'id="editor-catalog" type="application/json">'
    )
    catalog = json.loads(body[start : body.index("</script>", start)])
    assert catalog["Page break"] == "分页符" and catalog["Insert Table"] == "插入表格"

"""The document page's page setup and "Save as template" forms, and an imported PDF on the web: its
pages shown instead of the editor, and sent with one or two parties to the envelope's field editor."""

from __future__ import annotations

import io

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from econtract.accounts.services import add_member
from econtract.documents import authoring
from econtract.documents.models import Document, Template
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext
from econtract.signing.models import Envelope, SignatureField

pytestmark = pytest.mark.django_db

CONTRACT = (
    "<h1>买卖合同</h1><p>买方 {{ buyer.name }} 支付 {{ price | money_capital }}，"
    "于 {{ signed_on | date_cn }} 前。</p><p>{{ signature: buyer }}</p><p>{{ seal: seller }}</p>"
)
SETUP = {
    "title": "买卖合同 2026",
    "kind": "agreement",
    "page_size": "Letter",
    "language": "en",
    "header": "Acme 科技",
    "footer": "Confidential",
    "margin_top": 30,
    "margin_right": 15,
    "margin_bottom": 30,
    "margin_left": 15,
}


@pytest.fixture
def author(enterprise):
    return enterprise.memberships.get().user


@pytest.fixture
def plain(enterprise, author):
    return authoring.create_document(
        author,
        enterprise,
        title="买卖合同",
        kind="contract",
        html="<p>甲方应于三十日内付款。</p><p>{{ signature: buyer }}</p>",
        context=RequestContext.system("t"),
    )


@pytest.fixture
def document(enterprise, author):
    return authoring.create_document(
        author,
        enterprise,
        title="买卖合同",
        kind="contract",
        html=CONTRACT,
        context=RequestContext.system("t"),
    )


def browser(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def flashed(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_page_setup_form_saves_and_reports(plain, author):
    document = plain
    client = browser(author)
    page = client.get(reverse("web:document_edit", args=[document.pk])).content.decode()
    assert 'id="settings-form"' in page and reverse("web:document_settings", args=[document.pk]) in page
    assert 'name="margin_top"' in page and 'value="25"' in page
    # When she saves a new page setup
    answer = client.post(reverse("web:document_settings", args=[document.pk]), SETUP)
    # Then she is back on the document, told it was saved, and the document has it
    assert answer.status_code == 302 and answer["Location"] == reverse(
        "web:document_edit", args=[document.pk]
    )
    assert "The page setup was saved." in flashed(answer)
    document.refresh_from_db()
    assert (document.title, document.kind, document.page_size, document.language) == (
        "买卖合同 2026",
        "agreement",
        "Letter",
        "en",
    )
    assert (document.header, document.footer) == ("Acme 科技", "Confidential")
    assert document.margins == {"top": 30, "right": 15, "bottom": 30, "left": 15}
    assert Event.objects.filter(kind="document_settings_changed", subject_id=str(document.pk)).count() == 1
    assert authoring.render_version(document, author).page_size == (612.0, 792.0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"margin_top": 4}, "margin_top"),
        ({"margin_left": 61}, "margin_left"),
        ({"header": "Acme\x1b[2J"}, "header"),
        ({"page_size": "A3"}, "page_size"),
    ],
)
def test_bad_page_setup_answers_400_with_the_errors_shown(document, author, change, field):
    answer = browser(author).post(reverse("web:document_settings", args=[document.pk]), {**SETUP, **change})
    assert answer.status_code == 400
    body = answer.content.decode()
    assert 'class="field has-error"' in body and f'name="{field}"' in body
    assert "<details open>" in body  # the form is open, showing what to fix
    document.refresh_from_db()
    assert (document.page_size, document.header) == ("A4", "")


def test_a_header_the_renderer_refuses_is_shown_as_a_form_error(document, author):
    answer = browser(author).post(
        reverse("web:document_settings", args=[document.pk]), {**SETUP, "footer": "Acme\u200fX"}
    )
    assert answer.status_code == 400 and "cannot be printed" in answer.content.decode()
    document.refresh_from_db()
    assert document.footer == ""


def test_a_final_document_or_a_viewer_cannot_change_the_setup(document, author, enterprise, make_user):
    viewer = make_user("viewer@acme.test")
    add_member(enterprise, viewer)
    authoring.share(document, author, email=viewer.email, right="view", context=RequestContext.system("t"))
    page = browser(viewer).get(reverse("web:document_edit", args=[document.pk])).content.decode()
    assert 'id="settings-form"' not in page and 'id="template-form"' not in page
    refused = browser(viewer).post(reverse("web:document_settings", args=[document.pk]), SETUP)
    assert refused.status_code == 400
    authoring.set_status(document, author, "final", RequestContext.system("t"))
    refused = browser(author).post(reverse("web:document_settings", args=[document.pk]), SETUP)
    assert refused.status_code == 400 and "final" in refused.content.decode()
    document.refresh_from_db()
    assert document.page_size == "A4" and document.title == "买卖合同"
    stranger = make_user("stranger@example.test")
    assert (
        browser(stranger).post(reverse("web:document_settings", args=[document.pk]), SETUP).status_code == 404
    )


def test_save_as_template_makes_a_template_with_the_documents_variables(document, author, enterprise):
    client = browser(author)
    page = client.get(reverse("web:document_edit", args=[document.pk])).content.decode()
    assert reverse("web:document_save_template", args=[document.pk]) in page
    answer = client.post(
        reverse("web:document_save_template", args=[document.pk]),
        {"title": "我们的买卖合同", "description": "Sales, with a seal"},
    )
    template = Template.objects.get(title="我们的买卖合同")
    assert answer.status_code == 302 and answer["Location"] == reverse(
        "web:template_fill", args=[template.pk]
    )
    assert any("我们的买卖合同" in message for message in flashed(answer))
    assert template.organization == enterprise and template.created_by == author
    assert (template.kind, template.language, template.description) == (
        "contract",
        "zh-hans",
        "Sales, with a seal",
    )
    assert template.html == document.latest().html
    assert {v["name"]: v["type"] for v in template.variables} == {
        "buyer": "party",
        "price": "money",
        "signed_on": "date",
    }
    assert {(f["kind"], f["party"]) for f in template.fields} == {("signature", "buyer"), ("seal", "seller")}
    # and its form asks for them
    form = client.get(answer["Location"]).content.decode()
    assert 'name="buyer__name"' in form and 'name="price"' in form and 'name="signed_on"' in form


def test_save_as_template_needs_a_title_and_the_manage_right(document, author, enterprise, make_user):
    refused = browser(author).post(reverse("web:document_save_template", args=[document.pk]), {"title": ""})
    assert refused.status_code == 400 and 'id="template-form"' in refused.content.decode()
    editor = make_user("editor@acme.test")
    add_member(enterprise, editor)
    authoring.share(document, author, email=editor.email, right="edit", context=RequestContext.system("t"))
    refused = browser(editor).post(
        reverse("web:document_save_template", args=[document.pk]), {"title": "Mine"}
    )
    assert refused.status_code == 400
    assert not Template.objects.filter(organization=enterprise).exists()


def test_an_imported_pdf_shows_its_pages_and_is_sent_to_the_field_editor(
    author, enterprise, sample_pdf, make_user
):
    client = browser(author)
    upload = io.BytesIO(sample_pdf)
    upload.name = "供货合同.pdf"
    # the import form takes PDFs
    assert 'accept=".docx,.html,.htm,.pdf"' in client.get(reverse("web:document_new")).content.decode()
    # When she imports a PDF on the web
    answer = client.post(reverse("web:document_import"), {"file": upload, "organization": enterprise.pk})
    document = Document.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse(
        "web:document_edit", args=[document.pk]
    )
    # Then its page shows the PDF's pages, not the editor, with comments beside them
    page = client.get(answer["Location"]).content.decode()
    assert 'id="fixed-pages"' in page and 'id="document-editor"' not in page and 'id="comments"' in page
    assert "An imported PDF of 2 pages" in page
    first, second = (reverse("web:document_page_image", args=[document.pk, 1, n]) for n in (1, 2))
    assert first in page and second in page
    assert 'id="docx-link"' not in page and 'id="template-form"' not in page
    assert 'name="page_size"' not in page and 'name="title"' in page  # title and kind only
    png = client.get(first)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert client.get(first, HTTP_IF_NONE_MATCH=png["ETag"]).status_code == 304
    # When it is final and sent with one party (the second is optional)
    authoring.set_status(document, author, "final", RequestContext.system("t"))
    form = client.get(reverse("web:document_send", args=[document.pk])).content.decode()
    assert 'id="role-party_1"' in form and 'id="role-party_2"' in form and "Party 2 (optional)" in form
    buyer = make_user("buyer@example.test", "李四 Li Si")
    data = {
        "title": "",
        "party_1__name": buyer.full_name,
        "party_1__email": buyer.email,
        "party_1__kind": "person",
        "party_1__order": 1,
        "party_2__name": "",
        "party_2__email": "",
        "party_2__kind": "person",
        "party_2__order": 2,
    }
    half = client.post(reverse("web:document_send", args=[document.pk]), {**data, "party_2__name": "王五"})
    assert half.status_code == 400 and not Envelope.objects.exists()
    answer = client.post(reverse("web:document_send", args=[document.pk]), data)
    # Then a draft envelope of the PDF's bytes opens in the field editor, with her and no fields
    envelope = Envelope.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse(
        "web:envelope_edit", args=[envelope.pk]
    )
    assert envelope.current_document().read_bytes() == sample_pdf
    assert list(envelope.parties.values_list("email", flat=True)) == [buyer.email]
    assert not SignatureField.objects.filter(envelope=envelope).exists()
    assert client.get(answer["Location"]).status_code == 200

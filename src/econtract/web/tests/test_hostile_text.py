"""The web forms refuse the same text and JSON the API refuses: control characters, deep nesting."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from econtract.accounts.models import User
from econtract.signing.models import Envelope
from econtract.web.tests.test_envelopes import stored_files


@pytest.mark.parametrize("name", ["New\nUser", "New\x00User", "New\x1bUser", "Mallory \u202eyrollaM"])
@pytest.mark.django_db(transaction=True)
def test_registration_refuses_a_full_name_with_control_characters(client, outbox, name):
    url = reverse("web:register")
    client.post(url, {"step": "email", "email": "new@example.test"})
    client.post(url, {"step": "code", "code": outbox.last_code("new@example.test")})
    response = client.post(
        url,
        {
            "step": "account",
            "full_name": name,
            "password": "a long passphrase 42",
            "password2": "a long passphrase 42",
        },
    )
    assert response.status_code == 200
    assert response.context["account_form"].errors["full_name"]
    assert not User.objects.filter(email="new@example.test").exists()


@pytest.mark.parametrize("title", ["Contract\r\nBcc: x@example.test", "Contract\x07", "Contract\u2028"])
def test_the_upload_form_refuses_a_title_with_control_characters(
    client, sender, enterprise, sample_pdf, title
):
    client.force_login(sender)
    before = stored_files()
    response = client.post(
        reverse("web:envelope_new"),
        {
            "title": title,
            "document": SimpleUploadedFile("c.pdf", sample_pdf, "application/pdf"),
            "organization": enterprise.pk,
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["title"]
    assert Envelope.objects.count() == 0 and stored_files() == before


def test_the_decline_form_refuses_control_characters_but_keeps_lines():
    from econtract.web.forms import DeclineForm

    assert not DeclineForm({"reason": "no\x00"}).is_valid()
    assert not DeclineForm({"reason": "no\x1b[2J"}).is_valid()
    form = DeclineForm({"reason": "too\r\nexpensive"})
    assert form.is_valid() and form.cleaned_data["reason"] == "too\nexpensive"


def test_the_editor_refuses_control_characters_in_a_party(client, sender, draft):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])
    parties = [{"name": "张三\nBcc: x", "email": "zhang@example.test", "order": 1}]
    response = client.post(url, {"payload": json.dumps({"parties": parties, "fields": []})})
    assert response.status_code == 400
    assert draft.parties.count() == 0


@pytest.mark.parametrize(
    "payload",
    [
        '{"parties": ' + "[" * 90_000 + "]" * 90_000 + "}",  # within the editor's 200,000 characters
        '{"parties": [], "fields": [{"party": 0, "page": 1, "x": NaN, "y": 1, "width": 30, "height": 30}]}',
    ],
    ids=["deep", "nan"],
)
def test_the_editor_refuses_hostile_json(client, sender, draft, payload):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])
    response = client.post(url, {"payload": payload})
    assert response.status_code == 400
    assert draft.fields.count() == 0

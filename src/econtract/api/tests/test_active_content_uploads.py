"""What you see must be what you sign: uploads with active content are refused, navigation is not."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from econtract.documents.tests import pdfbuild
from econtract.signing.models import DocumentRevision, Envelope

pytestmark = pytest.mark.django_db

SPEC = json.dumps({"title": "t", "parties": [{"name": "a", "email": "a@example.test", "order": 1}]})
ACTIVE = pdfbuild.active_content_cases()
NAVIGATION = pdfbuild.navigation_cases()


@pytest.fixture
def sender_api(enterprise, api_client):
    return api_client(enterprise.memberships.get().user, enterprise)


def _upload(client, data: bytes):
    return client.post(
        "/api/v1/envelopes", {"document": SimpleUploadedFile("x.pdf", data, "application/pdf"), "spec": SPEC}
    )


@pytest.mark.parametrize("case", sorted(ACTIVE))
def test_active_content_is_refused_naming_it_and_nothing_is_stored(sender_api, case):
    data, expected = ACTIVE[case]
    response = _upload(sender_api, data)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["error"] == "active_content"
    assert expected in body["detail"]
    assert Envelope.objects.count() == 0 and DocumentRevision.objects.count() == 0


@pytest.mark.parametrize("case", sorted(NAVIGATION))
def test_navigation_is_accepted(sender_api, case):
    response = _upload(sender_api, NAVIGATION[case])
    assert response.status_code == 201, response.content
    assert Envelope.objects.count() == 1


def test_an_ordinary_attachment_is_accepted(sender_api):
    response = _upload(sender_api, pdfbuild.embedded_file_pdf(b"invoice.xml", b"<invoice/>"))
    assert response.status_code == 201, response.content


def test_the_web_upload_shows_the_refusal(client, enterprise):
    data, expected = ACTIVE["open-action-launch"]
    client.force_login(enterprise.memberships.get().user)
    response = client.post(
        reverse("web:envelope_new"),
        {
            "title": "Launches calc",
            "document": SimpleUploadedFile("c.pdf", data, "application/pdf"),
            "organization": enterprise.pk,
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    errors = " ".join(str(error) for error in response.context["form"].errors["document"])
    assert "scripts or actions" in errors
    assert expected in errors
    assert Envelope.objects.count() == 0

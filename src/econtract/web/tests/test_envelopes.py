"""The sender's pages: upload, editor, sending, detail, download, page images, and organisation scoping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from econtract.evidence.models import Event
from econtract.signing.models import Envelope

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def stored_files() -> set[Path]:
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def editor_payload(parties, fields) -> dict:
    return {"payload": json.dumps({"parties": parties, "fields": fields})}


def test_upload_creates_a_draft_and_opens_the_editor(client, sender, enterprise, sample_pdf):
    client.force_login(sender)
    response = client.post(
        reverse("web:envelope_new"),
        {
            "title": "服务合同 Service Agreement",
            "document": SimpleUploadedFile("c.pdf", sample_pdf, "application/pdf"),
            "organization": enterprise.pk,
        },
    )
    envelope = Envelope.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "web:envelope_edit", args=[envelope.pk]
    )
    assert envelope.status == Envelope.Status.DRAFT and envelope.organization == enterprise
    assert envelope.page_count == 2


def test_a_garbage_upload_is_refused_clearly_and_nothing_is_stored(client, sender, enterprise):
    client.force_login(sender)
    before = stored_files()
    response = client.post(
        reverse("web:envelope_new"),
        {
            "title": "Not a PDF",
            "document": SimpleUploadedFile(
                "c.pdf", b"GIF89a this is not a pdf at all" * 10, "application/pdf"
            ),
            "organization": enterprise.pk,
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["document"]
    assert any("PDF" in str(error) for error in errors)
    assert Envelope.objects.count() == 0
    assert stored_files() == before


def test_the_editor_saves_parties_and_fields(client, sender, draft):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["state"]["pages"][0]["number"] == 1

    parties = [
        {"name": "张三", "email": "Zhang@Example.test", "order": 1},
        {"name": "李四", "email": "li@example.test", "order": 2},
    ]
    fields = [
        {"party": 0, "page": 1, "x": 50.5, "y": 60, "width": 180, "height": 60},
        {"party": 1, "page": 2, "x": 300, "y": 60, "width": 180, "height": 60},
    ]
    response = client.post(url, editor_payload(parties, fields))
    assert response.status_code == 302

    saved = list(draft.parties.order_by("order"))
    assert [(p.name, p.email, p.order) for p in saved] == [
        ("张三", "zhang@example.test", 1),
        ("李四", "li@example.test", 2),
    ]
    boxes = {
        (f.party.email, f.page, f.x, f.y, f.width, f.height) for f in draft.fields.select_related("party")
    }
    assert boxes == {("zhang@example.test", 1, 50.5, 60, 180, 60), ("li@example.test", 2, 300, 60, 180, 60)}
    # The editor shows what was saved.
    state = client.get(url).context["state"]
    assert state["parties"][1]["email"] == "li@example.test" and len(state["fields"]) == 2


def test_the_editor_keeps_unsaved_work_when_the_service_refuses(client, sender, draft):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])
    parties = [{"name": "张三", "email": "zhang@example.test", "order": 1}]
    outside = [{"party": 0, "page": 1, "x": 5000, "y": 60, "width": 180, "height": 60}]
    response = client.post(url, editor_payload(parties, outside))
    assert response.status_code == 400
    assert response.context["state"]["fields"][0]["x"] == 5000
    assert draft.parties.count() == 0

    response = client.post(url, {"payload": "{not json"})
    assert response.status_code == 400


def test_send_emails_the_first_party_and_locks_the_editor(client, sender, draft, outbox, transactional_db):
    client.force_login(sender)
    client.post(
        reverse("web:envelope_edit", args=[draft.pk]),
        editor_payload(
            [{"name": "张三", "email": "zhang@example.test", "order": 1}],
            [{"party": 0, "page": 1, "x": 50, "y": 60, "width": 180, "height": 60}],
        ),
    )
    response = client.post(reverse("web:envelope_send", args=[draft.pk]))
    assert response["Location"] == reverse("web:envelope_detail", args=[draft.pk])
    draft.refresh_from_db()
    assert draft.status == Envelope.Status.SENT
    assert "/sign/" in outbox.last_link("zhang@example.test")
    response = client.get(reverse("web:envelope_edit", args=[draft.pk]))
    assert response.status_code == 302


def test_detail_shows_parties_and_the_audit_trail(client, sender, sent):
    client.force_login(sender)
    response = client.get(reverse("web:envelope_detail", args=[sent.pk]))
    assert response.status_code == 200
    kinds = [event["kind"] for event in response.context["events"]]
    assert kinds[:3] == ["created", "edited", "sent"]
    page = response.content.decode()
    assert sent.original_sha256[:16] in page
    assert response.context["can_void"]


def test_download_returns_the_current_pdf_and_is_recorded(client, sender, sent):
    client.force_login(sender)
    response = client.get(reverse("web:envelope_download", args=[sent.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert response["X-Document-SHA256"] == sent.current_document().sha256
    assert Event.objects.for_subject(sent).filter(kind="downloaded").exists()


def test_page_images_are_rendered_once_and_cached(client, sender, draft):
    client.force_login(sender)
    url = reverse("web:page_image", args=[draft.pk, 0, 1])
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content.startswith(PNG_SIGNATURE)
    assert any("-p0001-w900" in path.name and path.suffix == ".png" for path in stored_files())
    assert client.get(url).content == response.content
    assert client.get(reverse("web:page_image", args=[draft.pk, 0, 3])).status_code == 404
    assert client.get(reverse("web:page_image", args=[draft.pk, 7, 1])).status_code == 404


def test_void_needs_membership_and_closes_the_envelope(client, sender, signer, sent):
    client.force_login(signer)
    assert client.get(reverse("web:envelope_detail", args=[sent.pk])).status_code == 200
    assert client.post(reverse("web:envelope_void", args=[sent.pk]), {"reason": "x"}).status_code == 403

    client.force_login(sender)
    client.post(reverse("web:envelope_void", args=[sent.pk]), {"reason": "价格有误 wrong price"})
    sent.refresh_from_db()
    assert sent.status == Envelope.Status.VOIDED and sent.end_reason == "价格有误 wrong price"


@pytest.mark.parametrize(
    "name,method,extra",
    [
        ("web:envelope_detail", "get", ()),
        ("web:envelope_edit", "get", ()),
        ("web:envelope_edit", "post", ()),
        ("web:envelope_send", "post", ()),
        ("web:envelope_void", "post", ()),
        ("web:envelope_download", "get", ()),
        ("web:page_image", "get", (0, 1)),
    ],
)
def test_another_organisations_envelope_is_not_found(client, make_user, draft, name, method, extra):
    stranger = make_user("stranger@example.test")
    client.force_login(stranger)
    response = getattr(client, method)(reverse(name, args=[draft.pk, *extra]))
    assert response.status_code == 404
    draft.refresh_from_db()
    assert draft.status == Envelope.Status.DRAFT


def test_the_dashboard_lists_only_visible_envelopes(client, sender, make_user, draft):
    client.force_login(sender)
    response = client.get(reverse("web:dashboard"))
    assert [row["envelope"].pk for row in response.context["rows"]] == [draft.pk]
    client.force_login(make_user("other@example.test"))
    assert client.get(reverse("web:dashboard")).context["rows"] == []

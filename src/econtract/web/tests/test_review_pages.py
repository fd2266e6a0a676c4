"""The manual review pages: a person sends her pictures, an operator decides in the queue, and the
profile reveals the full number and exports the data only after the password is given again."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from econtract.evidence.models import Event
from econtract.identity.models import IdentityVerification
from econtract.identity.tests import pictures
from econtract.identity.tests.factories import ANY_ID_NUMBER, verify_identity

PASSWORD = "correct horse battery"
LI_MING = "110101198808150137"


def operator_named(make_user: Any, email: str) -> Any:
    user = make_user(email, "审核员 Operator", identity=None)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.add(Permission.objects.get(codename="change_identityverification"))
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def person(make_user: Any) -> Any:
    return make_user("li@example.test", "李明 Li Ming", identity=None)


@pytest.fixture
def operator(make_user: Any) -> Any:
    return operator_named(make_user, "operator@example.test")


def _file(name: str, content: bytes) -> io.BytesIO:
    handle = io.BytesIO(content)
    handle.name = name
    return handle


def send_documents(client: Any, **override: Any) -> Any:
    data = {
        "name": "李明",
        "id_type": "cn_resident",
        "id_number": LI_MING,
        "front": _file("front.jpg", pictures.jpeg()),
        "selfie": _file("selfie.jpg", pictures.jpeg_with_gps()),
    }
    data.update(override)
    return client.post(reverse("web:identity_manual"), data)


@pytest.fixture
def pending(client: Any, person: Any) -> IdentityVerification:
    client.force_login(person)
    assert send_documents(client).status_code == 302
    client.logout()
    return IdentityVerification.objects.get(user=person, method="manual")


def test_the_person_sends_her_documents(client: Any, person: Any) -> None:
    client.force_login(person)
    page = client.get(reverse("web:identity_manual"))
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.content.decode()
    refused = send_documents(client, front=_file("front.jpg", pictures.polyglot_jpeg_zip()))
    assert refused.status_code == 400 and "front" in refused.content.decode()
    assert not IdentityVerification.objects.exists()
    assert send_documents(client).status_code == 302
    row = IdentityVerification.objects.get(user=person)
    assert (row.status, row.images.count()) == ("pending", 2)
    assert 'id="manual-pending"' in client.get(reverse("web:identity_manual")).content.decode()


def test_operator_queue_detail_and_approval(
    client: Any, pending: IdentityVerification, operator: Any
) -> None:
    client.force_login(operator)
    queue = client.get(reverse("web:review_queue"))
    assert queue.status_code == 200 and "no-store" in queue["Cache-Control"]
    html = queue.content.decode()
    assert "李明" in html and "110***********0137" in html and LI_MING not in html
    assert 'id="nav-reviews"' in html
    detail = client.get(reverse("web:review_detail", args=[pending.pk]))
    assert detail.status_code == 200 and "no-store" in detail["Cache-Control"]
    image = pending.images.get(kind="front")
    picture = client.get(reverse("web:review_image", args=[pending.pk, image.pk]))
    assert picture.status_code == 200 and picture["Content-Type"] == "image/jpeg"
    assert picture["Cache-Control"] == "no-store, max-age=0"
    assert picture["Content-Disposition"].startswith("inline")
    assert (
        Event.objects.for_subject(pending).filter(kind="identity_image_viewed", actor=operator).count() == 1
    )

    response = client.post(reverse("web:review_approve", args=[pending.pk]))
    assert response.status_code == 302
    pending.refresh_from_db()
    assert (pending.status, pending.assurance_level, pending.decided_by) == ("verified", "L3", operator)


def test_operator_rejects_with_a_reason(client: Any, pending: IdentityVerification, operator: Any) -> None:
    client.force_login(operator)
    assert client.post(reverse("web:review_reject", args=[pending.pk]), {"reason": ""}).status_code == 400
    response = client.post(reverse("web:review_reject", args=[pending.pk]), {"reason": "证件过期 Expired"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert (pending.status, pending.reason) == ("rejected", "证件过期 Expired")


def test_others_see_no_queue_and_no_pictures(
    client: Any, pending: IdentityVerification, person: Any, make_user: Any
) -> None:
    image = pending.images.first()
    stranger = make_user("other@example.test", "王五 Other", identity=None)
    for user in (person, stranger):
        client.force_login(user)
        assert 'id="nav-reviews"' not in client.get(reverse("web:profile")).content.decode()
        assert client.get(reverse("web:review_queue")).status_code == 403
        assert client.get(reverse("web:review_detail", args=[pending.pk])).status_code == 403
        assert client.get(reverse("web:review_image", args=[pending.pk, image.pk])).status_code == 403
        assert client.post(reverse("web:review_approve", args=[pending.pk])).status_code == 403
    client.logout()
    anonymous = client.get(reverse("web:review_image", args=[pending.pk, image.pk]))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert not Event.objects.for_subject(pending).filter(kind="identity_image_viewed").exists()
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_an_operator_does_not_review_herself(client: Any, operator: Any, make_user: Any) -> None:
    client.force_login(operator)
    assert send_documents(client).status_code == 302
    own = IdentityVerification.objects.get(user=operator)
    assert "李明" not in client.get(reverse("web:review_queue")).content.decode()
    assert client.get(reverse("web:review_detail", args=[own.pk])).status_code == 403
    assert client.post(reverse("web:review_approve", args=[own.pk])).status_code == 403
    own.refresh_from_db()
    assert own.status == "pending"


def test_reveal_and_export_ask_for_the_password(client: Any, make_user: Any) -> None:
    person = verify_identity(
        make_user("zhang@example.test", "张三 Zhang San", identity=None), id_number=ANY_ID_NUMBER
    )
    row = IdentityVerification.objects.get(user=person)
    client.force_login(person)
    profile = client.get(reverse("web:profile")).content.decode()
    assert "110***********002X" in profile and ANY_ID_NUMBER not in profile
    reveal = reverse("web:identity_reveal", args=[row.pk])
    first = client.get(reveal)
    assert first.status_code == 302 and first["Location"].startswith(reverse("web:reauth"))
    assert client.get(reverse("web:profile_export")).status_code == 302

    wrong = client.post(reverse("web:reauth"), {"password": "wrong", "next": reveal})
    assert wrong.status_code == 403
    assert client.get(reveal).status_code == 302
    right = client.post(reverse("web:reauth"), {"password": PASSWORD, "next": reveal})
    assert right.status_code == 302 and right["Location"] == reveal
    shown = client.get(reveal)
    assert shown.status_code == 200 and ANY_ID_NUMBER in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    assert Event.objects.for_subject(row).filter(kind="id_number_revealed").count() == 1

    export = client.get(reverse("web:profile_export"))
    assert export.status_code == 200 and export["Content-Disposition"].startswith("attachment")
    data = json.loads(export.content)
    assert data["identity_verifications"][0]["id_number"] == ANY_ID_NUMBER
    assert Event.objects.for_subject(person).filter(kind="personal_data_exported").count() == 1

    # another browser session of the same account has not re-authenticated
    other = type(client)()
    other.force_login(person)
    assert other.get(reveal).status_code == 302


def test_face_check_page_over_the_running_servers_sandbox(
    client: Any, make_user: Any, live_server: Any, settings: Any
) -> None:
    from econtract.identity.tests.test_providers import KEY

    settings.ECONTRACT_IDP_URL = ""
    settings.ECONTRACT_IDP_SANDBOX = True
    settings.ECONTRACT_IDP_SANDBOX_KEY = KEY
    settings.BASE_URL = live_server.url
    person = make_user("zhang@example.test", "张三 Zhang San", identity=None)
    client.force_login(person)
    page = client.get(reverse("web:identity_face"))
    assert page.status_code == 200 and 'id="sandbox-banner"' in page.content.decode()
    data = {"name": "张三", "id_type": "cn_resident", "id_number": "11010519491231002X"}
    refused = client.post(
        reverse("web:identity_face"), {**data, "selfie": _file("s.png", pictures.polyglot_png_html())}
    )
    assert refused.status_code == 400
    response = client.post(reverse("web:identity_face"), {**data, "selfie": _file("s.jpg", pictures.jpeg())})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.assurance_level == "L3"
    row = IdentityVerification.objects.get(user=person, method="face")
    assert (row.status, row.sandbox) == ("verified", True)

"""Manual review: pictures uploaded through the API, checked and stripped, decided by an operator.

Given a person who sends her document and a selfie, when an operator approves, then she is at L3;
refusals (not an image, too large, polyglot, bomb, a bad number), self-review and access to the
pictures by anyone but an operator are refused, and every look at a picture is in the evidence.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from PIL import Image

from econtract.evidence.models import Event
from econtract.evidence.services import chain_is_intact
from econtract.identity.models import IdentityDocumentImage, IdentityVerification
from econtract.identity.review import IMAGE_PURPOSE
from econtract.identity.tests import pictures
from econtract.identity.vault import unseal_bytes

MANUAL = "/api/v1/me/identity-verifications/manual"
REVIEWS = "/api/v1/identity-reviews"
LI_MING = "110101198808150137"


@pytest.fixture
def person(make_user: Any) -> Any:
    return make_user("li@example.test", "李明 Li Ming", identity=None)


def make_operator(make_user: Any, email: str = "operator@example.test") -> Any:
    user = make_user(email, "审核员 Operator", identity=None)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.add(Permission.objects.get(codename="change_identityverification"))
    return type(user).objects.get(pk=user.pk)  # a fresh object: permissions are cached per instance


@pytest.fixture
def operator(make_user: Any) -> Any:
    return make_operator(make_user)


def upload(client: Any, **files: bytes | None) -> Any:
    chosen = {"front": pictures.jpeg(), "back": pictures.png(), "selfie": pictures.jpeg_with_gps()}
    chosen.update(files)
    data: dict[str, Any] = {"name": "李明", "id_type": "cn_resident", "id_number": LI_MING}
    for kind, content in chosen.items():
        if content is not None:
            data[kind] = _file(kind, content)
    return client.post(MANUAL, data)


def _file(kind: str, content: bytes) -> Any:
    handle = io.BytesIO(content)
    handle.name = f"{kind}.jpg"
    return handle


def submitted(api_client: Any, person: Any) -> IdentityVerification:
    response = upload(api_client(person))
    assert response.status_code == 201, response.content
    return IdentityVerification.objects.get(pk=response.json()["id"])


# --- upload --------------------------------------------------------------------------------------


def test_upload_answers_pending_and_stores_sealed_pictures_without_metadata(
    api_client: Any, person: Any
) -> None:
    response = upload(api_client(person))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["method"], body["assurance_level"]) == ("pending", "manual", "L3")
    assert body["id_number_masked"] == "110***********0137"
    row = IdentityVerification.objects.get(pk=body["id"])
    images = {image.kind: image for image in row.images.all()}
    assert set(images) == {"front", "back", "selfie"}
    selfie = images["selfie"]
    assert selfie.content_type == "image/jpeg"
    assert b"\xff\xd8" not in bytes(selfie.sealed)[:20]  # sealed, not the JPEG itself
    clear = unseal_bytes(bytes(selfie.sealed), purpose=IMAGE_PURPOSE)
    assert hashlib.sha256(clear).hexdigest() == selfie.sha256 and len(clear) == selfie.size
    with Image.open(io.BytesIO(clear)) as stored:
        assert dict(stored.getexif()) == {}  # no GPS position, no camera
        assert "exif" not in stored.info and "comment" not in stored.info
    assert b"PhoneMaker" not in clear and b"secret note" not in clear
    assert images["back"].content_type == "image/png"
    kinds = [event.kind for event in Event.objects.for_subject(row)]
    assert kinds == ["identity_verification_started", "identity_images_received"]
    assert chain_is_intact(row)


@pytest.mark.parametrize(
    ("files", "status", "code"),
    [
        ({"front": b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF"}, 415, "not_an_image"),
        ({"front": b"\xff\xd8\xff\xe0 this is no JPEG at all"}, 415, "not_an_image"),
        ({"selfie": pictures.polyglot_jpeg_zip()}, 415, "not_an_image"),
        ({"back": pictures.polyglot_png_html()}, 415, "not_an_image"),
        ({"front": pictures.png_bomb()}, 422, "invalid_image"),
        ({"front": pictures.jpeg(32, 32)}, 422, "invalid_image"),
    ],
    ids=["pdf", "fake-jpeg-magic", "jpeg+zip-polyglot", "png+html-polyglot", "decompression-bomb", "tiny"],
)
def test_refused_uploads_store_nothing(
    api_client: Any, person: Any, files: dict[str, bytes], status: int, code: str
) -> None:
    response = upload(api_client(person), **files)
    assert (response.status_code, response.json()["error"]) == (status, code), response.content
    assert not IdentityVerification.objects.exists() and not IdentityDocumentImage.objects.exists()


def test_too_large_is_413(api_client: Any, person: Any, settings: Any) -> None:
    settings.ECONTRACT_IDENTITY_IMAGE_MAX_BYTES = 4096
    big = pictures.jpeg(1200, 900, quality=100)
    assert len(big) > 4096
    response = upload(api_client(person), front=big)
    assert (response.status_code, response.json()["error"]) == (413, "image_too_large")
    assert not IdentityVerification.objects.exists()


def test_a_bad_number_or_a_missing_selfie_is_refused_before_anything_is_stored(
    api_client: Any, person: Any
) -> None:
    client = api_client(person)
    data = {"name": "李明", "id_type": "cn_resident", "id_number": "110101198808150138"}
    response = client.post(
        MANUAL, {**data, "front": _file("front", pictures.jpeg()), "selfie": _file("s", pictures.jpeg())}
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_id_number")
    response = upload(client, selfie=None)
    assert response.status_code == 422
    assert not IdentityVerification.objects.exists()


def test_one_review_waits_at_a_time(api_client: Any, person: Any) -> None:
    client = api_client(person)
    assert upload(client).status_code == 201
    response = upload(client)
    assert (response.status_code, response.json()["error"]) == (409, "review_already_pending")


# --- operators ----------------------------------------------------------------------------------


def test_operator_approves_at_l3(api_client: Any, person: Any, operator: Any) -> None:
    row = submitted(api_client, person)
    client = api_client(operator)
    queue = client.get(REVIEWS)
    assert queue.status_code == 200
    assert [item["id"] for item in queue.json()["items"]] == [str(row.pk)]
    assert queue.json()["items"][0]["id_number_masked"] == "110***********0137"
    assert LI_MING not in queue.content.decode()

    response = client.post(f"{REVIEWS}/{row.pk}/approve")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "verified"
    row.refresh_from_db()
    person.refresh_from_db()
    assert (row.status, row.assurance_level, row.provider, row.decided_by) == (
        "verified",
        "L3",
        "manual_review",
        operator,
    )
    assert person.assurance_level == "L3"
    verified = Event.objects.for_subject(row).get(kind="identity_verified")
    assert verified.actor == operator
    again = client.post(f"{REVIEWS}/{row.pk}/approve")
    assert (again.status_code, again.json()["error"]) == (409, "verification_not_pending")
    assert client.get(REVIEWS).json() == {"items": [], "next_cursor": None}


def test_operator_rejects_with_a_reason(api_client: Any, person: Any, operator: Any) -> None:
    row = submitted(api_client, person)
    client = api_client(operator)
    empty = client.post(f"{REVIEWS}/{row.pk}/reject", {"reason": ""}, content_type="application/json")
    assert empty.status_code == 422
    response = client.post(
        f"{REVIEWS}/{row.pk}/reject",
        {"reason": "照片模糊 The photo is blurred"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    row.refresh_from_db()
    person.refresh_from_db()
    assert (row.status, row.reason, row.decided_by) == ("rejected", "照片模糊 The photo is blurred", operator)
    assert person.assurance_level != "L3"
    # the person sees the reason on her own verification
    mine = api_client(person).get(f"/api/v1/me/identity-verifications/{row.pk}").json()
    assert (mine["status"], mine["reason"]) == ("rejected", "照片模糊 The photo is blurred")


def test_an_operator_does_not_review_herself(api_client: Any, operator: Any, make_user: Any) -> None:
    own = submitted(api_client, operator)
    client = api_client(operator)
    assert client.get(REVIEWS).json()["items"] == []  # not in her queue
    for response in (
        client.post(f"{REVIEWS}/{own.pk}/approve"),
        client.post(f"{REVIEWS}/{own.pk}/reject", {"reason": "no"}, content_type="application/json"),
        client.get(f"{REVIEWS}/{own.pk}/images/{own.images.first().pk}"),
    ):
        assert (response.status_code, response.json()["error"]) == (403, "self_review_refused")
    # a colleague may
    colleague = make_operator(make_user, "colleague@example.test")
    assert api_client(colleague).post(f"{REVIEWS}/{own.pk}/approve").status_code == 200


def test_pictures_are_for_operators_only_and_every_look_is_recorded(
    api_client: Any, person: Any, operator: Any, make_user: Any
) -> None:
    row = submitted(api_client, person)
    selfie = row.images.get(kind="selfie")
    url = f"{REVIEWS}/{row.pk}/images/{selfie.pk}"
    staff_without_permission = make_user("staff@example.test", "职员 Staff", identity=None)
    staff_without_permission.is_staff = True
    staff_without_permission.save(update_fields=["is_staff"])
    stranger = make_user("other@example.test", "王五 Other", identity=None)
    for user in (person, stranger, staff_without_permission):
        refused = api_client(user).get(url)
        assert (refused.status_code, refused.json()["error"]) == (403, "review_not_permitted")
        assert api_client(user).post(f"{REVIEWS}/{row.pk}/approve").status_code == 403
        assert api_client(user).get(REVIEWS).status_code == 403
    assert not Event.objects.for_subject(row).filter(kind="identity_image_viewed").exists()

    response = api_client(operator).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "no-store, max-age=0"
    assert response["Content-Disposition"].startswith("inline")
    assert hashlib.sha256(response.content).hexdigest() == selfie.sha256
    viewed = Event.objects.for_subject(row).get(kind="identity_image_viewed")
    assert viewed.actor == operator
    assert viewed.payload == {"image": str(selfie.pk), "kind": "selfie", "sha256": selfie.sha256}
    assert api_client(operator).get(f"{REVIEWS}/{row.pk}/images/{row.pk}").status_code == 404
    assert chain_is_intact(row)

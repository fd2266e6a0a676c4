"""A person's signatures: the verbs (add, list, default, delete, the one signing uses) and
/api/v1/me/signatures."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.db import IntegrityError, transaction
from PIL import Image, ImageDraw

from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext
from econtract.seals import signatures
from econtract.seals.errors import InvalidSignatureImage
from econtract.seals.models import PersonalSignature

pytestmark = pytest.mark.django_db
CONTEXT = RequestContext.system("test")
BASE = "/api/v1/me/signatures"


def pad_png(shift: int = 0) -> bytes:
    image = Image.new("RGBA", (900, 300), (0, 0, 0, 0))
    ImageDraw.Draw(image).line(
        [(100 + shift, 150), (300, 60 + shift), (500, 220), (800 - shift, 120)],
        fill=(20, 30, 90, 255),
        width=7,
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def scan_jpeg() -> bytes:
    image = Image.new("RGB", (800, 400), (240, 238, 230))
    ImageDraw.Draw(image).line([(100, 200), (350, 100), (700, 260)], fill=(10, 10, 10), width=9)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def typed(user, text="张三", **kwargs):
    return signatures.add_signature(user, kind="typed", text=text, context=CONTEXT, **kwargs)


def png_of(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data), formats=["PNG"])
    image.load()
    return image


# --- the verbs ------------------------------------------------------------------------------------------


def test_her_first_signature_becomes_the_default_and_later_ones_do_not(make_user):
    user = make_user()

    first = signatures.add_signature(user, kind="drawn", image=pad_png(), context=CONTEXT)
    second = signatures.add_signature(user, kind="uploaded", image=scan_jpeg(), context=CONTEXT)
    third = typed(user, "张三 Zhang San")

    assert first.is_default and not second.is_default and not third.is_default
    assert [s.id for s in signatures.list_signatures(user)] == [first.id, third.id, second.id]
    assert third.typed_text == "张三 Zhang San"
    for signature in (first, second, third):
        stored = bytes(signature.image_png)
        assert signature.sha256 == hashlib.sha256(stored).hexdigest()
        assert png_of(stored).mode == "RGBA"
        assert (signature.width_px, signature.height_px) == png_of(stored).size


def test_make_default_moves_the_one_default(make_user):
    user = make_user()
    first = typed(user)
    second = typed(user, make_default=True)

    first.refresh_from_db()
    assert second.is_default and not first.is_default

    signatures.set_default(user, first.id, CONTEXT)

    defaults = PersonalSignature.objects.of(user).live().filter(is_default=True)
    assert [s.id for s in defaults] == [first.id]
    assert Event.objects.filter(subject_id=str(user.pk), kind="signature_default_set").count() == 1


def test_the_database_allows_one_live_default_per_person(make_user):
    user = make_user()
    first = typed(user)
    with pytest.raises(IntegrityError), transaction.atomic():
        PersonalSignature.objects.create(
            user=user,
            kind="typed",
            image_png=bytes(first.image_png),
            width_px=1,
            height_px=1,
            sha256="0" * 64,
            is_default=True,
        )


def test_another_persons_signature_cannot_be_made_default_or_deleted(make_user):
    owner, other = make_user(), make_user()
    hers = typed(owner)

    with pytest.raises(PersonalSignature.DoesNotExist):
        signatures.set_default(other, hers.id)
    with pytest.raises(PersonalSignature.DoesNotExist):
        signatures.delete_signature(other, hers.id, CONTEXT)
    hers.refresh_from_db()
    assert hers.deleted_at is None and hers.is_default


def test_deleting_keeps_the_row_and_passes_the_default_to_the_newest_remaining(make_user):
    user = make_user()
    first = typed(user, "甲")
    older = typed(user, "乙")
    newer = typed(user, "丙")

    signatures.delete_signature(user, first.id, CONTEXT)

    first.refresh_from_db()
    newer.refresh_from_db()
    assert first.deleted_at is not None and not first.is_default
    assert newer.is_default
    assert [s.id for s in signatures.list_signatures(user)] == [newer.id, older.id]
    # deleted: not listed, not usable, not deletable twice
    with pytest.raises(PersonalSignature.DoesNotExist):
        signatures.delete_signature(user, first.id, CONTEXT)
    with pytest.raises(InvalidSignatureImage):
        signatures.signature_for_signing(user, first.id)


def test_at_most_ten_live_signatures(make_user):
    user = make_user()
    made = [typed(user, f"张三 {n}") for n in range(signatures.MAX_LIVE_SIGNATURES)]

    with pytest.raises(InvalidSignatureImage) as refused:
        typed(user, "张三 11")
    assert refused.value.reason == "limit"

    # a deleted one frees a place
    signatures.delete_signature(user, made[3].id, CONTEXT)
    assert typed(user, "张三 11").id


def test_unusable_pictures_and_kinds_store_nothing(make_user):
    user = make_user()
    blank = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    out = io.BytesIO()
    blank.save(out, "PNG")

    for kind, image in (
        ("drawn", out.getvalue()),
        ("uploaded", b"%PDF-1.7"),
        ("drawn", None),
        ("stamped", pad_png()),
    ):
        with pytest.raises(InvalidSignatureImage):
            signatures.add_signature(user, kind=kind, image=image, context=CONTEXT)
    assert not PersonalSignature.objects.filter(user=user).exists()


def test_the_evidence_names_the_pictures_hash_never_the_picture(make_user):
    user = make_user()
    signature = signatures.add_signature(user, kind="drawn", image=pad_png(), context=CONTEXT)
    signatures.delete_signature(user, signature.id, CONTEXT)

    events = list(
        Event.objects.filter(subject_type="accounts.user", subject_id=str(user.pk)).order_by("sequence")
    )
    added = next(e for e in events if e.kind == "signature_added")
    deleted = next(e for e in events if e.kind == "signature_deleted")
    assert added.payload == {
        "signature_id": str(signature.id),
        "kind": "drawn",
        "sha256": signature.sha256,
        "default": True,
    }
    assert deleted.payload["sha256"] == signature.sha256
    assert len(json.dumps(added.payload)) < 300  # no picture in it


def test_signing_uses_the_chosen_then_the_default_then_her_typed_verified_name(make_user):
    user = make_user(full_name="李四 Li Si")

    # No signature yet: her verified name in the handwriting font, made on the spot, not stored
    png, kind, digest = signatures.signature_for_signing(user, None)
    assert kind == "typed" and digest == hashlib.sha256(png).hexdigest()
    assert png_of(png).mode == "RGBA"
    assert not PersonalSignature.objects.filter(user=user).exists()

    default = signatures.add_signature(user, kind="drawn", image=pad_png(), context=CONTEXT)
    other = signatures.add_signature(user, kind="drawn", image=pad_png(shift=30), context=CONTEXT)
    assert signatures.signature_for_signing(user, None) == (bytes(default.image_png), "drawn", default.sha256)
    assert signatures.signature_for_signing(user, other.id) == (bytes(other.image_png), "drawn", other.sha256)


def test_signing_refuses_someone_elses_signature(make_user):
    owner, other = make_user(), make_user()
    hers = typed(owner)

    with pytest.raises(InvalidSignatureImage) as refused:
        signatures.signature_for_signing(other, hers.id)
    assert refused.value.code == "invalid_signature_image"


# --- the API --------------------------------------------------------------------------------------------


def test_api_adds_an_uploaded_a_drawn_and_a_typed_signature(make_user, api_client):
    user = make_user()
    client = api_client(user)

    uploaded = client.post(BASE, {"image": io.BytesIO(scan_jpeg())})
    drawn = client.post(BASE, {"kind": "drawn", "image": io.BytesIO(pad_png())})
    typed_answer = client.post(
        BASE,
        {"kind": "typed", "text": "张三 Zhang San", "make_default": True},
        content_type="application/json",
    )

    assert [uploaded.status_code, drawn.status_code, typed_answer.status_code] == [201, 201, 201]
    body = uploaded.json()
    assert body["kind"] == "uploaded" and body["is_default"] is True
    assert body["image_url"] == f"{BASE}/{body['id']}/image"
    assert drawn.json()["kind"] == "drawn" and drawn.json()["is_default"] is False
    assert typed_answer.json()["kind"] == "typed" and typed_answer.json()["is_default"] is True

    listed = client.get(BASE)
    assert listed.status_code == 200
    page = listed.json()
    assert page["next_cursor"] is None
    assert [item["id"] for item in page["items"]][0] == typed_answer.json()["id"]
    assert sum(item["is_default"] for item in page["items"]) == 1

    image = client.get(body["image_url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert png_of(image.content).mode == "RGBA"


def test_api_default_and_delete(make_user, api_client):
    user = make_user()
    client = api_client(user)
    first = client.post(BASE, {"kind": "typed", "text": "甲"}, content_type="application/json").json()
    second = client.post(BASE, {"kind": "typed", "text": "乙"}, content_type="application/json").json()

    made = client.post(f"{BASE}/{second['id']}/default")
    assert made.status_code == 200 and made.json()["is_default"] is True

    deleted = client.delete(f"{BASE}/{second['id']}")
    assert deleted.status_code == 204
    assert client.get(f"{BASE}/{second['id']}/image").status_code == 404
    assert client.post(f"{BASE}/{second['id']}/default").status_code == 404
    items = client.get(BASE).json()["items"]
    assert [(item["id"], item["is_default"]) for item in items] == [(first["id"], True)]


def test_api_another_persons_signature_is_not_found(make_user, api_client):
    owner, stranger = make_user(), make_user()
    hers = (
        api_client(owner)
        .post(BASE, {"kind": "typed", "text": "张三"}, content_type="application/json")
        .json()
    )
    client = api_client(stranger)

    assert client.get(f"{BASE}/{hers['id']}/image").status_code == 404
    assert client.post(f"{BASE}/{hers['id']}/default").status_code == 404
    assert client.delete(f"{BASE}/{hers['id']}").status_code == 404
    assert client.get(BASE).json()["items"] == []
    assert client.get(f"{BASE}/not-a-uuid/image").status_code == 422


def test_api_refusals(make_user, api_client):
    client = api_client(make_user())

    no_ink = client.post(BASE, {"kind": "drawn", "image": io.BytesIO(b"\x89PNG\r\n\x1a\n")})
    assert no_ink.status_code == 400 and no_ink.json()["error"] == "invalid_signature_image"
    missing = client.post(BASE, {"kind": "uploaded"})
    assert missing.status_code == 400
    wrong_kind = client.post(BASE, {"kind": "typed", "image": io.BytesIO(pad_png())})
    assert wrong_kind.status_code == 400
    no_text = client.post(BASE, {"kind": "typed"}, content_type="application/json")
    assert no_text.status_code == 422 and no_text.json()["error"] == "invalid_request"
    control = client.post(BASE, {"kind": "typed", "text": "张\u202e三"}, content_type="application/json")
    assert control.status_code == 422
    plain = client.post(BASE, "张三", content_type="text/plain")
    assert plain.status_code == 415
    not_json = client.post(BASE, "{", content_type="application/json")
    assert not_json.status_code == 400


def test_api_the_eleventh_signature_is_refused(make_user, api_client):
    user = make_user()
    for n in range(signatures.MAX_LIVE_SIGNATURES):
        typed(user, f"张三 {n}")

    answer = api_client(user).post(BASE, {"kind": "typed", "text": "张三"}, content_type="application/json")

    assert answer.status_code == 400
    assert "delete one" in answer.json()["detail"]


def test_api_needs_authentication(db, client):
    assert client.get(BASE).status_code == 401


def test_the_openapi_document_describes_both_bodies(client):
    document = client.get("/api/openapi.json").json()
    operation = document["paths"][BASE]["post"]
    content = operation["requestBody"]["content"]
    assert set(content) == {"multipart/form-data", "application/json"}
    assert content["application/json"]["schema"]["properties"]["kind"]["const"] == "typed"
    assert "201" in operation["responses"] and "415" in operation["responses"]
    assert (
        "image/png"
        in document["paths"][f"{BASE}/{{signature_id}}/image"]["get"]["responses"]["200"]["content"]
    )


# --- the web page ---------------------------------------------------------------------------------------


def test_the_page_lists_adds_and_deletes(make_user, client):
    import base64

    user = make_user()
    client.force_login(user)

    page = client.get("/me/signatures/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert b"No signatures yet" in page.content and b"signature-pad.js" in page.content

    drawing = "data:image/png;base64," + base64.b64encode(pad_png()).decode()
    saved = client.post("/me/signatures/add/", {"kind": "drawn", "drawing": drawing})
    assert saved.status_code == 302
    signature = signatures.list_signatures(user).get()
    assert signature.kind == "drawn" and signature.is_default
    assert client.get(f"/me/signatures/{signature.id}/image.png").status_code == 200

    refused = client.post("/me/signatures/add/", {"kind": "drawn", "drawing": ""}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and b"No signature was found" in refused.content

    preview = client.get("/me/signatures/preview.png", {"text": "张三"})
    assert preview.status_code == 200 and preview["Content-Type"] == "image/png"

    assert client.post(f"/me/signatures/{signature.id}/delete/").status_code == 302
    assert not signatures.list_signatures(user).exists()

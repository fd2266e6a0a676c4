"""The sender's editor places every kind of box: initials, and the fields a party fills when signing."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from econtract.signing.models import Envelope, SignatureField
from econtract.signing.services import FieldSpec
from econtract.web import editor

USCC = "91350100M000100Y43"
Kind = SignatureField.Kind


def editor_payload(parties, fields) -> dict:
    return {"payload": json.dumps({"parties": parties, "fields": fields})}


def person() -> dict:
    return {"name": "张三", "email": "zhang@example.test", "order": 1}


def organisation() -> dict:
    return {
        "name": "福州示例科技有限公司",
        "email": "keeper@example.test",
        "order": 2,
        "kind": "organization",
        "organization_uscc": USCC,
    }


def box(party: int, kind: str | None = None, **extra) -> dict:
    given = {"party": party, "page": 1, "x": 50, "y": 60, "width": 180, "height": 30, **extra}
    if kind is not None:
        given["kind"] = kind
    return given


def stored(envelope: Envelope) -> list[tuple]:
    return [
        (f.party.order, f.kind, f.name, f.label, f.required)
        for f in envelope.fields.select_related("party").order_by("position", "page")
    ]


def test_every_new_kind_is_stored_with_its_name_label_and_required(client, sender, draft):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])
    fields = [
        box(0, "initials", y=700),
        box(0, "text", name="buyer_address", label="收货地址 Delivery address", y=600),
        box(0, "number", name="quantity", label="数量", required=False, y=500),
        box(0, "checkbox", name="agree_terms", label="I agree", width=16, height=16, y=400),
        box(0, "date_signed", name="buyer_date", y=300),
        box(1, "seal", width=120, height=120, y=100, x=300),
        box(1, "text", name="seller_ref", label="合同编号", y=60, x=300, height=20),
        box(1, "date_signed", y=30, x=300, height=20),  # no name: signing.services gives one
    ]

    response = client.post(url, editor_payload([person(), organisation()], fields))

    assert response.status_code == 302, [str(m) for m in response.context["messages"]]
    assert stored(draft) == [
        (1, Kind.INITIALS, "", "", True),
        (1, Kind.TEXT, "buyer_address", "收货地址 Delivery address", True),
        (1, Kind.NUMBER, "quantity", "数量", False),
        (1, Kind.CHECKBOX, "agree_terms", "I agree", True),
        (1, Kind.DATE_SIGNED, "buyer_date", "", True),
        (2, Kind.SEAL, "", "", True),
        (2, Kind.TEXT, "seller_ref", "合同编号", True),
        (2, Kind.DATE_SIGNED, "date_signed_2_1", "", True),
    ]
    checkbox = draft.fields.get(kind=Kind.CHECKBOX)
    assert (checkbox.x, checkbox.y, checkbox.width, checkbox.height) == (50, 400, 16, 16)


def test_reloading_the_editor_shows_the_kinds_names_labels_and_required(client, sender, draft):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])
    fields = [
        box(0),  # no kind: the person's signature, as before
        box(0, "text", name="buyer_address", label="Address", y=200),
        box(0, "checkbox", name="agree", required=False, width=16, height=16, y=300),
    ]
    client.post(url, editor_payload([person()], fields))

    state = client.get(url).context["state"]

    assert [
        (f["kind"], f["name"], f["label"], f["required"], f["x"], f["y"], f["width"], f["height"])
        for f in state["fields"]
    ] == [
        ("signature", "", "", True, 50, 60, 180, 30),
        ("text", "buyer_address", "Address", True, 50, 200, 180, 30),
        ("checkbox", "agree", "", False, 50, 300, 16, 16),
    ]
    # what the script may offer, as signing.services judges it
    assert state["kinds"]["person"] == ["signature", "initials", "date_signed", "text", "number", "checkbox"]
    assert state["kinds"]["organization"] == ["seal", "date_signed", "text", "number", "checkbox"]
    assert state["kinds"]["automatic"] == ["seal", "date_signed"]
    # and saving what it shows changes nothing
    client.post(url, editor_payload(state["parties"], state["fields"]))
    assert stored(draft) == [
        (1, Kind.SIGNATURE, "", "", True),
        (1, Kind.TEXT, "buyer_address", "Address", True),
        (1, Kind.CHECKBOX, "agree", "", False),
    ]


@pytest.mark.parametrize(
    "name",
    ["buyer address", "1st_buyer", "Signature_buyer", "买方地址", "a" * 65],
)
def test_a_bad_name_shows_the_services_error_and_stores_nothing(client, sender, draft, name):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])
    fields = [box(0), box(0, "text", name=name, label="Address", y=200)]

    response = client.post(url, editor_payload([person()], fields), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) == 1 and "field 2" in shown[0] and "name" in shown[0], shown
    assert draft.parties.count() == 0 and draft.fields.count() == 0
    # the sender's unsaved boxes come back as drawn, the bad name with them to correct
    if len(name) <= 64:
        assert response.context["state"]["fields"][1]["name"] == name
        assert response.context["state"]["fields"][1]["kind"] == "text"


def test_a_name_used_twice_is_refused(client, sender, draft):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])
    fields = [box(0, "text", name="address"), box(0, "number", name="address", y=200)]

    response = client.post(url, editor_payload([person()], fields), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert any("used twice" in str(m) for m in response.context["messages"])
    assert draft.fields.count() == 0


@pytest.mark.parametrize(
    ("party", "kind"),
    [(0, "seal"), (1, "signature"), (1, "initials"), (0, "stamp")],
)
def test_a_kind_the_party_cannot_have_is_refused_by_the_service(client, sender, draft, party, kind):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])

    response = client.post(
        url, editor_payload([person(), organisation()], [box(party, kind)]), HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 400
    shown = [str(m) for m in response.context["messages"]]
    assert any("(field 1: " in m for m in shown), shown
    assert draft.fields.count() == 0


def test_a_cross_page_seal_is_not_drawn_as_a_box(client, sender, draft):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])

    response = client.post(
        url, editor_payload([organisation()], [box(0, "cross_page_seal")]), HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 400
    assert any("editor sent something unexpected" in str(m) for m in response.context["messages"])
    assert draft.fields.count() == 0


def test_a_checkbox_of_a_signature_s_size_is_refused(client, sender, draft):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])

    response = client.post(
        url, editor_payload([person()], [box(0, "checkbox", name="agree")]), HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 400
    assert any("checkbox" in str(m) for m in response.context["messages"])
    assert draft.fields.count() == 0


@pytest.mark.parametrize(
    ("extra", "detail"),
    [({"required": "yes"}, "required"), ({"name": 7}, "name"), ({"label": ["x"]}, "label")],
)
def test_a_malformed_field_is_the_editor_s_error(client, sender, draft, extra, detail):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])

    response = client.post(
        url, editor_payload([person()], [box(0, "text", **extra)]), HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 400
    shown = [str(m) for m in response.context["messages"]]
    assert any("unexpected" in m and detail in m for m in shown), shown
    assert draft.fields.count() == 0


def test_a_field_on_a_rotated_page_keeps_its_kind_and_lands_where_it_was_drawn(client, sender, draft):
    # Given page 1 shown turned by 90 degrees (an A4 page displayed landscape)
    draft.page_rotations = [90, 0]
    draft.save(update_fields=["page_rotations"])
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])
    drawn = [
        box(0, "text", name="buyer_address", label="Address", x=0, y=0, width=200, height=30),
        box(0, "checkbox", name="agree", required=False, x=100, y=100, width=16, height=12),
    ]

    response = client.post(url, editor_payload([person()], drawn))

    assert response.status_code == 302
    text = draft.fields.get(kind=Kind.TEXT)
    # the displayed lower-left corner is the user-space lower-right; width and height swap
    page_width = draft.page_sizes[0][2] - draft.page_sizes[0][0]
    assert (text.x, text.y, text.width, text.height) == pytest.approx((page_width - 30, 0, 30, 200), abs=0.01)
    assert (text.name, text.label, text.required) == ("buyer_address", "Address", True)
    checkbox = draft.fields.get(kind=Kind.CHECKBOX)
    assert (checkbox.width, checkbox.height, checkbox.required) == (12, 16, False)
    # and the editor shows both as drawn
    state = client.get(url).context["state"]
    assert [f["kind"] for f in state["fields"]] == ["text", "checkbox"]
    assert [(f["x"], f["y"], f["width"], f["height"]) for f in state["fields"]] == [
        pytest.approx((0, 0, 200, 30), abs=0.01),
        pytest.approx((100, 100, 16, 12), abs=0.01),
    ]


def test_to_user_fields_keeps_name_label_and_required():
    envelope = Envelope(page_sizes=[[0, 0, 595, 842]], page_rotations=[270])
    drawn = FieldSpec(
        party=0, page=1, x=0, y=0, width=200, height=50, kind="number", name="n", label="L", required=False
    )

    (user,) = editor.to_user_fields(envelope, [drawn])

    assert (user.kind, user.name, user.label, user.required) == ("number", "n", "L", False)
    assert (user.width, user.height) == (50, 200)

"""Story-sized builders for signing tests, all going through the real services."""

from __future__ import annotations

import json

from econtract.accounts.services import add_member
from econtract.pki import custody

PIN = {"sender": "582914", "first": "246810", "second": "135790"}


def spec(parties, fields=(), title="测试合同 Test Agreement", **extra) -> str:
    return json.dumps({"title": title, "parties": list(parties), "fields": list(fields), **extra})


def people(make_user, enterprise):
    """A sender in the enterprise and two signers with verified emails and signing PINs."""
    sender = make_user("sender@acme.test", "赵六 Zhao Liu")
    add_member(enterprise, sender)
    first = make_user("first@example.test", "张三 Zhang San")
    second = make_user("second@example.test", "李四 Li Si")
    custody.set_signing_pin(first, PIN["first"])
    custody.set_signing_pin(second, PIN["second"])
    return sender, first, second


def create_and_send(client, pdf: bytes, parties, fields=(), **extra) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/api/v1/envelopes",
        {
            "document": SimpleUploadedFile("c.pdf", pdf, "application/pdf"),
            "spec": spec(parties, fields, **extra),
        },
    )
    assert response.status_code == 201, response.content
    envelope = response.json()
    response = client.post(f"/api/v1/envelopes/{envelope['id']}/send")
    assert response.status_code == 200, response.content
    return response.json()


def sign_as(client, outbox, envelope: dict, party_index: int, email: str, pin: str):
    party_id = envelope["parties"][party_index]["id"]
    response = client.post(f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/otp")
    assert response.status_code == 200, response.content
    code = outbox.last_code(email)
    return client.post(
        f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/sign",
        {"otp": code, "pin": pin},
        content_type="application/json",
    )

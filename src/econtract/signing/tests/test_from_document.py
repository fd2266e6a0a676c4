"""A template filled, reviewed, made final and sent for signing: its placeholders become the parties'
fields at the boxes where they were rendered; the buyer fills her address and signs."""

from __future__ import annotations

import io
import subprocess

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from econtract.signing.models import Envelope, SignatureField
from econtract.signing.tests.factories import PIN, people

pytestmark = pytest.mark.django_db(transaction=True)

TEMPLATE = (
    "<h1>买卖合同 Sales Contract</h1>"
    "<p>买方 Buyer：{{ buyer.name }}；卖方 Seller：{{ seller.name }}</p>"
    "<p>价款：{{ total | money }} 元（大写：{{ total | money_capital }}）</p>"
    "<p>买方地址：{{ text: buyer_address }}</p>"
    "<p>买方签字：{{ signature: buyer }} 日期：{{ date_signed: buyer }}</p>"
    "<p>卖方签字：{{ signature: seller }}</p>"
)


def _json(client, method, url, body=None):
    return getattr(client, method)(url, body or {}, content_type="application/json")


def test_a_final_document_becomes_an_envelope_whose_fields_sit_where_the_placeholders_were(
    make_user, enterprise, api_client, outbox, tmp_path
):
    sender, buyer, seller = people(make_user, enterprise)
    sender_api = api_client(sender, enterprise)
    # Given a template of the sender's organisation, filled into a document, made final
    template = _json(sender_api, "post", "/api/v1/templates", {"title": "买卖合同", "html": TEMPLATE}).json()
    created = _json(
        sender_api,
        "post",
        f"/api/v1/templates/{template['id']}/documents",
        {"values": {"buyer": {"name": "张三"}, "seller": {"name": "李四"}, "total": "1680.32"}},
    )
    document_id = created.json()["id"]
    # (a draft cannot be sent)
    response = _json(
        sender_api,
        "post",
        f"/api/v1/documents/{document_id}/envelope",
        {
            "parties": [
                {"role": "buyer", "name": "张三", "email": "first@example.test"},
                {"role": "seller", "name": "李四", "email": "second@example.test", "order": 2},
            ]
        },
    )
    assert response.status_code == 409 and response.json()["error"] == "document_not_final"
    assert (
        _json(sender_api, "post", f"/api/v1/documents/{document_id}/status", {"status": "final"}).status_code
        == 200
    )
    # When it is sent for signing with a party for each role
    parties = [
        {"role": "buyer", "name": "张三", "email": "first@example.test"},
        {"role": "seller", "name": "李四", "email": "second@example.test", "order": 2},
    ]
    response = _json(sender_api, "post", f"/api/v1/documents/{document_id}/envelope", {"parties": parties})
    assert response.status_code == 201, response.content
    envelope = response.json()
    # Then the envelope's PDF is the rendered document, and each placeholder is a field of its party
    rendered = sender_api.get(f"/api/v1/documents/{document_id}/pdf")
    assert envelope["original_sha256"] == rendered["X-Document-SHA256"]
    kinds = {(f["kind"], f["name"]) for f in envelope["fields"]}
    assert kinds == {("signature", ""), ("text", "buyer_address"), ("date_signed", "date_signed_buyer")}
    by_party = {p["id"]: p["name"] for p in envelope["parties"]}
    address = next(f for f in envelope["fields"] if f["name"] == "buyer_address")
    assert by_party[address["party_id"]] == "张三" and address["page"] == 1
    # and a party for a role the document does not have is refused
    response = _json(
        sender_api,
        "post",
        f"/api/v1/documents/{document_id}/envelope",
        {"parties": [*parties, {"role": "witness", "name": "王五", "email": "w@example.test", "order": 3}]},
    )
    assert response.status_code == 400 and "witness" in response.json()["detail"]

    # When it is sent and the buyer fills her address and signs, then the seller signs
    assert sender_api.post(f"/api/v1/envelopes/{envelope['id']}/send").status_code == 200
    for client, index, email, values in (
        (api_client(buyer), 0, "first@example.test", {"buyer_address": "福州市鼓楼区五四路 1 号"}),
        (api_client(seller), 1, "second@example.test", {}),
    ):
        party_id = envelope["parties"][index]["id"]
        base = f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}"
        assert client.post(f"{base}/otp").status_code == 200
        pin = PIN["first"] if index == 0 else PIN["second"]
        response = _json(
            client, "post", f"{base}/sign", {"otp": outbox.last_code(email), "pin": pin, "values": values}
        )
        assert response.status_code == 200, response.content
    # Then the contract is complete, her address is in the signed PDF's form field, not its page content
    stored = Envelope.objects.get(pk=envelope["id"])
    assert stored.status == Envelope.Status.COMPLETED
    final = stored.current_document().read_bytes()
    path = tmp_path / "final.pdf"
    path.write_bytes(final)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True).stdout.decode()  # noqa: S603,S607
    assert "福州市鼓楼区五四路 1 号" in text and "壹仟陆佰捌拾元零叁角贰分" in text
    field = next(
        f.get_object()
        for f in PdfFileReader(io.BytesIO(final)).root["/AcroForm"]["/Fields"]
        if f.get_object()["/T"] == "buyer_address"
    )
    assert field["/V"] == "福州市鼓楼区五四路 1 号"
    # and the field's box in the PDF is the box the renderer gave the placeholder
    row = SignatureField.objects.get(envelope=stored, name="buyer_address")
    rect = [float(v) for v in field["/Rect"]]
    assert abs(rect[0] - row.x) <= 1 and abs(rect[1] - row.y) <= 1

"""Fields a signer fills (text, number, checkbox, date signed): created empty at send, filled in her own
revision, locked by her signature, refused when required and empty."""

from __future__ import annotations

import io
import subprocess

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import FieldMDPAction

from econtract.signing.models import Envelope, SignatureField
from econtract.signing.tests.factories import PIN, create_and_send, people
from econtract.signing.tests.test_field_locks import _econtract_verify, _pyhanko_judgement, _signatures

pytestmark = pytest.mark.django_db(transaction=True)

PARTIES = [
    {"name": "张三", "email": "first@example.test", "order": 1},
    {"name": "李四", "email": "second@example.test", "order": 2},
]
FIELDS = [
    {"party": 0, "page": 1, "x": 50, "y": 60, "width": 180, "height": 60},
    {
        "party": 0,
        "kind": "text",
        "name": "first_address",
        "label": "地址 Address",
        "page": 1,
        "x": 50,
        "y": 200,
        "width": 250,
        "height": 20,
    },
    {
        "party": 0,
        "kind": "checkbox",
        "name": "first_agree",
        "page": 1,
        "x": 50,
        "y": 240,
        "width": 14,
        "height": 14,
    },
    {"party": 0, "kind": "date_signed", "page": 1, "x": 50, "y": 130, "width": 120, "height": 18},
    {"party": 1, "page": 1, "x": 300, "y": 60, "width": 180, "height": 60},
    {
        "party": 1,
        "kind": "number",
        "name": "second_units",
        "required": False,
        "page": 1,
        "x": 300,
        "y": 200,
        "width": 100,
        "height": 20,
    },
]


@pytest.fixture
def cast(make_user, enterprise, api_client):
    sender, first, second = people(make_user, enterprise)
    return {
        "sender": api_client(sender, enterprise),
        "first": api_client(first),
        "second": api_client(second),
    }


def _sign(client, outbox, envelope, index, email, pin, values, *, new_code=True):
    party_id = envelope["parties"][index]["id"]
    base = f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}"
    if new_code:
        assert client.post(f"{base}/otp").status_code == 200
    return client.post(
        f"{base}/sign",
        {"otp": outbox.last_code(email), "pin": pin, "values": values},
        content_type="application/json",
    )


def _text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True).stdout.decode()  # noqa: S603,S607


def test_she_fills_her_fields_in_her_own_revision_and_her_signature_locks_them(
    cast, sample_pdf, outbox, tmp_path
):
    # Given an envelope whose first party has a text field, a checkbox and a date-signed field
    envelope = create_and_send(cast["sender"], sample_pdf, PARTIES, FIELDS)
    stored = Envelope.objects.get(pk=envelope["id"])
    # then sending added the empty form fields in a revision of their own, before any signature
    assert [r.reason for r in stored.revisions.all()] == ["original", "form_fields"]
    reader = PdfFileReader(io.BytesIO(stored.current_document().read_bytes()))
    names = {f.get_object()["/T"] for f in reader.root["/AcroForm"]["/Fields"]}
    assert names == {"first_address", "first_agree", "date_signed_1_1", "second_units"}
    # and she can read her fields
    party_id = envelope["parties"][0]["id"]
    listed = (
        cast["first"].get(f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/fields").json()["items"]
    )
    assert {f["name"]: f["kind"] for f in listed if f["name"]} == {
        "first_address": "text",
        "first_agree": "checkbox",
        "date_signed_1_1": "date_signed",
    }

    # When she signs without her required address, then 400 field_required and nothing is signed
    response = _sign(
        cast["first"], outbox, envelope, 0, "first@example.test", PIN["first"], {"first_agree": True}
    )
    assert response.status_code == 400 and response.json()["error"] == "field_required"
    assert Envelope.objects.get(pk=envelope["id"]).parties.filter(status="signed").count() == 0
    # and a value for a field that is not hers, or a date she types herself, is refused too
    for values in (
        {"first_address": "x", "first_agree": True, "second_units": "3"},
        {"first_address": "x", "first_agree": True, "date_signed_1_1": "2020-01-01"},
    ):
        response = _sign(
            cast["first"], outbox, envelope, 0, "first@example.test", PIN["first"], values, new_code=False
        )
        assert response.status_code == 400 and response.json()["error"] == "invalid_field_value"

    # When she signs with her values, and the second party signs leaving his optional number empty
    # (the code sent before still works: a refused value spends no code and no PIN attempt)
    values = {"first_address": "北京市朝阳区建国路 1 号", "first_agree": True}
    response = _sign(
        cast["first"], outbox, envelope, 0, "first@example.test", PIN["first"], values, new_code=False
    )
    assert response.status_code == 200, response.content
    response = _sign(cast["second"], outbox, envelope, 1, "second@example.test", PIN["second"], {})
    assert response.status_code == 200 and response.json()["status"] == "completed"

    # Then the final PDF shows her values, and the fields and the evidence keep them
    final = Envelope.objects.get(pk=envelope["id"]).current_document().read_bytes()
    text = _text(final, tmp_path)
    assert "北京市朝阳区建国路 1 号" in text
    date_field = SignatureField.objects.get(envelope_id=envelope["id"], name="date_signed_1_1")
    assert date_field.value and date_field.value in text
    assert SignatureField.objects.get(envelope_id=envelope["id"], name="first_agree").value == "Yes"
    # and her signature locks (FieldMDP) exactly her signature field and the fields she filled
    first, second = _signatures(final)
    assert first.fieldmdp.action == FieldMDPAction.INCLUDE
    assert set(first.fieldmdp.fields) == {first.field_name, "first_address", "first_agree", "date_signed_1_1"}
    assert _pyhanko_judgement(first).bottom_line and _pyhanko_judgement(second).bottom_line
    checkbox = next(
        f.get_object()
        for f in PdfFileReader(io.BytesIO(final)).root["/AcroForm"]["/Fields"]
        if f.get_object()["/T"] == "first_agree"
    )
    assert checkbox["/V"] == "/Yes" and checkbox["/AS"] == "/Yes"
    # and our verifier finds the whole document valid
    code, report = _econtract_verify(tmp_path, final)
    assert code == 0 and report["valid"] is True, report


def test_field_specs_are_checked_when_the_envelope_is_created(cast, sample_pdf):
    def create(fields):
        from django.core.files.uploadedfile import SimpleUploadedFile

        from econtract.signing.tests.factories import spec

        return cast["sender"].post(
            "/api/v1/envelopes",
            {
                "document": SimpleUploadedFile("c.pdf", sample_pdf, "application/pdf"),
                "spec": spec(PARTIES, fields),
            },
        )

    box = {"page": 1, "x": 50, "y": 200, "width": 100, "height": 20}
    for bad in (
        [{"party": 0, "kind": "text", "name": "a.b", **box}],  # PDF field names forbid periods
        [{"party": 0, "kind": "text", "name": "Signature_1", **box}],  # would clash with signature fields
        [
            {"party": 0, "kind": "text", "name": "dup", **box},
            {"party": 1, "kind": "text", "name": "dup", **box},
        ],
        [{"party": 0, "kind": "checkbox", "name": "big", **box}],  # a checkbox is at most 40 points
    ):
        response = create(bad)
        assert response.status_code == 400, (bad, response.content)
        assert response.json()["error"] == "invalid_envelope"

"""The archive's records: from completed envelopes and from uploaded signed PDFs, with their verdicts."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from econtract.contracts.models import Contract, ContractFile

# completed_envelope's mails go out after commit
pytestmark = pytest.mark.django_db(transaction=True)


def _tampered(signed: bytes) -> bytes:
    """One byte of the first page's MediaBox changed: the file still opens, the signed bytes differ."""
    at = signed.index(b"595.28 841.89")
    mutated = bytearray(signed)
    mutated[at] ^= 0x01
    return bytes(mutated)


def _archive(client, pdf: bytes, metadata: dict | None = None, name: str = "contract.pdf"):
    body = {"document": SimpleUploadedFile(name, pdf, "application/pdf")}
    if metadata is not None:
        body["metadata"] = json.dumps(metadata, ensure_ascii=False)
    return client.post("/api/v1/contracts", body)


@pytest.fixture
def signed(completed_envelope):
    return completed_envelope.envelope.current_document().read_bytes()


def test_a_completed_envelope_gets_its_record_with_both_pdfs_and_a_number(completed_envelope):
    envelope = completed_envelope.envelope
    contract = Contract.objects.get(envelope=envelope)
    assert contract.number == f"HT-{timezone.localdate():%Y}-00001"
    assert contract.source == "envelope" and contract.verdict == "valid"
    assert contract.signed_at == envelope.completed_at
    assert [party["name"] for party in contract.counterparties] == ["张三", "李四"]
    files = {stored.kind: stored for stored in contract.files.all()}
    assert set(files) == {"original", "signed"}
    assert files["signed"].sha256 == envelope.current_document().sha256
    assert hashlib.sha256(files["signed"].read_bytes()).hexdigest() == files["signed"].sha256
    assert files["original"].sha256 == envelope.original_sha256

    listed = completed_envelope.sender_api.get("/api/v1/contracts").json()["items"]
    assert [item["id"] for item in listed] == [str(contract.pk)]
    # someone of no organisation of the contract sees nothing, and the record answers 404
    assert completed_envelope.outsider_api.get("/api/v1/contracts").json()["items"] == []
    assert completed_envelope.outsider_api.get(f"/api/v1/contracts/{contract.pk}").status_code == 404


def test_an_uploaded_signed_pdf_is_verified_and_a_tampered_one_is_archived_as_altered(
    completed_envelope, signed, sample_pdf
):
    client = completed_envelope.sender_api
    good = _archive(
        client, signed, {"title": "年度采购框架协议", "number": "EXT-2026-1", "amount": "1680.32"}
    )
    assert good.status_code == 201, good.content
    assert good.json()["verdict"] == "valid"
    assert good.json()["number"] == "EXT-2026-1"
    assert good.json()["amount"] == "1680.32"
    stored = ContractFile.objects.get(contract_id=good.json()["id"])
    assert stored.kind == "signed" and stored.read_bytes() == signed

    altered = _archive(client, _tampered(signed), {"title": "tampered"})
    assert altered.status_code == 201, altered.content
    assert altered.json()["verdict"] == "altered"
    # numbered by the pattern, after the envelope's own record
    assert altered.json()["number"] == f"HT-{timezone.localdate():%Y}-00002"

    unsigned = _archive(client, sample_pdf, {"title": "unsigned"})
    assert unsigned.status_code == 201 and unsigned.json()["verdict"] == "unsigned"

    taken = _archive(client, sample_pdf, {"number": "EXT-2026-1"})
    assert taken.status_code == 409 and taken.json()["error"] == "number_taken"


@pytest.mark.django_db  # no mail to wait for: a plain transaction is enough (and faster)
@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ({"amount": "12.345"}, "invalid_contract"),
        ({"amount": "NaN"}, "invalid_contract"),
        ({"currency": "yuan"}, "invalid_contract"),
        ({"title": "a\x00b"}, "invalid_text"),
        ({"expires_on": "2020-01-01", "effective_on": "2021-01-01"}, "invalid_contract"),
        ({"metadata": {"cost_centre": "x"}}, "invalid_contract"),
        ({"colour": "red"}, "invalid_contract"),
    ],
)
def test_bad_metadata_is_refused_and_nothing_is_stored(enterprise, api_client, sample_pdf, metadata, code):
    client = api_client(enterprise.memberships.get().user, enterprise)
    response = _archive(client, sample_pdf, metadata)
    assert response.status_code in (400, 422), response.content
    assert response.json()["error"] == code, response.json()
    assert not Contract.objects.exists() and not ContractFile.objects.exists()


@pytest.mark.django_db
def test_a_file_that_is_not_a_pdf_is_refused(enterprise, api_client):
    client = api_client(enterprise.memberships.get().user, enterprise)
    response = _archive(client, b"<html><script>alert(1)</script></html>", {})
    assert response.status_code == 415 and response.json()["error"] == "not_pdf"
    assert not Contract.objects.exists()


def test_attachments_are_served_only_as_downloads_and_the_package_holds_exactly_its_files(
    completed_envelope, signed
):
    client = completed_envelope.sender_api
    contract = Contract.objects.get(envelope=completed_envelope.envelope)
    html = b"<html><script>alert(document.cookie)</script></html>"
    added = client.post(
        f"/api/v1/contracts/{contract.pk}/attachments",
        {"file": SimpleUploadedFile("报价单.html", html, "text/html"), "description": "quote"},
    )
    assert added.status_code == 201, added.content
    download = client.get(f"/api/v1/contracts/{contract.pk}/files/{added.json()['id']}")
    assert download.status_code == 200 and download.content == html
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"

    amendment = client.post(
        f"/api/v1/contracts/{contract.pk}/amendments",
        {
            "relation": "supplement",
            "document": SimpleUploadedFile("supplement.pdf", signed, "application/pdf"),
            "metadata": json.dumps({"title": "补充协议", "number": "SUP-1"}),
        },
    )
    assert amendment.status_code == 201, amendment.content
    assert amendment.json()["amends"] == str(contract.pk)
    detail = client.get(f"/api/v1/contracts/{contract.pk}").json()
    assert [link["number"] for link in detail["amendments"]] == ["SUP-1"]

    package = client.get(f"/api/v1/contracts/{contract.pk}/package")
    assert package.status_code == 200, package.content
    assert package["X-Content-SHA256"] == hashlib.sha256(package.content).hexdigest()
    archive = zipfile.ZipFile(io.BytesIO(package.content))
    names = set(archive.namelist())
    sha = {name: hashlib.sha256(archive.read(name)).hexdigest() for name in names}
    expected_files = {
        "contract/original.pdf",
        "contract/signed.pdf",
        f"contract/attachments/01-{hashlib.sha256(html).hexdigest()[:12]}.html",
        "amendments/SUP-1/signed.pdf",
    }
    certificates = {name for name in names if name.startswith("certificates/")}
    evidence = {name for name in names if name.startswith("evidence/")}
    assert names == {"manifest.json"} | expected_files | certificates | evidence
    assert len(certificates) == 2  # the two signers' certificates
    assert sha["contract/signed.pdf"] == hashlib.sha256(signed).hexdigest()
    assert sha["amendments/SUP-1/signed.pdf"] == hashlib.sha256(signed).hexdigest()
    assert (
        sha[f"contract/attachments/01-{hashlib.sha256(html).hexdigest()[:12]}.html"]
        == hashlib.sha256(html).hexdigest()
    )
    manifest = json.loads(archive.read("manifest.json"))
    assert {entry["path"]: entry["sha256"] for entry in manifest["files"]} == {
        name: digest for name, digest in sha.items() if name != "manifest.json"
    }
    assert manifest["contract"]["number"] == contract.number

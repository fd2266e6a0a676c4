"""The public verification page."""

from __future__ import annotations

import io
import sys
import types
import zipfile
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from econtract.verification.tests import pki_fixtures as fx

PACKAGE_MODULE = "econtract.evidence.package_verify"


def post(client, data: bytes, language: str = "en", name: str = "c.pdf"):
    return client.post(
        reverse("web:verify_page"),
        {"document": SimpleUploadedFile(name, data, "application/pdf")},
        HTTP_ACCEPT_LANGUAGE=language,
    )


def verdict_of(response) -> str:
    return response.context["verdict"].sentence


@pytest.fixture
def signed_contract(sent, signer) -> bytes:
    """The sent envelope, signed by its one party through the services: the platform's own PDF."""
    from econtract.evidence.services import RequestContext
    from econtract.identity import services as otp_service
    from econtract.identity.models import OtpChallenge
    from econtract.pki import custody
    from econtract.signing import services

    custody.set_signing_pin(signer, "246810")
    party = sent.parties.get()
    issued = otp_service.issue_otp(
        purpose=OtpChallenge.Purpose.SIGN,
        subject=str(party.id),
        destination=party.email,
        subject_line="code",
        intro="code",
    )
    envelope = services.sign(
        sent.id, party.id, signer, otp=issued.code, pin="246810", context=RequestContext.system("test")
    )
    return bytes(envelope.current_document().read_bytes())


def test_garbage_is_refused_with_a_reason(client, db):
    response = client.post(
        reverse("web:verify_page"),
        {"document": SimpleUploadedFile("x.pdf", b"hello, not a pdf", "application/pdf")},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["document"]
    assert "report" not in response.context


def test_an_unsigned_pdf_reads_as_not_signed(client, db, sample_pdf):
    response = client.post(
        reverse("web:verify_page"), {"document": SimpleUploadedFile("c.pdf", sample_pdf, "application/pdf")}
    )
    assert response.status_code == 200
    report = response.context["report"]
    assert report["signatures"] == [] and not report["valid"]


def test_a_signed_contract_reads_as_valid(client, signed_contract, signer):
    response = post(client, signed_contract, name="signed.pdf")
    assert response.status_code == 200
    report = response.context["report"]
    assert report["valid"], report
    assert [s["ok"] for s in report["signatures"]] == [True]
    assert [s["status"] for s in report["signatures"]] == ["valid"] and report["mode"] == "strict"
    page = response.content.decode()
    assert 'id="reading-mode">strict<' in page
    assert response.context["verdict"].level == "valid"
    sentence = (
        "This document has not been changed since it was signed, and its signatures belong to "
        f"{signer.full_name}, certified by the econtract root."
    )
    assert verdict_of(response) == sentence
    assert 'class="plain-verdict plain-verdict-valid"' in page
    # the plain answer comes first, the experts' details after it
    assert page.index(sentence) < page.index('id="reading-mode"') < page.index("Signature 1")

    chinese = post(client, signed_contract, language="zh-hans")
    assert (
        verdict_of(chinese)
        == f"这份文件自签署以来未被改动，签名属于{signer.full_name}（由 econtract 根证书认证）。"
    )
    assert verdict_of(chinese) in chinese.content.decode()


def test_a_contract_changed_after_signing_names_the_signature(client, signed_contract, signer):
    # an incremental update that draws new text on page 1 (an Incremental Saving Attack)
    changed = fx.append_page_content(signed_contract)
    response = post(client, changed)
    assert response.status_code == 200
    assert response.context["verdict"].level == "changed"
    sentence = (
        f"This document was changed after signature 1 (by {signer.full_name}): "
        "it no longer shows exactly what was signed."
    )
    assert verdict_of(response) == sentence
    page = response.content.decode()
    assert 'class="plain-verdict plain-verdict-changed"' in page
    assert page.index(sentence) < page.index('class="card report"')
    assert response.context["report"]["signatures"][0]["modification"] == "other"

    chinese = post(client, changed, language="zh-hans")
    assert verdict_of(chinese) == (
        f"这份文件在第 1 次签名（{signer.full_name}）后被改动过：它显示的内容已不完全是当初签署的内容。"
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "This PDF is not signed: nothing in it shows who made it or that it has not been changed."),
        ("zh-hans", "这份 PDF 没有签名：其中没有任何内容能证明它由谁制作，或它未被改动过。"),
    ],
)
def test_an_unsigned_pdf_says_so_first(client, db, sample_pdf, language, expected):
    response = post(client, sample_pdf, language=language)
    assert response.status_code == 200
    assert response.context["verdict"].level == "unsigned"
    assert verdict_of(response) == expected
    page = response.content.decode()
    assert page.index(expected) < page.index('class="card report"')


def test_an_unreadable_file_gets_a_sentence_too(client, db):
    response = post(client, b"%PDF-1.7\n%garbage\n")
    assert response.status_code == 400
    assert response.context["verdict"].level == "error"
    assert "This file could not be checked" in response.content.decode()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", "{}")
    return buffer.getvalue()


def test_an_evidence_package_is_refused_clearly_while_the_server_cannot_check_it(client, db, monkeypatch):
    monkeypatch.setitem(sys.modules, PACKAGE_MODULE, None)  # import fails: the module is absent
    response = post(client, _zip(), name="evidence.zip")
    assert response.status_code == 400
    assert response.context["verdict"].level == "error"
    assert "Evidence packages cannot be checked on this server yet." in response.content.decode()
    assert "report" not in response.context


@dataclass
class FakeCheck:
    name: str
    ok: bool
    detail: str


@dataclass
class FakePackageReport:
    ok: bool
    checks: list[FakeCheck] = field(default_factory=list)
    summary: str = ""


def _fake_module(monkeypatch, result: FakePackageReport) -> list[dict[str, object]]:
    calls: list[dict[str, object]] = []

    def verify_package(data: bytes, *, log_keys=(), witness_keys=(), trust_roots=()):
        calls.append(
            {"data": data, "log_keys": log_keys, "witness_keys": witness_keys, "trust_roots": trust_roots}
        )
        return result

    module = types.ModuleType(PACKAGE_MODULE)
    module.verify_package = verify_package  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, PACKAGE_MODULE, module)
    return calls


def test_an_evidence_package_that_checks_out(client, db, monkeypatch, settings):
    settings.ECONTRACT_WITNESSES = "https://w.example/ w.example+1234abcd+AAAA"
    result = FakePackageReport(True, [FakeCheck("inclusion proof", True, "leaf 3 of 8")], "3 events")
    calls = _fake_module(monkeypatch, result)
    data = _zip()
    response = post(client, data, name="evidence.zip")
    assert response.status_code == 200
    (call,) = calls
    assert call["data"] == data and call["witness_keys"] == ("w.example+1234abcd+AAAA",)
    assert len(call["log_keys"]) == 1  # this server's log key
    from econtract.pki.services import root_certificate

    assert [c.dump() for c in call["trust_roots"]] == [root_certificate().dump()]  # ours, not the package's
    page = response.content.decode()
    sentence = "Every piece of evidence in this package checks out."
    assert verdict_of(response) == sentence
    assert page.index(sentence) < page.index('id="package-report"') < page.index("inclusion proof")


def test_an_evidence_package_names_the_failed_check(client, db, monkeypatch):
    result = FakePackageReport(
        False, [FakeCheck("inclusion proof", True, ""), FakeCheck("checkpoint signature", False, "bad key")]
    )
    _fake_module(monkeypatch, result)
    response = post(client, _zip(), language="zh-hans", name="evidence.zip")
    assert response.status_code == 200
    assert response.context["verdict"].level == "changed"
    assert verdict_of(response) == "这份证据包未通过核验：“checkpoint signature”一项未通过（bad key）。"
    assert "✗" in response.content.decode()


def test_a_broken_evidence_package_reads_as_unreadable(client, db, monkeypatch):
    def verify_package(data: bytes, *, log_keys=(), witness_keys=(), trust_roots=()):
        raise zipfile.BadZipFile("truncated")

    module = types.ModuleType(PACKAGE_MODULE)
    module.verify_package = verify_package  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, PACKAGE_MODULE, module)
    response = post(client, b"PK\x03\x04 cut off", name="evidence.zip")
    assert response.status_code == 400
    assert response.context["verdict"].level == "error"
    assert "This evidence package could not be read" in response.content.decode()


@pytest.fixture
def real_package(completed_envelope) -> bytes:
    """A real evidence package, downloaded as a member of the sending organisation downloads it."""
    envelope = completed_envelope.envelope
    response = completed_envelope.sender_api.get(f"/api/v1/envelopes/{envelope.pk}/evidence-package")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"
    return response.content


@pytest.mark.django_db(transaction=True)
def test_a_real_evidence_package_checks_out_and_a_tampered_one_does_not(client, real_package):
    # Given a real package of a completed envelope, uploaded to the verification page
    response = post(client, real_package, name="evidence.zip")
    # Then the page answers with the valid sentence and lists the checks
    assert response.status_code == 200
    assert verdict_of(response) == "Every piece of evidence in this package checks out."
    assert response.context["package"].trust_source == "given"  # this platform's root, not the package's
    # Given the same package with bytes appended
    response = post(client, real_package + b"appended", name="evidence.zip")
    # Then it does not check out, naming the container check
    assert response.status_code == 200
    assert response.context["verdict"].level == "changed"
    assert "does not check out" in verdict_of(response) and "container" in verdict_of(response)

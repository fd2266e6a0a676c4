"""The public verification page."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse


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


def test_a_signed_contract_reads_as_valid(client, sent, signer):
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
    signed = envelope.current_document().read_bytes()

    response = client.post(
        reverse("web:verify_page"),
        {"document": SimpleUploadedFile("signed.pdf", signed, "application/pdf")},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    report = response.context["report"]
    assert report["valid"], report
    assert [s["ok"] for s in report["signatures"]] == [True]
    assert [s["status"] for s in report["signatures"]] == ["valid"] and report["mode"] == "strict"
    page = response.content.decode()
    assert 'id="reading-mode">strict<' in page
    assert "Valid: every signature is intact and trusted" in page
    assert signer.full_name in page

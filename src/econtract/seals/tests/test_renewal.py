"""Renewing a seal's certificate ("maintained"): a new certificate for the same key, naming the
organisation as it is verified now; the old one revoked as superseded; earlier signatures still
validate; managers only, never a revoked or retired seal; through the API and the seal page."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation import DocumentSecurityStore, validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from econtract.accounts.errors import NotPermitted
from econtract.accounts.models import Organization
from econtract.evidence.models import Event
from econtract.evidence.services import chain_is_intact
from econtract.pki.hierarchy import platform_chain
from econtract.pki.issuance import arl_der, certificate_status, crl_der
from econtract.pki.models import IssuedCertificate
from econtract.pki.tsa import InProcessTimeStamper
from econtract.pki.validation import signing_validation_context_for
from econtract.seals import services
from econtract.seals.errors import OrganizationUnverified, SealNotActive
from econtract.seals.models import Seal
from econtract.seals.tests.seal_factories import CONTEXT, facts, grant, make_seal, office

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
NEW_NAME = "福州示例新材料科技有限公司"


def _certificate(seal: Seal) -> x509.Certificate:
    return x509.load_der_x509_certificate(bytes(seal.certificate.certificate_der))


def _public_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _status(seal_certificate: IssuedCertificate):  # type: ignore[no-untyped-def]
    return certificate_status(
        bytes.fromhex(seal_certificate.issuer_key_id), int(seal_certificate.serial_number)
    )


def _seal_pdf(seal: Seal, pdf: bytes) -> bytes:
    """What signing does with a seal: its key unsealed in memory, PAdES B-LT with a timestamp and the
    revocation data of the moment embedded."""
    key, certificate = services.seal_signing_material(seal)
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = signers.SimpleSigner(
        signing_cert=certificate,
        signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
        cert_registry=SimpleCertificateStore.from_certs(platform_chain()),
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Seal1",
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        embed_validation_info=True,
        validation_context=signing_validation_context_for([certificate]),
    )
    out = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer, timestamper=InProcessTimeStamper()
    )
    return out.getvalue()


def _kinds(seal: Seal) -> list[str]:
    return list(
        Event.objects.filter(subject_type="seals.seal", subject_id=str(seal.pk))
        .order_by("sequence")
        .values_list("kind", flat=True)
    )


# --- the verb ---------------------------------------------------------------------------------------


def test_renewal_certifies_the_same_key_under_the_organisations_current_name(make_user):  # type: ignore[no-untyped-def]
    # Given a seal, and its organisation renamed since (its registered name verified anew)
    company = office(make_user)
    seal = make_seal(company)
    old = seal.certificate
    old_cert = _certificate(seal)
    Organization.objects.filter(pk=company.org.pk).update(name=NEW_NAME)
    # when the seal keeper renews its certificate
    renewed = services.renew_certificate(seal, company.keeper, reason="更名", context=CONTEXT)
    # then the seal points at a new certificate for the very same public key
    new_cert = _certificate(renewed)
    assert renewed.certificate.pk != old.pk
    assert new_cert.serial_number != old_cert.serial_number
    assert _public_der(new_cert) == _public_der(old_cert) == bytes(renewed.public_key_der)
    # naming the organisation as it is now, with its USCC
    assert new_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == NEW_NAME
    assert new_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == NEW_NAME
    assert renewed.certificate.subject_dn.count("NTRCN-91350100M000100Y43") == 1
    assert renewed.certificate.organization_id == company.org.pk
    # valid 730 days from now (not_before is set a little in the past, for clock skew)
    assert abs(renewed.certificate.not_after - (timezone.now() + timedelta(days=730))) < timedelta(minutes=5)
    # the old one is revoked as superseded, the new one good
    old.refresh_from_db()
    assert _status(old).status == "revoked" and _status(old).reason == "superseded"
    assert _status(renewed.certificate).status == "good"
    crl = asn1_crl.CertificateList.load(crl_der())
    listed = {
        entry["user_certificate"].native: entry.crl_reason_value.native
        for entry in crl["tbs_cert_list"]["revoked_certificates"]
    }
    assert listed.get(old_cert.serial_number) == "superseded" and new_cert.serial_number not in listed
    # the seal stays what it was, and its key still opens (for the new certificate)
    stored = Seal.objects.get(pk=seal.pk)
    assert stored.status == Seal.Status.ACTIVE and stored.certificate_id == renewed.certificate.pk
    key, certificate = services.seal_signing_material(stored)
    assert certificate.dump() == new_cert.public_bytes(serialization.Encoding.DER)
    assert key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == _public_der(new_cert)
    # and the seal's chain records the renewal with both serials
    assert _kinds(seal)[-1] == "seal_certificate_renewed"
    event = (
        Event.objects.filter(subject_type="seals.seal", subject_id=str(seal.pk)).order_by("sequence").last()
    )
    assert event is not None
    assert event.payload["old_certificate_serial"] == old.serial_number
    assert event.payload["new_certificate_serial"] == renewed.certificate.serial_number
    assert event.payload["reason"] == "更名"
    assert chain_is_intact(seal)


def test_a_seal_signature_made_before_renewal_still_validates(make_user, sample_pdf):  # type: ignore[no-untyped-def]
    # Given a PDF sealed (PAdES B-LT, timestamped) before the seal's certificate was renewed
    company = office(make_user)
    seal = make_seal(company)
    old_serial = int(seal.certificate.serial_number)
    sealed = _seal_pdf(seal, sample_pdf)
    # when the certificate is renewed, the one that signed revoked as superseded
    services.renew_certificate(seal, company.keeper, context=CONTEXT)
    _, root = platform_chain()
    reader = PdfFileReader(io.BytesIO(sealed))
    embedded = reader.embedded_signatures[0]
    assert embedded.signer_cert.serial_number == old_serial
    # then against the platform root with only what the document embeds, the signature validates
    dss = DocumentSecurityStore.read_dss(reader).as_validation_context(
        {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "require"}
    )
    status = validate_pdf_signature(embedded, dss)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    signed_at = status.timestamp_validity.timestamp
    # and with today's CRL, which lists the certificate as revoked, it validates at its signing time
    issuing, _ = platform_chain()
    crls = [asn1_crl.CertificateList.load(crl_der()), asn1_crl.CertificateList.load(arl_der())]

    def context(moment):  # type: ignore[no-untyped-def]
        return ValidationContext(
            trust_roots=[root],
            other_certs=[issuing],
            crls=crls,
            moment=moment,
            allow_fetching=False,
            revocation_mode="require",
            retroactive_revinfo=True,
        )

    at_signing = validate_pdf_signature(embedded, context(signed_at))
    assert at_signing.intact and at_signing.valid and at_signing.trusted, at_signing.pretty_print_details()
    # while the same certificate, judged now, is revoked: nothing new validates with it
    now = validate_pdf_signature(embedded, context(None))
    assert not now.bottom_line and now.revoked


def test_the_renewed_seal_keeps_its_grants_and_signs_with_the_new_certificate(make_user, sample_pdf):  # type: ignore[no-untyped-def]
    # Given a member holding a grant of a seal whose certificate has run out
    company = office(make_user)
    seal = make_seal(company)
    grant(seal, company.keeper, user=company.member)
    IssuedCertificate.objects.filter(pk=seal.certificate_id).update(
        not_before=timezone.now() - timedelta(days=731), not_after=timezone.now() - timedelta(days=1)
    )
    with pytest.raises(SealNotActive):
        services.authorize_use(seal, company.member, facts(company))
    # when a manager renews it
    renewed = services.renew_certificate(seal, company.admin, context=CONTEXT)
    # then her grant covers it again, and what she seals is signed by the new certificate
    decision = services.authorize_use(renewed, company.member, facts(company))
    assert decision.grant.user == company.member
    signed = PdfFileReader(io.BytesIO(_seal_pdf(renewed, sample_pdf))).embedded_signatures[0]
    assert str(signed.signer_cert.serial_number) == renewed.certificate.serial_number
    status = validate_pdf_signature(signed, signing_validation_context_for([signed.signer_cert]))
    assert status.bottom_line, status.pretty_print_details()


def test_a_suspended_seal_is_renewed_and_stays_suspended(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = services.suspend(make_seal(company), company.keeper, context=CONTEXT)
    renewed = services.renew_certificate(seal, company.owner, context=CONTEXT)
    assert renewed.status == Seal.Status.SUSPENDED
    assert _status(renewed.certificate).status == "good"


@pytest.mark.parametrize("role", ["member", "auditor", "legal"])
def test_only_managers_renew(make_user, role):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    serial = seal.certificate.serial_number
    with pytest.raises(NotPermitted):
        services.renew_certificate(seal, getattr(company, role), context=CONTEXT)
    assert Seal.objects.get(pk=seal.pk).certificate.serial_number == serial
    assert _status(seal.certificate).status == "good"


@pytest.mark.parametrize("verb", ["revoke", "retire"])
def test_a_revoked_or_retired_seal_is_never_renewed(make_user, verb):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = getattr(services, verb)(make_seal(company), company.keeper, context=CONTEXT)
    with pytest.raises(SealNotActive):
        services.renew_certificate(seal, company.keeper, context=CONTEXT)
    assert IssuedCertificate.objects.filter(organization=company.org).count() == 1


def test_a_certificate_revoked_on_its_own_is_not_renewed_for_the_same_key(make_user):  # type: ignore[no-untyped-def]
    # A certificate revoked outside the seal's lifecycle (e.g. key compromise reported to the CA)
    company = office(make_user)
    seal = make_seal(company)
    from econtract.pki.issuance import revoke_certificate

    revoke_certificate(seal.certificate, "key_compromise")
    with pytest.raises(SealNotActive):
        services.renew_certificate(seal, company.keeper, context=CONTEXT)
    assert IssuedCertificate.objects.filter(organization=company.org).count() == 1


def test_an_organisation_no_longer_verified_gets_no_new_certificate(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    Organization.objects.filter(pk=company.org.pk).update(
        verification_status=Organization.VerificationStatus.UNVERIFIED
    )
    with pytest.raises(OrganizationUnverified):
        services.renew_certificate(seal, company.keeper, context=CONTEXT)
    assert _status(seal.certificate).status == "good"


# --- the API ----------------------------------------------------------------------------------------


def _post(client, url: str, body: dict | None = None):  # type: ignore[no-untyped-def]
    return client.post(url, data=body or {}, content_type="application/json", **EN)


def test_renew_through_the_api(make_user, api_client):  # type: ignore[no-untyped-def]
    # Given a seal and its keeper's API key
    company = office(make_user)
    seal = make_seal(company)
    old_serial = seal.certificate.serial_number
    # when she renews it, with a reason or with no body at all
    first = _post(api_client(company.keeper), f"/api/v1/seals/{seal.pk}/renew", {"reason": "到期"})
    second = api_client(company.keeper).generic("POST", f"/api/v1/seals/{seal.pk}/renew", b"", **EN)
    # then each answers the seal with a new certificate serial
    assert first.status_code == 200, first.content
    assert second.status_code == 200, second.content
    serials = {old_serial, first.json()["certificate_serial"], second.json()["certificate_serial"]}
    assert len(serials) == 3
    assert first.json()["status"] == "active" and first.json()["certificate_revoked_at"] is None
    assert second.json()["certificate_serial"] == Seal.objects.get(pk=seal.pk).certificate.serial_number


def test_renew_is_refused_to_members_auditors_outsiders_and_revoked_seals(make_user, api_client):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    url = f"/api/v1/seals/{seal.pk}/renew"
    for person in (company.member, company.auditor):
        refused = _post(api_client(person), url)
        assert refused.status_code == 403 and refused.json()["error"] == "not_permitted"
    outsider = make_user("outsider@elsewhere.test", "外人 Outsider")
    assert _post(api_client(outsider), url).status_code == 404
    services.revoke(seal, company.keeper, context=CONTEXT)
    revoked = _post(api_client(company.keeper), url)
    assert revoked.status_code == 409 and revoked.json()["error"] == "seal_not_active"


def test_renew_is_in_the_openapi_document(client):  # type: ignore[no-untyped-def]
    operation = client.get("/api/openapi.json").json()["paths"]["/api/v1/seals/{seal_id}/renew"]["post"]
    assert {"200", "400", "401", "403", "404", "409", "422"} <= set(operation["responses"])


# --- the seal page ----------------------------------------------------------------------------------


def _browser(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client(**EN)
    client.force_login(user)
    return client


def test_a_manager_renews_the_certificate_from_the_seal_page(make_user):  # type: ignore[no-untyped-def]
    # Given a seal whose certificate ends in 30 days
    company = office(make_user)
    seal = make_seal(company)
    old_serial = seal.certificate.serial_number
    IssuedCertificate.objects.filter(pk=seal.certificate_id).update(
        not_after=timezone.now() + timedelta(days=30)
    )
    client = _browser(company.keeper)
    page = client.get(reverse("web:seal_detail", args=[seal.pk])).content.decode()
    # then its page shows the expiry, warns, and offers the renewal
    assert 'id="seal-cert-expiry"' in page and 'id="seal-cert-expiring"' in page
    assert "expires in 29 days" in page or "expires in 30 days" in page
    assert 'id="lifecycle-renew"' in page and "Renew certificate" in page
    # when she confirms the renewal
    response = client.post(
        reverse("web:seal_lifecycle", args=[seal.pk, "renew"]), {"reason": ""}, follow=True
    )
    # then the page says so and shows the new certificate, with no warning
    assert response.status_code == 200
    after = response.content.decode()
    seal.refresh_from_db()
    assert seal.certificate.serial_number != old_serial and seal.certificate.serial_number in after
    assert "new certificate for the same key" in after
    assert 'id="seal-cert-expiring"' not in after


def test_members_see_no_renew_button_and_cannot_post_it(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    serial = seal.certificate.serial_number
    client = _browser(company.member)
    page = client.get(reverse("web:seal_detail", args=[seal.pk])).content.decode()
    assert 'id="seal-cert-expiry"' in page and 'id="lifecycle-renew"' not in page
    response = client.post(reverse("web:seal_lifecycle", args=[seal.pk, "renew"]))
    assert response.status_code == 403
    assert Seal.objects.get(pk=seal.pk).certificate.serial_number == serial


def test_the_renew_form_needs_the_csrf_token(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    client = Client(enforce_csrf_checks=True, **EN)
    client.force_login(company.keeper)
    assert client.post(reverse("web:seal_lifecycle", args=[seal.pk, "renew"])).status_code == 403
    assert _status(Seal.objects.get(pk=seal.pk).certificate).status == "good"

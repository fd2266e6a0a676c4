from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from django.utils import timezone
from pyhanko_certvalidator import CertificateValidator, ValidationContext

from econtract.pki import ca, hierarchy, profile
from econtract.pki.models import PlatformCertificate
from econtract.pki.services import (
    ensure_platform_pki,
    issue_signing_certificate,
    platform_certificate,
    platform_chain,
    root_certificate,
    root_certificate_pem,
)


def crypto(cert) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())


def ext(cert: x509.Certificate, cls):
    return cert.extensions.get_extension_for_class(cls)


def verify_signed_by(child: x509.Certificate, issuer: x509.Certificate) -> None:
    child.verify_directly_issued_by(issuer)


@pytest.mark.django_db
def test_root_certificate_is_none_until_initialised_and_is_not_created_by_asking():
    assert root_certificate() is None
    assert not PlatformCertificate.objects.exists()
    ensure_platform_pki()
    assert root_certificate() is not None


@pytest.mark.django_db
def test_ensure_platform_pki_is_idempotent():
    ensure_platform_pki()
    first = {r.role: r.serial_number for r in PlatformCertificate.objects.all()}
    ensure_platform_pki()
    assert {r.role: r.serial_number for r in PlatformCertificate.objects.all()} == first
    assert set(first) == {"root", "issuing", "tsa", "ocsp", "evidence"}


@pytest.mark.django_db
def test_a_process_that_loses_the_creation_race_uses_the_winners_root():
    def build_after_another_process_won(key):
        ensure_platform_pki()  # the other process creates everything meanwhile
        return ca.build_root(key, timezone.now()), None

    hierarchy._ensure_role("root", build_after_another_process_won)

    roots = PlatformCertificate.objects.filter(role="root")
    assert roots.count() == 1
    issuing = crypto(platform_certificate("issuing"))
    verify_signed_by(issuing, crypto(root_certificate()))


def test_root_profile(pki):
    root = crypto(root_certificate())
    assert root.subject == root.issuer
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "econtract Root CA"
    assert root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "econtract"
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)
    assert root.public_key().curve.name == "secp384r1"
    assert root.not_valid_after_utc - root.not_valid_before_utc >= timedelta(days=20 * 365)
    bc = ext(root, x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = ext(root, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and not ku.value.digital_signature
    assert ext(root, x509.SubjectKeyIdentifier).value == x509.SubjectKeyIdentifier.from_public_key(
        root.public_key()
    )
    verify_signed_by(root, root)
    assert root_certificate_pem().startswith(b"-----BEGIN CERTIFICATE-----")


def test_issuing_ca_profile(pki):
    issuing_a, root_a = platform_chain()
    issuing, root = crypto(issuing_a), crypto(root_a)
    verify_signed_by(issuing, root)
    assert issuing.public_key().curve.name == "secp384r1"
    assert issuing.signature_hash_algorithm.name == "sha384"
    bc = ext(issuing, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ext(issuing, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    aki = ext(issuing, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ext(root, x509.SubjectKeyIdentifier).value.digest
    cdp = ext(issuing, x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == "http://127.0.0.1:8000/pki/root.crl"
    assert issuing.not_valid_after_utc - issuing.not_valid_before_utc >= timedelta(days=10 * 365)


def test_tsa_certificate_profile(pki):
    tsa, issuing = crypto(platform_certificate("tsa")), crypto(platform_certificate("issuing"))
    verify_signed_by(tsa, issuing)
    assert tsa.public_key().curve.name == "secp256r1"
    eku = ext(tsa, x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    ku = ext(tsa, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    assert not ext(tsa, x509.BasicConstraints).value.ca
    assert tsa.not_valid_after_utc - tsa.not_valid_before_utc >= timedelta(days=5 * 365)


def test_ocsp_responder_profile(pki):
    responder, issuing = crypto(platform_certificate("ocsp")), crypto(platform_certificate("issuing"))
    verify_signed_by(responder, issuing)
    assert responder.public_key().curve.name == "secp256r1"
    assert list(ext(responder, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert ext(responder, x509.OCSPNoCheck)
    assert ext(responder, x509.KeyUsage).value.digital_signature


def test_evidence_service_certificate_profile(pki):
    # The platform's document-signing certificate for evidence reports: issued by the issuing CA, the
    # signer profile's usages (pdfsig wants emailProtection), its own policy, revocable like any leaf
    evidence, issuing = crypto(platform_certificate("evidence")), crypto(platform_certificate("issuing"))
    verify_signed_by(evidence, issuing)
    assert evidence.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == profile.EVIDENCE_CN
    ku = ext(evidence, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    assert not ku.value.key_cert_sign and not ext(evidence, x509.BasicConstraints).value.ca
    eku = ext(evidence, x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert x509.ObjectIdentifier(profile.OID_KP_DOCUMENT_SIGNING) in eku
    policies = [p.policy_identifier.dotted_string for p in ext(evidence, x509.CertificatePolicies).value]
    assert policies == [profile.POLICY_EVIDENCE_SERVICE]
    issuing_policies = [
        p.policy_identifier.dotted_string for p in ext(issuing, x509.CertificatePolicies).value
    ]
    assert profile.POLICY_EVIDENCE_SERVICE in issuing_policies
    assert ext(evidence, x509.AuthorityInformationAccess) and ext(evidence, x509.CRLDistributionPoints)
    from econtract.pki.models import IssuedCertificate

    record = IssuedCertificate.objects.get(serial_number=str(evidence.serial_number))
    assert record.profile == "evidence" and record.user_id is None


def test_signing_certificate_profile_and_chain(pki, user):
    key = ec.generate_private_key(ec.SECP256R1())
    issued = issue_signing_certificate(user, key.public_key(), common_name="张三", pseudonym="EC-0123456789")

    cert = crypto(issued.certificate)
    issuing = crypto(platform_certificate("issuing"))
    verify_signed_by(cert, issuing)
    assert issued.user == user and issued in user.certificates.all()
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "张三"
    assert cert.subject.get_attributes_for_oid(NameOID.PSEUDONYM)[0].value == "EC-0123456789"
    # UTF8String (tag 12) for the Chinese name, as RFC 5280 §4.1.2.6 requires for new certificates
    cn = issued.certificate.subject.chosen[0][0]
    assert cn["value"].name == "utf8_string"
    assert int(issued.serial_number) == cert.serial_number > 0
    assert cert.serial_number.bit_length() <= 159 and len(issued.serial_number) <= 64

    ku = ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    assert not ku.value.key_cert_sign
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in ext(cert, x509.ExtendedKeyUsage).value
    assert ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == hierarchy.issuing_key_id()
    aia = {d.access_method: d.access_location.value for d in ext(cert, x509.AuthorityInformationAccess).value}
    assert aia[AuthorityInformationAccessOID.OCSP] == "http://127.0.0.1:8000/pki/ocsp"
    assert aia[AuthorityInformationAccessOID.CA_ISSUERS] == "http://127.0.0.1:8000/pki/issuing.der"
    cdp = ext(cert, x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == "http://127.0.0.1:8000/pki/crl"
    policies = [p.policy_identifier.dotted_string for p in ext(cert, x509.CertificatePolicies).value]
    assert policies == [profile.POLICY_NATURAL_PERSON_SIGNING]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= timedelta(days=730, minutes=1)


def test_signing_certificate_validates_with_pyhanko_to_our_root(pki, user):
    key = ec.generate_private_key(ec.SECP256R1())
    issued = issue_signing_certificate(user, key.public_key(), common_name="张三", pseudonym="EC-1")
    issuing, root = platform_chain()
    context = ValidationContext(trust_roots=[root], other_certs=[issuing], revocation_mode="soft-fail")
    validator = CertificateValidator(issued.certificate, validation_context=context)
    path = asyncio.run(validator.async_validate_usage({"non_repudiation", "digital_signature"}))
    assert [c.subject.human_friendly for c in path] == [
        root.subject.human_friendly,
        issuing.subject.human_friendly,
        issued.certificate.subject.human_friendly,
    ]


def test_no_certificate_outlives_its_issuer(pki, user):
    key = ec.generate_private_key(ec.SECP256R1())
    issued = issue_signing_certificate(
        user, key.public_key(), common_name="A", pseudonym="P", validity_days=40000
    )
    assert issued.not_after == crypto(platform_certificate("issuing")).not_valid_after_utc


def test_rejects_weak_keys_and_oversized_names(pki, user):
    with pytest.raises(ValueError):
        issue_signing_certificate(
            user, ec.generate_private_key(ec.SECP256K1()).public_key(), common_name="A", pseudonym="P"
        )
    with pytest.raises(ValueError):
        issue_signing_certificate(
            user, ec.generate_private_key(ec.SECP256R1()).public_key(), common_name="x" * 65, pseudonym="P"
        )


def test_tsa_key_rolls_over_after_its_key_use_period(pki):
    current = PlatformCertificate.objects.get(role="tsa", active=True)
    issuing = hierarchy.platform_identity("issuing")
    year_ago = timezone.now() - profile.TSA_KEY_USE - timedelta(days=1)
    old_key = ec.generate_private_key(ec.SECP256R1())
    old_cert = ca.build_tsa(old_key.public_key(), issuing.certificate, issuing.private_key, year_ago)
    hierarchy._store("tsa", old_cert, old_key, replaces=current, issuer_key_id=issuing.key_id)
    old = PlatformCertificate.objects.get(role="tsa", active=True)
    assert hierarchy._due_for_rollover(old, timezone.now())

    ensure_platform_pki()

    new = PlatformCertificate.objects.get(role="tsa", active=True)
    assert new.pk != old.pk and new.serial_number != old.serial_number
    old.refresh_from_db()
    assert not old.active
    assert not hierarchy._due_for_rollover(new, timezone.now())
    # both remain on record for CRL/OCSP: tokens signed by the old key still need status answers
    from econtract.pki.models import IssuedCertificate

    assert (
        IssuedCertificate.objects.filter(serial_number__in=[old.serial_number, new.serial_number]).count()
        == 2
    )

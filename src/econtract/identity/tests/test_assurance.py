"""Certificates follow identity: no certificate names a person nobody verified (issue 8, item 6)."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from econtract.accounts.services import create_personal_account
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext
from econtract.identity import assurance, verification
from econtract.identity.errors import (
    AssuranceRequired,
    IdentityInUse,
    InvalidIdNumber,
    InvalidVerificationRequest,
    VerificationNotPending,
)
from econtract.identity.models import IdentityVerification
from econtract.identity.tests.factories import verify_identity
from econtract.pki import custody
from econtract.pki.models import IssuedCertificate, SignerKey

PIN = "246810"
CONTEXT = RequestContext.system("test")


@pytest.fixture(autouse=True)
def fast_kdf(settings):
    settings.ECONTRACT_PIN_KDF_MEMORY_KIB = 64
    settings.ECONTRACT_PIN_KDF_PASSES = 1


@pytest.fixture
def mallory(db):
    """Registered with a name she typed, her email confirmed, nothing else."""
    return create_personal_account("mallory@example.org", None, "张丽 Alice Zhang", email_verified=True)


def certificate_of(user) -> x509.Certificate:
    key = SignerKey.objects.select_related("certificate").get(user=user)
    return x509.load_der_x509_certificate(bytes(key.certificate.certificate_der))


def attribute(certificate: x509.Certificate, oid) -> str:
    values = certificate.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def policies(certificate: x509.Certificate) -> list[str]:
    extension = certificate.extensions.get_extension_for_class(x509.CertificatePolicies)
    return [policy.policy_identifier.dotted_string for policy in extension.value]


def test_a_typed_name_gets_no_certificate(mallory):
    assert assurance.level_of(mallory) == "L1"
    with pytest.raises(AssuranceRequired) as refused:
        custody.set_signing_pin(mallory, PIN)
    assert (refused.value.required, refused.value.current) == ("L2", "L1")
    assert not IssuedCertificate.objects.filter(user=mallory).exists()
    assert not SignerKey.objects.filter(user=mallory).exists()


def test_the_certificate_names_the_verified_person_country_level_and_a_pseudonym(mallory):
    verify_identity(mallory, name="张丽", id_number="110105199003070025")
    assert mallory.assurance_level == "L2" and mallory.full_name == "张丽"
    custody.set_signing_pin(mallory, PIN)
    certificate = certificate_of(mallory)
    assert attribute(certificate, NameOID.COMMON_NAME) == "张丽"
    assert attribute(certificate, NameOID.COUNTRY_NAME) == "CN"
    assert attribute(certificate, NameOID.PSEUDONYM).startswith("EC-")
    assert "110105199003070025" not in certificate.subject.rfc4514_string()
    assert policies(certificate) == ["1.3.6.1.4.1.55555.1.1.2"]
    assert IssuedCertificate.objects.get(user=mallory).assurance_level == "L2"


def test_the_policy_arc_is_configurable(mallory, settings):
    settings.ECONTRACT_POLICY_OID_ARC = "1.2.156.999.7"
    verify_identity(mallory, name="张丽", level="L3", method="bank_4el")
    custody.set_signing_pin(mallory, PIN)
    assert policies(certificate_of(mallory)) == ["1.2.156.999.7.3"]


def test_a_certificate_issued_before_verification_is_revoked_and_reissued_for_the_same_key(mallory, settings):
    settings.ECONTRACT_MIN_SIGNING_ASSURANCE = "L1"
    custody.set_signing_pin(mallory, PIN)
    before = certificate_of(mallory)
    # At L1 the certificate says only what was verified: the address.
    assert attribute(before, NameOID.COMMON_NAME) == "mallory@example.org"
    san = before.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["mallory@example.org"]
    assert policies(before) == ["1.3.6.1.4.1.55555.1.1.1"]

    verify_identity(mallory, name="张丽")
    after = certificate_of(mallory)
    assert attribute(after, NameOID.COMMON_NAME) == "张丽"
    assert after.public_key() == before.public_key()  # the key under her PIN is untouched
    old = IssuedCertificate.objects.get(serial_number=str(before.serial_number))
    assert old.revoked_at is not None and old.revocation_reason == "superseded"
    # and the PIN still unlocks the key, now with the new certificate
    _, issued = custody.unwrap_signing_key(mallory, PIN)
    assert issued.serial_number == str(after.serial_number)


def test_a_name_change_reissues_a_stronger_check_raises_the_level(mallory):
    verify_identity(mallory, name="张丽")
    custody.set_signing_pin(mallory, PIN)
    first = certificate_of(mallory)
    verify_identity(mallory, name="张丽", level="L3", method="bank_4el")
    stronger = certificate_of(mallory)
    assert stronger.serial_number != first.serial_number
    assert policies(stronger) == ["1.3.6.1.4.1.55555.1.1.3"]
    verify_identity(mallory, name="张丽华", id_number="110101198808150137")
    renamed = certificate_of(mallory)
    assert attribute(renamed, NameOID.COMMON_NAME) == "张丽华"
    # A new name starts over: the bank check was of the old identity.
    assert policies(renamed) == ["1.3.6.1.4.1.55555.1.1.2"]
    assert IssuedCertificate.objects.filter(user=mallory, revoked_at__isnull=True).count() == 1


def test_revoking_the_verification_revokes_the_certificate(mallory):
    verify_identity(mallory, name="张丽")
    custody.set_signing_pin(mallory, PIN)
    serial = str(certificate_of(mallory).serial_number)
    current = assurance.current_identity(mallory)
    verification.revoke_verification(current, reason="the holder asked", context=CONTEXT)
    mallory.refresh_from_db()
    assert mallory.assurance_level == "L1"
    revoked = IssuedCertificate.objects.get(serial_number=serial)
    assert revoked.revocation_reason == "privilege_withdrawn"
    with pytest.raises(AssuranceRequired):
        custody.set_signing_pin(mallory, "975310")
    kinds = list(Event.objects.filter(subject_id=str(current.pk)).values_list("kind", flat=True))
    assert kinds == ["identity_verification_started", "identity_verified", "identity_revoked"]


def test_a_pin_reset_needs_a_verification_at_the_keys_level_and_makes_a_new_key(mallory):
    verify_identity(mallory, name="张丽", level="L3", method="bank_4el", id_number="11010519491231002X")
    custody.set_signing_pin(mallory, PIN)
    old_serial = str(certificate_of(mallory).serial_number)
    weaker = verification.create_pending(
        mallory,
        method="id_2el",
        name="张丽",
        id_type="cn_resident",
        id_number="11010519491231002X",
        purpose="pin_reset",
        context=CONTEXT,
    )
    verification.mark_verified(weaker, provider="test", context=CONTEXT)
    assert SignerKey.objects.filter(user=mallory).exists()  # L2 does not reset an L3 key
    strong = verification.create_pending(
        mallory,
        method="bank_4el",
        name="张丽",
        id_type="cn_resident",
        id_number="11010519491231002X",
        purpose="pin_reset",
        context=CONTEXT,
    )
    verification.mark_verified(strong, provider="test", context=CONTEXT)
    assert not SignerKey.objects.filter(user=mallory).exists()
    assert IssuedCertificate.objects.get(serial_number=old_serial).revoked_at is not None
    custody.set_signing_pin(mallory, "975310")
    assert str(certificate_of(mallory).serial_number) != old_serial


def test_a_decision_is_taken_once(mallory):
    pending = verification.create_pending(mallory, method="manual", name="张丽", context=CONTEXT)
    verification.mark_rejected(pending, reason="blurred photo", context=CONTEXT)
    with pytest.raises(VerificationNotPending):
        verification.mark_verified(pending, provider="operator", context=CONTEXT)
    assert IdentityVerification.objects.get(pk=pending.pk).status == "rejected"


def test_a_malformed_number_costs_no_provider_call(mallory, settings):
    # A provider that cannot answer: had it been asked, the error would be provider_unavailable.
    settings.ECONTRACT_IDP_URL = "http://127.0.0.1:9/"
    with pytest.raises(InvalidIdNumber):
        verification.start_verification(
            mallory,
            method="id_2el",
            name="张丽",
            id_type="cn_resident",
            id_number="110105199003070026",
            context=CONTEXT,
            client="192.0.2.1",
        )
    assert not IdentityVerification.objects.filter(user=mallory).exists()


def test_id_numbers_are_sealed_and_masked(mallory):
    verify_identity(mallory, name="张丽", id_number="110105199003070025")
    row = IdentityVerification.objects.get(user=mallory)
    assert b"110105199003070025" not in bytes(row.id_number_sealed)
    assert row.id_number_masked == "110***********0025"
    assert assurance.summary(mallory)["id_number_masked"] == "110***********0025"


def test_a_certificate_below_a_raised_minimum_is_revoked_when_next_used(mallory, settings):
    settings.ECONTRACT_MIN_SIGNING_ASSURANCE = "L1"
    custody.set_signing_pin(mallory, PIN)
    serial = str(certificate_of(mallory).serial_number)
    settings.ECONTRACT_MIN_SIGNING_ASSURANCE = "L2"
    with pytest.raises(AssuranceRequired):
        custody.unwrap_signing_key(mallory, PIN)
    assert IssuedCertificate.objects.get(serial_number=serial).revocation_reason == "privilege_withdrawn"


def test_one_document_is_verified_for_one_account(mallory, make_user):
    alice = make_user("alice@example.test", "张丽", identity=None)
    verify_identity(alice, id_number="110105199003070025")
    with pytest.raises(IdentityInUse):
        verification.start_verification(
            mallory,
            method="id_2el",
            name="张丽",
            id_type="cn_resident",
            id_number="110105199003070025",
            context=CONTEXT,
            client="192.0.2.1",
        )
    with pytest.raises(IdentityInUse):
        verification.create_pending(
            mallory,
            method="manual",
            name="张丽",
            id_type="cn_resident",
            id_number="110105199003070025",
            context=CONTEXT,
        )
    assert not IdentityVerification.objects.filter(user=mallory).exists()
    # a party signing without an account is not an account holder: her check is not refused
    party = verification.create_pending(
        None,
        method="manual",
        name="张丽",
        id_type="cn_resident",
        id_number="110105199003070025",
        purpose="signing",
        context=CONTEXT,
    )
    assert party.user is None


def test_a_pin_reset_is_for_the_identity_of_the_key_only(mallory):
    with pytest.raises(InvalidVerificationRequest, match="no signing key"):
        verification.create_pending(
            mallory, method="manual", name="张丽", purpose="pin_reset", context=CONTEXT
        )
    verify_identity(mallory, name="张丽", id_number="11010519491231002X")
    custody.set_signing_pin(mallory, PIN)
    with pytest.raises(InvalidVerificationRequest, match="same name and document"):
        verification.create_pending(
            mallory,
            method="manual",
            name="王五",
            id_type="cn_resident",
            id_number="110101198808150137",
            purpose="pin_reset",
            context=CONTEXT,
        )
    assert SignerKey.objects.filter(user=mallory).exists()

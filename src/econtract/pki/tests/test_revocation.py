from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import call_command

from econtract.pki.errors import InvalidRevocationReason
from econtract.pki.models import IssuedCertificate, PlatformCertificate
from econtract.pki.services import (
    arl_der,
    crl_der,
    ensure_platform_pki,
    issue_signing_certificate,
    platform_certificate,
    revoke_certificate,
)


def issue(user, name="张三"):
    return issue_signing_certificate(
        user, ec.generate_private_key(ec.SECP256R1()).public_key(), common_name=name, pseudonym="EC-T"
    )


def load_crl(der: bytes) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl(der)


def test_crl_is_signed_by_the_issuing_ca_with_number_dates_and_aki(pki):
    crl = load_crl(crl_der())
    issuing = x509.load_der_x509_certificate(platform_certificate("issuing").dump())
    assert crl.issuer == issuing.subject
    assert crl.is_signature_valid(issuing.public_key())
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=7)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > 0
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert (
        aki.key_identifier
        == issuing.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    assert len(crl) == 0


def test_crl_lists_a_certificate_right_after_revocation(pki, user):
    kept, revoked = issue(user), issue(user)
    before = load_crl(crl_der())

    revoke_certificate(revoked, "key_compromise")

    crl = load_crl(crl_der())
    entry = crl.get_revoked_certificate_by_serial_number(revoked.serial_int)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    assert abs(entry.revocation_date_utc - revoked.revoked_at) < timedelta(seconds=1)
    assert crl.get_revoked_certificate_by_serial_number(kept.serial_int) is None
    number = lambda c: c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number  # noqa: E731
    assert number(crl) > number(before)


def test_revoking_twice_keeps_the_first_time_and_unknown_reasons_are_refused(pki, user):
    issued = issue(user)
    revoke_certificate(issued, "superseded")
    first = issued.revoked_at
    revoke_certificate(issued, "key_compromise")
    assert issued.revoked_at == first and issued.revocation_reason == "superseded"
    with pytest.raises(InvalidRevocationReason):
        revoke_certificate(issue(user), "certificate_hold")


def test_unspecified_reason_is_left_out_of_the_crl_entry(pki, user):
    issued = issue(user)
    revoke_certificate(issued, "unspecified")
    entry = load_crl(crl_der()).get_revoked_certificate_by_serial_number(issued.serial_int)
    assert len(entry.extensions) == 0


def test_root_crl_covers_the_issuing_ca(pki):
    arl = load_crl(arl_der())
    root = x509.load_der_x509_certificate(platform_certificate("root").dump())
    assert arl.issuer == root.subject and arl.is_signature_valid(root.public_key())
    assert len(arl) == 0


def test_revoking_the_tsa_certificate_retires_it_and_a_new_one_takes_over(pki):
    tsa = PlatformCertificate.objects.get(role="tsa", active=True)
    issued = IssuedCertificate.objects.get(serial_number=tsa.serial_number)
    revoke_certificate(issued, "key_compromise")
    ensure_platform_pki()
    assert PlatformCertificate.objects.get(role="tsa", active=True).serial_number != tsa.serial_number
    assert load_crl(crl_der()).get_revoked_certificate_by_serial_number(int(tsa.serial_number))


def test_revoke_command_by_serial(pki, user, capsys):
    issued = issue(user)
    call_command("revoke_certificate", hex(issued.serial_int), "--reason", "affiliation_changed")
    issued.refresh_from_db()
    assert issued.revocation_reason == "affiliation_changed"
    assert "Revoked" in capsys.readouterr().out


def test_init_pki_command_prints_the_root_fingerprint(db, capsys):
    call_command("init_pki")
    out = capsys.readouterr().out
    assert "econtract Root CA" in out and "SHA-256 fingerprint:" in out

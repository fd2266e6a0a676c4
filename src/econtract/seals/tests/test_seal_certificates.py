"""An organisation's seal certificate: its subject names the verified legal person, its profile
passes pkilint's RFC 5280 and ETSI EN 319 412 (legal person) linters, and its key is sealed to the seal."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator.registry import SimpleCertificateStore

from econtract.pki import ca, profile
from econtract.pki.errors import SealError
from econtract.pki.hierarchy import platform_chain
from econtract.pki.issuance import issue_organization_certificate
from econtract.pki.models import CertificateProfile
from econtract.pki.validation import signing_validation_context_for
from econtract.seals import keys, services
from econtract.seals.tests.seal_factories import make_seal, office

pytestmark = pytest.mark.django_db

# pkilint's commands sit beside the interpreter running the tests (the venv's bin), else on PATH
_VENV_BIN = Path(sys.executable).parent
BIN = (
    _VENV_BIN
    if (_VENV_BIN / "lint_pkix_cert").exists()
    else Path(shutil.which("lint_pkix_cert") or ".").parent
)


def _issue(organization):  # type: ignore[no-untyped-def]
    _, public_der, _ = keys.new_seal_key(uuid.uuid4())
    public_key = serialization.load_der_public_key(public_der)
    return issue_organization_certificate(organization, public_key)  # type: ignore[arg-type]


def _lint(tool: str, pem: Path, *args: str) -> list[str]:
    """pkilint's findings at WARNING or above, one line each (it prints nothing when clean)."""
    executable = BIN / tool
    if not executable.exists():
        pytest.fail(f"{tool} is missing: pip install pkilint (a test dependency in pyproject.toml)")
    done = subprocess.run(  # noqa: S603 - a fixed tool on a file we wrote
        [str(executable), "lint", *args, "-s", "WARNING", str(pem)],
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in done.stdout.splitlines() if line.strip()]


def test_subject_names_the_verified_organisation(verified_enterprise):  # type: ignore[no-untyped-def]
    # Given a verified enterprise, when a seal certificate is issued for it
    issued = _issue(verified_enterprise)
    cert = x509.load_der_x509_certificate(bytes(issued.certificate_der))
    subject = cert.subject
    # then the subject is C=CN, O=<name>, organizationIdentifier=NTRCN-<USCC>, CN=<name>
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "CN"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "福州示例科技有限公司"
    assert subject.get_attributes_for_oid(ca.OID_ORGANIZATION_IDENTIFIER)[0].value == (
        "NTRCN-91350100M000100Y43"
    )
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "福州示例科技有限公司"
    # and the record is an organisation certificate of that organisation, with no person behind it
    assert issued.profile == CertificateProfile.ORGANIZATION
    assert issued.organization_id == verified_enterprise.pk
    assert issued.user_id is None
    assert issued.assurance_level == ""
    # and it has the signer profile with the legal-person seal policy
    key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert key_usage.digital_signature and key_usage.content_commitment and not key_usage.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert x509.ObjectIdentifier(profile.OID_KP_DOCUMENT_SIGNING) in eku
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == [profile.POLICY_LEGAL_PERSON_SEAL]
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert {d.access_location.value for d in aia} == {
        profile.public_url(profile.PATH_OCSP),
        profile.public_url(profile.PATH_ISSUING_DER),
    }


def test_certificate_passes_pkilint_rfc5280_and_etsi_legal_person(verified_enterprise, tmp_path, settings):  # type: ignore[no-untyped-def]
    # Given a seal certificate of a verified organisation, from a platform at a public address
    # (ETSI refuses internal names such as 127.0.0.1 in the AIA and CRL URLs, and wants an http: CRL URL)
    settings.BASE_URL = "http://econtract.example.cn"
    issued = _issue(verified_enterprise)
    pem = tmp_path / "seal.pem"
    pem.write_bytes(
        x509.load_der_x509_certificate(bytes(issued.certificate_der)).public_bytes(serialization.Encoding.PEM)
    )
    # when both linters read it, then neither reports an error; the warnings left are explained:
    pkix = _lint("lint_pkix_cert", pem)
    assert not [line for line in pkix if "ERROR" in line or "FATAL" in line], pkix
    etsi = _lint("lint_etsi_cert", pem, "-t", "NCP-LEGAL-PERSON-CERTIFICATE")
    assert not [line for line in etsi if "ERROR" in line or "FATAL" in line], etsi
    assert not [line for line in pkix + etsi if "WARNING" in line and not _explained(line)], pkix + etsi


def test_evidence_service_certificate_passes_pkilint_rfc5280(tmp_path, settings):  # type: ignore[no-untyped-def]
    # Given the platform's evidence-service certificate (it signs evidence reports), at a public address
    settings.BASE_URL = "http://econtract.example.cn"
    from econtract.pki.services import ensure_platform_pki, platform_certificate

    ensure_platform_pki()
    pem = tmp_path / "evidence.pem"
    pem.write_bytes(
        x509.load_der_x509_certificate(platform_certificate("evidence").dump()).public_bytes(
            serialization.Encoding.PEM
        )
    )
    # when pkilint's RFC 5280 linter reads it, then it reports no error and no unexplained warning
    pkix = _lint("lint_pkix_cert", pem)
    assert not [line for line in pkix if "ERROR" in line or "FATAL" in line], pkix
    assert not [line for line in pkix if "WARNING" in line and not _explained(line)], pkix


# Warnings pkilint gives that are our decisions (docs/seals.md, "Certificate profile"):
EXPLAINED_WARNINGS = (
    # EN 319 412-2 §4.3.2 prefers nonRepudiation alone for content commitment; we keep
    # digitalSignature beside it, as on signer certificates, because PDF validators (NSS/pdfsig,
    # Adobe) check digitalSignature for a document signature.
    "mixed_key_usage_setting",
)


def _explained(line: str) -> bool:
    return any(code in line for code in EXPLAINED_WARNINGS)


def test_a_name_longer_than_the_organisation_name_bound_is_refused(verified_enterprise):  # type: ignore[no-untyped-def]
    # Given an organisation whose registered name is longer than ub-organization-name (64)
    verified_enterprise.name = "很" * 65
    # when a certificate is asked for, then it is refused: O is never shortened into another name
    with pytest.raises(ValueError, match="1..64"):
        _issue(verified_enterprise)


def test_sealed_key_opens_only_for_its_own_seal_row(verified_enterprise):  # type: ignore[no-untyped-def]
    # Given a key sealed for one seal id
    seal_id = uuid.uuid4()
    private_key, public_der, sealed = keys.new_seal_key(seal_id)

    class Row:  # the three columns unseal_seal_key reads (a Seal row has them)
        def __init__(self, id: uuid.UUID, public_key_der: bytes, sealed_private_key: bytes) -> None:
            self.id, self.public_key_der, self.sealed_private_key = id, public_key_der, sealed_private_key

    # when it is unsealed for that seal, then it is the same key
    opened = keys.unseal_seal_key(Row(seal_id, public_der, sealed))  # type: ignore[arg-type]
    assert opened.private_numbers() == private_key.private_numbers()
    # but moved to another seal's row, or paired with another public key, it does not open
    with pytest.raises(SealError):
        keys.unseal_seal_key(Row(uuid.uuid4(), public_der, sealed))  # type: ignore[arg-type]
    _, other_public, _ = keys.new_seal_key(seal_id)
    with pytest.raises(SealError):
        keys.unseal_seal_key(Row(seal_id, other_public, sealed))  # type: ignore[arg-type]


def test_a_pdf_signed_with_a_seal_validates_in_pyhanko_with_the_organisation_as_signer(make_user, sample_pdf):  # type: ignore[no-untyped-def]
    # Given a seal of a verified company (its key unsealed as signing would)
    company = office(make_user)
    seal = make_seal(company)
    key, certificate = services.seal_signing_material(seal)
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = signers.SimpleSigner(
        signing_cert=certificate,
        signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
        cert_registry=SimpleCertificateStore.from_certs(platform_chain()),
    )
    # when a PDF is signed with it
    out = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(sample_pdf)),
        signers.PdfSignatureMetadata(field_name="Seal1"),
        signer=signer,
        output=out,
    )
    # then pyHanko finds it intact, valid and trusted, signed by the company
    embedded = PdfFileReader(io.BytesIO(out.getvalue())).embedded_signatures[0]
    status = validate_pdf_signature(embedded, signing_validation_context_for([certificate]))
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.signing_cert.subject.native["organization_name"] == "福州示例科技有限公司"
    assert status.signing_cert.subject.native["organization_identifier"] == "NTRCN-91350100M000100Y43"

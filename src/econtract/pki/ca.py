"""Certificate builders for the platform hierarchy and for signers. Pure functions: no database.

Profiles (RFC 5280; ETSI EN 319 412-2 for natural persons; RFC 3161 §2.3 for the TSA; RFC 6960 §4.2.2.2
for the delegated OCSP responder):

    Root CA        P-384  BC cA critical; KU keyCertSign+cRLSign critical; SKI
    Issuing CA     P-384  BC cA pathLen 0 critical; KU keyCertSign+cRLSign critical; SKI, AKI; CDP -> ARL;
                          policies it issues under
    TSA            P-256  KU digitalSignature+nonRepudiation critical; EKU timeStamping critical
    OCSP responder P-256  KU digitalSignature critical; EKU OCSPSigning; id-pkix-ocsp-nocheck
    Signer         P-256  KU digitalSignature+nonRepudiation critical; EKU emailProtection+documentSigning
    Organisation   P-256  as Signer; subject C, O, organizationIdentifier, CN (ETSI EN 319 412-3 §4.2.1);
                          policy POLICY_LEGAL_PERSON_SEAL
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from econtract.pki import profile

# Certificate and CRL serials: 159 random bits, positive, at most 20 octets (RFC 5280 §4.1.2.2,
# CA/Browser Forum BR §7.1 asks for at least 64 bits of CSPRNG output).
random_serial_number = x509.random_serial_number

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
PrivateKey = ec.EllipticCurvePrivateKey


def generate_key(curve: ec.EllipticCurve) -> PrivateKey:
    return ec.generate_private_key(curve)


def signature_hash(issuer_key: PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    """Match the digest to the curve's strength: SHA-384 under P-384, SHA-256 under P-256."""
    if issuer_key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def platform_name(common_name: str) -> x509.Name:
    # countryName: ETSI EN 319 412-2 §4.2.3.1 / -3 §4.2.1 want it in the issuer of signer and seal
    # certificates. Only hierarchies created from now on carry it; existing CAs keep their names.
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, profile.PLATFORM_COUNTRY),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, profile.ORGANIZATION),
        ]
    )


def signer_name(common_name: str, pseudonym: str, country: str = "") -> x509.Name:
    # cryptography encodes these as UTF8String, so a Chinese name survives intact (RFC 5280 §4.1.2.6);
    # countryName is a PrintableString of two letters (X.520), written first as ETSI EN 319 412-2 does.
    attributes = [
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.PSEUDONYM, pseudonym),
    ]
    if country:
        attributes.insert(0, x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    return x509.Name(attributes)


UB_ORGANIZATION_NAME = 64  # RFC 5280 Appendix A ub-organization-name
UB_COMMON_NAME = 64
OID_ORGANIZATION_IDENTIFIER = x509.ObjectIdentifier("2.5.4.97")  # X.520 organizationIdentifier


def organization_identifier(uscc: str) -> str:
    """ETSI EN 319 412-1 §5.1.4: "NTR" (national trade register), the ISO 3166 country, a hyphen, the
    registration number; for a Chinese organisation the unified social credit code."""
    return f"NTRCN-{uscc}"


def organization_name(name: str, uscc: str, country: str = "CN") -> x509.Name:
    """The legal person's subject (ETSI EN 319 412-3 §4.2.1: countryName, organizationName,
    organizationIdentifier, commonName). O is never cut: a name past ub-organization-name is refused
    (a shortened legal name would name someone else); CN, a display name, shares the bound."""
    if not name or len(name) > UB_ORGANIZATION_NAME:
        raise ValueError(f"organisation name must be 1..{UB_ORGANIZATION_NAME} characters")
    if not (len(uscc) == 18 and uscc.isascii() and uscc.isalnum()):
        raise ValueError("the unified social credit code must be 18 letters and digits")
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(OID_ORGANIZATION_IDENTIFIER, organization_identifier(uscc)),
            x509.NameAttribute(NameOID.COMMON_NAME, name[:UB_COMMON_NAME]),
        ]
    )


def _base(
    subject: x509.Name,
    public_key: PublicKey,
    issuer: x509.Certificate | None,
    now: datetime,
    lifetime: timedelta,
) -> x509.CertificateBuilder:
    not_before = now - profile.NOT_BEFORE_BACKDATE
    not_after = now + lifetime
    if issuer is not None:
        # Nothing may outlive its issuer (RFC 5280 path validation would reject it past that date anyway).
        not_after = min(not_after, issuer.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(public_key)
        .serial_number(random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is not None:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    return builder


def _key_usage(
    *, digital_signature: bool = False, non_repudiation: bool = False, ca: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _revocation_pointers(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    """AIA (OCSP, caIssuers) and CRL distribution point for certificates the issuing CA signs."""
    return builder.add_extension(
        x509.AuthorityInformationAccess(
            [
                x509.AccessDescription(
                    AuthorityInformationAccessOID.OCSP,
                    x509.UniformResourceIdentifier(profile.public_url(profile.PATH_OCSP)),
                ),
                x509.AccessDescription(
                    AuthorityInformationAccessOID.CA_ISSUERS,
                    x509.UniformResourceIdentifier(profile.public_url(profile.PATH_ISSUING_DER)),
                ),
            ]
        ),
        critical=False,
    ).add_extension(_distribution_point(profile.PATH_CRL), critical=False)


def _distribution_point(path: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(profile.public_url(path))],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def _policies(*oids: str) -> x509.CertificatePolicies:
    return x509.CertificatePolicies(
        [x509.PolicyInformation(x509.ObjectIdentifier(oid), None) for oid in oids]
    )


def build_root(key: PrivateKey, now: datetime) -> x509.Certificate:
    builder = (
        _base(platform_name(profile.ROOT_CN), key.public_key(), None, now, profile.ROOT_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
    )
    return builder.sign(key, signature_hash(key))


def build_issuing(
    key: PrivateKey, root: x509.Certificate, root_key: PrivateKey, now: datetime
) -> x509.Certificate:
    builder = (
        _base(platform_name(profile.ISSUING_CN), key.public_key(), root, now, profile.ISSUING_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(_distribution_point(profile.PATH_ROOT_CRL), critical=False)
        # The policies certificates below it are issued under, so RFC 5280 policy processing carries them.
        .add_extension(
            _policies(
                *(profile.policy_oid_for_level(level) for level in profile.ASSURANCE_LEVELS),
                profile.POLICY_LEGAL_PERSON_SEAL,
                profile.POLICY_TIMESTAMPING,
                profile.POLICY_OCSP_RESPONDER,
                profile.POLICY_EVIDENCE_SERVICE,
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(profile.public_url(profile.PATH_ROOT_DER)),
                    )
                ]
            ),
            critical=False,
        )
    )
    return builder.sign(root_key, signature_hash(root_key))


def build_tsa(
    public_key: PublicKey, issuing: x509.Certificate, issuing_key: PrivateKey, now: datetime
) -> x509.Certificate:
    builder = (
        _base(platform_name(profile.TSA_CN), public_key, issuing, now, profile.TSA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, non_repudiation=True), critical=True)
        # RFC 3161 §2.3: the TSA certificate MUST carry exactly this EKU, marked critical.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(_policies(profile.POLICY_TIMESTAMPING), critical=False)
    )
    return _revocation_pointers(builder).sign(issuing_key, signature_hash(issuing_key))


def build_ocsp_responder(
    public_key: PublicKey, issuing: x509.Certificate, issuing_key: PrivateKey, now: datetime
) -> x509.Certificate:
    builder = (
        _base(platform_name(profile.OCSP_CN), public_key, issuing, now, profile.OCSP_RESPONDER_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        # RFC 6960 §4.2.2.2.1: relying parties need not check the responder's own revocation status.
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(_policies(profile.POLICY_OCSP_RESPONDER), critical=False)
    )
    return builder.sign(issuing_key, signature_hash(issuing_key))


def build_evidence_service(
    public_key: PublicKey, issuing: x509.Certificate, issuing_key: PrivateKey, now: datetime
) -> x509.Certificate:
    """The platform's document-signing certificate for evidence reports: the signer profile's key usage
    and EKUs (so pdfsig and pyHanko accept it), the platform's name, its own policy."""
    builder = (
        _base(platform_name(profile.EVIDENCE_CN), public_key, issuing, now, profile.EVIDENCE_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, non_repudiation=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.EMAIL_PROTECTION, x509.ObjectIdentifier(profile.OID_KP_DOCUMENT_SIGNING)]
            ),
            critical=False,
        )
        .add_extension(_policies(profile.POLICY_EVIDENCE_SERVICE), critical=False)
    )
    return _revocation_pointers(builder).sign(issuing_key, signature_hash(issuing_key))


def build_signer(
    public_key: PublicKey,
    *,
    common_name: str,
    pseudonym: str,
    issuing: x509.Certificate,
    issuing_key: PrivateKey,
    now: datetime,
    lifetime: timedelta,
    policy_oid: str = profile.POLICY_NATURAL_PERSON_SIGNING,
    country: str = "",
    email: str = "",
) -> x509.Certificate:
    builder = (
        _base(signer_name(common_name, pseudonym, country), public_key, issuing, now, lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, non_repudiation=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.EMAIL_PROTECTION, x509.ObjectIdentifier(profile.OID_KP_DOCUMENT_SIGNING)]
            ),
            critical=False,
        )
        .add_extension(_policies(policy_oid), critical=False)
    )
    if email:
        # The verified address, where the name is not verified (L1) or as the NSS email-signer usage wants.
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
    return _revocation_pointers(builder).sign(issuing_key, signature_hash(issuing_key))


def build_organization(
    public_key: PublicKey,
    *,
    name: str,
    uscc: str,
    issuing: x509.Certificate,
    issuing_key: PrivateKey,
    now: datetime,
    lifetime: timedelta,
    policy_oid: str = profile.POLICY_LEGAL_PERSON_SEAL,
) -> x509.Certificate:
    """A seal's certificate: the organisation is the subject; otherwise the signer profile, so that the
    same validators (NSS's email-signer usage, pyHanko's documentSigning) accept it."""
    builder = (
        _base(organization_name(name, uscc), public_key, issuing, now, lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, non_repudiation=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.EMAIL_PROTECTION, x509.ObjectIdentifier(profile.OID_KP_DOCUMENT_SIGNING)]
            ),
            critical=False,
        )
        .add_extension(_policies(policy_oid), critical=False)
    )
    return _revocation_pointers(builder).sign(issuing_key, signature_hash(issuing_key))

"""Seals: made for verified organisations only, seen by their members only, used under a live grant,
suspended, resumed, revoked and retired; every step on the seal's own evidence chain."""

from __future__ import annotations

import io
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from econtract.accounts.errors import NotPermitted
from econtract.accounts.tests.factories import BEIJING
from econtract.evidence.models import Event
from econtract.evidence.services import chain_is_intact
from econtract.pki.issuance import certificate_status
from econtract.seals import drawing, services
from econtract.seals.errors import (
    InvalidSeal,
    OrganizationUnverified,
    SealNotActive,
    SealNotAuthorized,
)
from econtract.seals.models import Seal, SealGrant, SealUsage
from econtract.seals.tests.seal_factories import CONTEXT, facts, grant, make_seal, office, use

pytestmark = pytest.mark.django_db


def _kinds(seal: Seal) -> list[str]:
    return list(
        Event.objects.filter(subject_type="seals.seal", subject_id=str(seal.pk))
        .order_by("sequence")
        .values_list("kind", flat=True)
    )


def _red_share(png: bytes) -> float:
    raw = Image.open(io.BytesIO(png)).convert("RGBA").tobytes()
    pixels = [raw[i : i + 4] for i in range(0, len(raw), 4) if raw[i + 3] > 128]
    red = [p for p in pixels if p[0] > 150 and p[1] < 90 and p[2] < 90]
    return len(red) / max(1, len(pixels))


# --- making ---------------------------------------------------------------------------------------


def test_a_seal_keeper_makes_a_round_contract_seal_with_its_own_certificate(make_user):  # type: ignore[no-untyped-def]
    # Given a verified company and its seal keeper
    company = office(make_user)
    # when she makes a round contract seal
    seal = make_seal(company)
    # then it is active, drawn with the type's words, and pictured in red on transparency
    assert seal.status == Seal.Status.ACTIVE
    assert seal.source == Seal.Source.GENERATED
    assert seal.type_text == drawing.type_text_for("contract") == "合同专用章"
    assert seal.drawing and seal.drawing_width > 0 and seal.drawing_height > 0
    image = Image.open(io.BytesIO(bytes(seal.image_png)))
    assert image.format == "PNG" and image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0  # transparent corner
    assert _red_share(bytes(seal.image_png)) > 0.9
    # and its certificate names the company and holds the seal's public key
    cert = x509.load_der_x509_certificate(bytes(seal.certificate.certificate_der))
    assert cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == bytes(seal.public_key_der)
    assert seal.certificate.organization_id == company.org.pk
    # and the sealed key signs for that certificate
    key, certificate = services.seal_signing_material(seal)
    signature = key.sign(b"contract", ec.ECDSA(hashes.SHA256()))
    cert.public_key().verify(signature, b"contract", ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg,arg-type]
    assert certificate.serial_number == cert.serial_number
    # and the evidence chain of the seal begins with its creation
    assert _kinds(seal) == ["seal_created"]
    event = Event.objects.get(subject_id=str(seal.pk))
    assert event.payload["certificate_serial"] == seal.certificate.serial_number
    assert "sealed_private_key" not in str(event.payload) and "PRIVATE" not in str(event.payload)


def test_the_legal_representative_seal_is_square_and_bears_her_name(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company, name="法人章", seal_type="legal_representative", shape="square")
    assert seal.shape == "square"
    assert _red_share(bytes(seal.image_png)) > 0.9
    # and a square shape for another type is refused, as a round legal representative seal
    with pytest.raises(InvalidSeal):
        make_seal(company, seal_type="contract", shape="square")
    with pytest.raises(InvalidSeal):
        make_seal(company, seal_type="legal_representative", shape="round")


def test_an_unverified_organisation_gets_no_seal(enterprise):  # type: ignore[no-untyped-def]
    # Given an enterprise that has not been verified, and its owner
    owner = enterprise.memberships.get(role="owner").user
    # when she asks for a seal, then it is refused as organization_unverified, and nothing is kept
    with pytest.raises(OrganizationUnverified) as refused:
        services.create_seal(
            enterprise, owner, name="公章", seal_type="official", shape="round", context=CONTEXT
        )
    assert refused.value.code == "organization_unverified"
    assert not Seal.objects.exists()


@pytest.mark.parametrize("role", ["legal", "auditor", "member"])
def test_only_seal_managers_make_seals(make_user, role):  # type: ignore[no-untyped-def]
    company = office(make_user)
    person = {"legal": company.legal, "auditor": company.auditor, "member": company.member}[role]
    with pytest.raises(NotPermitted):
        services.create_seal(
            company.org, person, name="公章", seal_type="official", shape="round", context=CONTEXT
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("seal_type", "stamp"), ("shape", "star"), ("code", "12345"), ("name", "合同\n专用章"), ("name", " ")],
)
def test_a_seal_that_cannot_be_made_is_refused(make_user, field, value):  # type: ignore[no-untyped-def]
    company = office(make_user)
    with pytest.raises(InvalidSeal):
        make_seal(company, **{field: value})


# --- seeing ---------------------------------------------------------------------------------------


def test_seals_are_seen_by_members_of_their_organisation_only(make_user):  # type: ignore[no-untyped-def]
    # Given a seal of one company and the member of another
    company = office(make_user)
    seal = make_seal(company)
    other = office(make_user, BEIJING, prefix="bj-")
    # then its own members see it, and the other company's owner does not, even by id
    assert list(services.seals_of(company.org, company.member)) == [seal]
    assert services.seal_visible_to(company.auditor, seal.pk) == seal
    assert list(services.seals_of(company.org, other.owner)) == []
    with pytest.raises(Seal.DoesNotExist):
        services.seal_visible_to(other.owner, seal.pk)
    with pytest.raises(Seal.DoesNotExist):
        services.seal_visible_to(company.member, uuid.uuid4())


# --- using ----------------------------------------------------------------------------------------


def test_a_member_with_a_grant_uses_the_seal_and_the_use_is_logged(make_user):  # type: ignore[no-untyped-def]
    # Given a seal granted by the keeper to a member
    company = office(make_user)
    seal = make_seal(company)
    given = grant(seal, company.keeper, user=company.member)
    envelope = facts(company)
    # when she is authorised and signing records the use
    decision = services.authorize_use(seal, company.member, envelope)
    usage = use(decision, envelope, company.member)
    # then the use names her, the grant and the envelope, on the seal's chain
    assert decision.grant == given and decision.approval is None
    assert usage.used_by == company.member and usage.grant == given and not usage.automatic
    assert usage.envelope_id == envelope.envelope_id
    assert _kinds(seal) == ["seal_created", "seal_granted", "seal_used"]
    used = Event.objects.get(subject_id=str(seal.pk), kind="seal_used")
    assert used.payload["grant"] == str(given.pk) and used.payload["used_by"] == str(company.member.pk)
    assert chain_is_intact(seal)


def test_a_member_without_a_grant_may_not_use_the_seal(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    grant(seal, company.keeper, user=company.member)
    with pytest.raises(SealNotAuthorized):
        services.authorize_use(seal, company.colleague, facts(company))


def test_a_member_of_another_organisation_may_not_use_the_seal(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    other = office(make_user, BEIJING, prefix="bj-")
    with pytest.raises(SealNotAuthorized):
        services.authorize_use(seal, other.member, facts(company))


def test_automatic_use_needs_an_automatic_grant_and_the_sealing_organisation_as_sender(make_user):  # type: ignore[no-untyped-def]
    # Given a seal whose organisation allows unattended signing of receipts up to 1,000 CNY
    company = office(make_user)
    seal = make_seal(company, name="发票专用章", seal_type="invoice")
    envelope = facts(company, amount="99.00", currency="CNY")
    with pytest.raises(SealNotAuthorized):
        services.authorize_automatic_use(seal, envelope)
    automatic = grant(seal, company.keeper, automatic=True, scope={"max_amount": "1000", "currency": "CNY"})
    # when an envelope it sent comes to the seal, then it is authorised and logged with no person
    decision = services.authorize_automatic_use(seal, envelope)
    usage = use(decision, envelope, None)
    assert decision.grant == automatic and usage.automatic and usage.used_by is None
    # but not for an envelope another organisation sent, nor over the limit
    other = office(make_user, BEIJING, prefix="bj-")
    with pytest.raises(SealNotAuthorized):
        services.authorize_automatic_use(seal, facts(other))
    with pytest.raises(SealNotAuthorized, match="over the grant's limit"):
        services.authorize_automatic_use(seal, facts(company, amount="1000.01", currency="CNY"))


def test_a_grant_revoked_between_authorisation_and_recording_stops_the_use(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    given = grant(seal, company.keeper, user=company.member)
    envelope = facts(company)
    decision = services.authorize_use(seal, company.member, envelope)
    services.revoke_grant(given, company.admin, reason="left the team", context=CONTEXT)
    with pytest.raises(SealNotAuthorized):
        use(decision, envelope, company.member)
    assert not SealUsage.objects.exists()


# --- lifecycle ------------------------------------------------------------------------------------


def test_a_suspended_seal_refuses_use_until_resumed(make_user):  # type: ignore[no-untyped-def]
    # Given a seal granted to a member
    company = office(make_user)
    seal = make_seal(company)
    grant(seal, company.keeper, user=company.member)
    # when the keeper suspends it, then its use is refused, while its certificate stays good
    services.suspend(seal, company.keeper, reason="盘点 stock-taking", context=CONTEXT)
    with pytest.raises(SealNotActive):
        services.authorize_use(seal, company.member, facts(company))
    cert = seal.certificate
    assert certificate_status(bytes.fromhex(cert.issuer_key_id), cert.serial_int).status == "good"
    # and once resumed, the same grant works again
    services.resume(seal, company.keeper, context=CONTEXT)
    assert services.authorize_use(seal, company.member, facts(company)).grant.grantee == "user"
    assert _kinds(seal)[-2:] == ["seal_suspended", "seal_resumed"]


def test_a_revoked_seal_revokes_its_certificate_and_grants_for_good(make_user):  # type: ignore[no-untyped-def]
    # Given a seal in use
    company = office(make_user)
    seal = make_seal(company)
    given = grant(seal, company.keeper, user=company.member)
    envelope = facts(company)
    use(services.authorize_use(seal, company.member, envelope), envelope, company.member)
    # when an admin revokes it after the key was compromised
    services.revoke(seal, company.admin, reason="key leaked", key_compromise=True, context=CONTEXT)
    # then the certificate is revoked at once for key compromise, and the grant with it
    cert = seal.certificate
    cert.refresh_from_db()
    status = certificate_status(bytes.fromhex(cert.issuer_key_id), cert.serial_int)
    assert status.status == "revoked" and status.reason == "key_compromise"
    given.refresh_from_db()
    assert given.revoked_at is not None
    # and no use is possible any more, nor can it be resumed; the earlier use stays in the log
    with pytest.raises(SealNotActive):
        services.authorize_use(seal, company.member, facts(company))
    with pytest.raises(SealNotActive):
        services.resume(seal, company.admin, context=CONTEXT)
    with pytest.raises(SealNotActive):
        services.seal_signing_material(seal)
    assert SealUsage.objects.filter(seal=seal).count() == 1
    revoked = Event.objects.get(subject_id=str(seal.pk), kind="seal_revoked")
    assert revoked.payload["grants_revoked"] == [str(given.pk)]
    assert revoked.payload["certificate_revocation_reason"] == "key_compromise"


def test_a_retired_seal_cannot_be_used_resumed_or_granted(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    grant(seal, company.keeper, user=company.member)
    services.retire(seal, company.keeper, reason="replaced by a new seal", context=CONTEXT)
    seal.refresh_from_db()
    assert seal.status == Seal.Status.RETIRED and seal.status_reason == "replaced by a new seal"
    # its certificate is revoked as superseded: nothing may be signed with the key afterwards
    assert seal.certificate.revocation_reason == "superseded"
    with pytest.raises(SealNotActive):
        services.authorize_use(seal, company.member, facts(company))
    with pytest.raises(SealNotActive):
        services.resume(seal, company.keeper, context=CONTEXT)
    with pytest.raises(SealNotActive):
        services.suspend(seal, company.keeper, context=CONTEXT)
    with pytest.raises(SealNotActive):
        grant(seal, company.admin, user=company.colleague)
    assert not SealGrant.objects.filter(seal=seal, revoked_at__isnull=True).exists()


def test_only_managers_change_a_seals_status(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    for person in (company.legal, company.auditor, company.member):
        with pytest.raises(NotPermitted):
            services.suspend(seal, person, context=CONTEXT)
        with pytest.raises(NotPermitted):
            services.revoke(seal, person, context=CONTEXT)

"""An organisation signs with its seal, through the API in process: the member's ceremony, every
refusal, approvals bound to one envelope, and unattended signing under an automatic grant."""

from __future__ import annotations

import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader

from econtract.accounts.services import add_member
from econtract.evidence.models import Event
from econtract.evidence.services import chain_is_intact
from econtract.pki import custody
from econtract.seals import services as seals
from econtract.seals.errors import SealNotAuthorized
from econtract.seals.models import ApprovalRequest, SealGrant, SealUsage
from econtract.seals.tests.seal_factories import CONTEXT, grant, make_seal, office
from econtract.signing.models import Envelope, Party
from econtract.signing.tests.factories import PIN, create_and_send, sign_as

pytestmark = pytest.mark.django_db(transaction=True)

MEMBER_PIN = "731902"
SIGNATURE_BOX = {"page": 2, "x": 50, "y": 60, "width": 180, "height": 60}
SEAL_BOX = {"page": 2, "x": 320, "y": 40, "width": 120, "height": 120}


@pytest.fixture
def world(make_user, enterprise, api_client):
    """Acme sends; 张三 signs for herself; 福州示例科技有限公司 seals, applied by its member."""
    sender = make_user("sender@acme.test", "赵六 Zhao Liu")
    add_member(enterprise, sender)
    person = make_user("first@example.test", "李四 Li Si")
    custody.set_signing_pin(person, PIN["first"])
    company = office(make_user)
    for user in (company.member, company.colleague):
        custody.set_signing_pin(user, MEMBER_PIN)
    seal = make_seal(company)
    return SimpleNamespace(
        sender_api=api_client(sender, enterprise),
        person=person,
        person_api=api_client(person),
        company=company,
        member_api=api_client(company.member),
        colleague_api=api_client(company.colleague),
        seal=seal,
    )


def company_party(world, **extra):
    return {
        "kind": "organization",
        "name": world.company.org.name,
        "organization_uscc": world.company.org.uscc,
        "email": world.company.member.email,
        **extra,
    }


def sealed_envelope(world, pdf, **extra):
    """One party: the company, with a seal box (the most refusals need no one else)."""
    return create_and_send(
        world.sender_api, pdf, [company_party(world)], [{"party": 0, "kind": "seal", **SEAL_BOX}], **extra
    )


def seal_as(client, outbox, envelope, index, email, *, seal_id, pin=MEMBER_PIN, otp=None):
    party_id = envelope["parties"][index]["id"]
    if otp is None:
        response = client.post(f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/otp")
        assert response.status_code == 200, response.content
        otp = outbox.last_code(email)
    body = {"otp": otp, "pin": pin, **({"seal_id": str(seal_id)} if seal_id else {})}
    return client.post(
        f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/sign",
        body,
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )


def events(envelope_id, kind):
    return [e for e in Event.objects.for_subject(Envelope.objects.get(pk=envelope_id)) if e.kind == kind]


def error_of(response):
    return response.status_code, response.json()["error"]


# --- the member's ceremony ----------------------------------------------------------------------


def test_a_person_signs_then_her_company_seals_and_the_contract_completes(world, sample_pdf, outbox):
    given = grant(world.seal, world.company.keeper, user=world.company.member)
    envelope = create_and_send(
        world.sender_api,
        sample_pdf,
        [{"name": "李四", "email": "first@example.test", "order": 1}, company_party(world, order=2)],
        [
            {"party": 0, **SIGNATURE_BOX},
            {"party": 1, "kind": "seal", **SEAL_BOX},
            {"party": 1, "kind": "cross_page_seal", "y": 400, "height": 120},
        ],
        amount="5000.00",
        currency="CNY",
    )
    response = sign_as(world.person_api, outbox, envelope, 0, "first@example.test", PIN["first"])
    assert response.status_code == 200, response.content

    response = seal_as(
        world.member_api, outbox, envelope, 1, world.company.member.email, seal_id=world.seal.id
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed"
    pdf = world.sender_api.get(f"/api/v1/envelopes/{envelope['id']}/document").getvalue()
    person_sig, seal_sig, _ = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    subject = seal_sig.signer_cert.subject.native
    assert subject["organization_name"] == world.company.org.name
    assert seal_sig.signer_cert.serial_number == int(world.seal.certificate.serial_number)
    assert person_sig.signer_cert.subject.native["common_name"].startswith("李四")
    # the seal box and both cross-page strips are widgets of the company's one signature field
    assert len(seal_sig.sig_field["/Kids"]) == 3

    usage = SealUsage.objects.get(seal=world.seal)
    assert (usage.used_by, usage.grant, usage.automatic, usage.cross_page) == (
        world.company.member,
        given,
        False,
        True,
    )
    assert str(usage.envelope_id) == envelope["id"]
    signed = events(envelope["id"], "signed")[-1].payload
    assert signed["seal"] == str(world.seal.id) and signed["grant"] == str(given.id)
    assert signed["applied_by"] == str(world.company.member.pk) and signed["approval"] is None
    assert signed["seal_certificate_serial"] == world.seal.certificate.serial_number
    assert signed["assurance_level"] == "L2" and signed["key_custody"] == "seal"
    assert signed["applied_by_certificate_serial"]  # her PIN, her certificate: who applied the seal
    assert [e.kind for e in Event.objects.for_subject(world.seal)][-1] == "seal_used"
    assert chain_is_intact(Envelope.objects.get(pk=envelope["id"]))
    assert chain_is_intact(world.seal)


def test_a_person_signs_with_the_signature_she_chose(world, sample_pdf, outbox):
    from econtract.seals.signatures import add_signature
    from econtract.seals.typed import render_typed

    chosen = add_signature(world.person, kind="uploaded", image=render_typed("李四"), context=CONTEXT)
    envelope = create_and_send(
        world.sender_api,
        sample_pdf,
        [{"name": "李四", "email": "first@example.test"}],
        [{"party": 0, **SIGNATURE_BOX}],
    )
    party_id = envelope["parties"][0]["id"]
    world.person_api.post(f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/otp")

    response = world.person_api.post(
        f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/sign",
        {"otp": outbox.last_code("first@example.test"), "pin": PIN["first"], "signature_id": str(chosen.id)},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    signature = events(envelope["id"], "signed")[-1].payload["signature"]
    assert signature == {"id": str(chosen.id), "kind": "uploaded", "sha256": chosen.sha256}


def test_a_signature_that_is_not_hers_is_refused_before_any_code(world, sample_pdf, outbox):
    from econtract.seals.signatures import add_signature
    from econtract.seals.typed import render_typed

    others = add_signature(
        world.company.member, kind="uploaded", image=render_typed("经办人"), context=CONTEXT
    )
    envelope = create_and_send(
        world.sender_api,
        sample_pdf,
        [{"name": "李四", "email": "first@example.test"}],
        [{"party": 0, **SIGNATURE_BOX}],
    )
    party_id = envelope["parties"][0]["id"]

    response = world.person_api.post(
        f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/sign",
        {"otp": "000000", "pin": PIN["first"], "signature_id": str(others.id)},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert not events(envelope["id"], "otp_failed")


# --- refusals -----------------------------------------------------------------------------------


def test_a_member_without_a_grant_is_refused_before_her_code_is_checked(world, sample_pdf, outbox):
    envelope = sealed_envelope(world, sample_pdf)

    response = seal_as(
        world.member_api, outbox, envelope, 0, world.company.member.email, seal_id=world.seal.id, otp="000000"
    )

    assert error_of(response) == (403, "seal_not_authorized")
    assert not events(envelope["id"], "otp_failed")  # no code was judged, none counted
    assert events(envelope["id"], "seal_refused")[-1].payload["why"] == "seal_not_authorized"
    assert Party.objects.get(pk=envelope["parties"][0]["id"]).status == Party.Status.READY


def test_an_organisation_party_must_name_its_seal(world, sample_pdf, outbox):
    envelope = sealed_envelope(world, sample_pdf)

    response = seal_as(
        world.member_api, outbox, envelope, 0, world.company.member.email, seal_id=None, otp="1"
    )

    assert error_of(response) == (400, "invalid_signing_request")


def test_a_seal_of_another_organisation_is_refused(world, make_user, sample_pdf, outbox):
    from econtract.accounts.tests.factories import BEIJING

    other = office(make_user, BEIJING, prefix="bj-")
    foreign = make_seal(other)
    grant(foreign, other.keeper, user=other.member)
    envelope = sealed_envelope(world, sample_pdf)

    response = seal_as(
        world.member_api, outbox, envelope, 0, world.company.member.email, seal_id=foreign.id, otp="1"
    )

    assert error_of(response) == (403, "seal_not_authorized")


def test_only_the_member_the_party_names_may_apply_the_seal(world, sample_pdf, outbox):
    grant(world.seal, world.company.keeper, user=world.company.colleague)
    envelope = sealed_envelope(world, sample_pdf)
    party_id = envelope["parties"][0]["id"]

    response = world.colleague_api.post(
        f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/sign",
        {"otp": "1", "pin": MEMBER_PIN, "seal_id": str(world.seal.id)},
        content_type="application/json",
    )

    # she holds a grant, but the envelope names her colleague: she does not even see it
    assert response.status_code in (403, 404)
    assert not SealUsage.objects.exists()


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_a_grant_that_expired_or_was_revoked_no_longer_lets_her_seal(world, sample_pdf, outbox, how):
    given = grant(world.seal, world.company.keeper, user=world.company.member)
    if how == "revoked":
        seals.revoke_grant(given, world.company.keeper, reason="left the team", context=CONTEXT)
    else:  # its window closed
        SealGrant.objects.filter(pk=given.pk).update(valid_until=timezone.now() - timedelta(seconds=1))
    envelope = sealed_envelope(world, sample_pdf)

    response = seal_as(
        world.member_api, outbox, envelope, 0, world.company.member.email, seal_id=world.seal.id
    )

    assert error_of(response) == (403, "seal_not_authorized")


@pytest.mark.parametrize("verb", ["suspend", "revoke"])
def test_a_suspended_or_revoked_seal_cannot_be_applied(world, sample_pdf, outbox, verb):
    grant(world.seal, world.company.keeper, user=world.company.member)
    getattr(seals, verb)(world.seal, world.company.keeper, reason="lost", context=CONTEXT)
    envelope = sealed_envelope(world, sample_pdf)

    response = seal_as(
        world.member_api, outbox, envelope, 0, world.company.member.email, seal_id=world.seal.id
    )

    assert error_of(response) == (409, "seal_not_active")


def test_an_amount_over_the_grants_limit_is_refused(world, sample_pdf, outbox):
    grant(
        world.seal,
        world.company.keeper,
        user=world.company.member,
        scope={"max_amount": "10000.00", "currency": "CNY"},
    )
    over = sealed_envelope(world, sample_pdf, amount="10000.01", currency="CNY")
    within = sealed_envelope(world, sample_pdf, amount="9999.99", currency="CNY")

    refused = seal_as(world.member_api, outbox, over, 0, world.company.member.email, seal_id=world.seal.id)
    allowed = seal_as(world.member_api, outbox, within, 0, world.company.member.email, seal_id=world.seal.id)

    assert error_of(refused) == (403, "seal_not_authorized")
    assert allowed.status_code == 200, allowed.content
    assert SealUsage.objects.get().envelope_id == Envelope.objects.get(pk=within["id"]).id


def test_a_missing_approval_is_requested_approved_and_then_used_once(world, sample_pdf, outbox):
    grant(world.seal, world.company.keeper, user=world.company.member, requires_approval=True)
    envelope = sealed_envelope(world, sample_pdf, amount="800", currency="CNY")
    email = world.company.member.email

    first = seal_as(world.member_api, outbox, envelope, 0, email, seal_id=world.seal.id, otp="000000")
    assert error_of(first) == (409, "approval_required")

    asked = world.member_api.post(
        f"/api/v1/seals/{world.seal.id}/approval-requests",
        {"envelope_id": envelope["id"], "note": "采购合同，请批准"},
        content_type="application/json",
    )
    assert asked.status_code == 201, asked.content
    body = asked.json()
    assert body["status"] == "pending" and body["envelope_id"] == envelope["id"]
    assert body["document_sha256"] == envelope["original_sha256"] and body["amount"] == "800.00"
    listed = world.member_api.get(f"/api/v1/seals/{world.seal.id}/approval-requests").json()
    assert [a["id"] for a in listed["items"]] == [body["id"]]  # the seals API lists it on the same path
    approval = ApprovalRequest.objects.get(pk=body["id"])
    seals.decide_approval(approval, world.company.keeper, approve=True, context=CONTEXT)

    sealed = seal_as(world.member_api, outbox, envelope, 0, email, seal_id=world.seal.id)

    assert sealed.status_code == 200, sealed.content
    approval.refresh_from_db()
    assert approval.status == ApprovalRequest.Status.USED
    assert events(envelope["id"], "signed")[-1].payload["approval"] == str(approval.id)
    assert SealUsage.objects.get().approval == approval


def test_an_approval_cannot_be_replayed_on_another_envelope(world, sample_pdf, outbox):
    grant(world.seal, world.company.keeper, user=world.company.member, requires_approval=True)
    approved_for = sealed_envelope(world, sample_pdf)
    other = sealed_envelope(world, sample_pdf)  # the very same document, another envelope
    asked = world.member_api.post(
        f"/api/v1/seals/{world.seal.id}/approval-requests",
        {"envelope_id": approved_for["id"]},
        content_type="application/json",
    )
    seals.decide_approval(
        ApprovalRequest.objects.get(pk=asked.json()["id"]),
        world.company.keeper,
        approve=True,
        context=CONTEXT,
    )

    response = seal_as(world.member_api, outbox, other, 0, world.company.member.email, seal_id=world.seal.id)

    assert error_of(response) == (409, "approval_required")
    assert ApprovalRequest.objects.get().status == ApprovalRequest.Status.APPROVED  # still unused


def test_only_the_named_member_may_ask_for_an_approval(world, sample_pdf):
    grant(world.seal, world.company.keeper, user=world.company.colleague, requires_approval=True)
    envelope = sealed_envelope(world, sample_pdf)

    response = world.colleague_api.post(
        f"/api/v1/seals/{world.seal.id}/approval-requests",
        {"envelope_id": envelope["id"]},
        content_type="application/json",
    )

    assert response.status_code in (403, 404)
    assert not ApprovalRequest.objects.exists()


# --- automatic signing --------------------------------------------------------------------------


@pytest.fixture
def issuer(world, api_client):
    """The company sends its own receipts: its admin's API key, and an automatic-signing grant."""
    automatic = grant(
        world.seal, world.company.keeper, automatic=True, scope={"max_amount": "1000", "currency": "CNY"}
    )
    return SimpleNamespace(api=api_client(world.company.admin, world.company.org), grant=automatic)


def receipt(world, issuer, pdf, **extra):
    return create_and_send(
        issuer.api,
        pdf,
        [
            {"name": "李四", "email": "first@example.test", "order": 1},
            {**company_party(world, order=2, automatic=True, seal_id=str(world.seal.id)), "email": ""},
        ],
        [{"party": 0, **SIGNATURE_BOX}, {"party": 1, "kind": "seal", **SEAL_BOX}],
        amount="120.00",
        currency="CNY",
        **extra,
    )


def test_an_automatic_party_is_signed_when_its_turn_comes(world, issuer, sample_pdf, outbox):
    envelope = receipt(world, issuer, sample_pdf)
    assert envelope["parties"][1]["automatic"] is True

    response = sign_as(world.person_api, outbox, envelope, 0, "first@example.test", PIN["first"])

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed"
    usage = SealUsage.objects.get()
    assert (usage.used_by, usage.automatic, usage.grant) == (None, True, issuer.grant)
    signed = events(envelope["id"], "signed")[-1]
    assert signed.payload["automatic"] is True and signed.payload["applied_by"] is None
    assert str(issuer.grant.id) in signed.actor_label  # the grant, not a person, is the actor
    pdf = issuer.api.get(f"/api/v1/envelopes/{envelope['id']}/document").getvalue()
    assert (
        PdfFileReader(io.BytesIO(pdf)).embedded_signatures[1].signer_cert.subject.native["organization_name"]
        == world.company.org.name
    )


def test_an_automatic_party_alone_is_signed_at_sending(world, issuer, sample_pdf):
    envelope = create_and_send(
        issuer.api,
        sample_pdf,
        [company_party(world, automatic=True, seal_id=str(world.seal.id))],
        [{"party": 0, "kind": "cross_page_seal", "y": 300, "height": 100}],
        amount="99.50",
        currency="CNY",
    )

    assert envelope["status"] == "completed"
    assert SealUsage.objects.get().cross_page is True


def test_an_amount_over_the_automatic_grants_limit_is_refused_at_creation(world, issuer, sample_pdf):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from econtract.signing.tests.factories import spec

    response = issuer.api.post(
        "/api/v1/envelopes",
        {
            "document": SimpleUploadedFile("c.pdf", sample_pdf, "application/pdf"),
            "spec": spec(
                [company_party(world, automatic=True, seal_id=str(world.seal.id))],
                amount="1000.01",
                currency="CNY",
            ),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert error_of(response) == (403, "seal_not_authorized")
    assert not Envelope.objects.exists()


def test_automatic_signing_needs_a_live_automatic_grant_at_sending(world, api_client, sample_pdf):
    sender = api_client(world.company.admin, world.company.org)
    from django.core.files.uploadedfile import SimpleUploadedFile

    from econtract.signing.tests.factories import spec

    response = sender.post(
        "/api/v1/envelopes",
        {
            "document": SimpleUploadedFile("c.pdf", sample_pdf, "application/pdf"),
            "spec": spec([company_party(world, automatic=True, seal_id=str(world.seal.id))]),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert error_of(response) == (403, "seal_not_authorized")


def test_automatic_signing_is_only_for_the_senders_own_seal(world, issuer, sample_pdf):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from econtract.signing.tests.factories import spec

    # Acme sends, naming 福州示例's seal for unattended signing: refused
    response = world.sender_api.post(
        "/api/v1/envelopes",
        {
            "document": SimpleUploadedFile("c.pdf", sample_pdf, "application/pdf"),
            "spec": spec([company_party(world, automatic=True, seal_id=str(world.seal.id))]),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert error_of(response) == (400, "invalid_envelope")
    assert "not a seal of the sending organisation" in response.json()["detail"]


def test_a_grant_revoked_before_the_turn_leaves_the_party_ready_and_on_record(
    world, issuer, sample_pdf, outbox
):
    envelope = receipt(world, issuer, sample_pdf)
    seals.revoke_grant(issuer.grant, world.company.keeper, reason="integration retired", context=CONTEXT)

    response = sign_as(world.person_api, outbox, envelope, 0, "first@example.test", PIN["first"])

    assert response.status_code == 200, response.content
    assert [p["status"] for p in response.json()["parties"]] == ["signed", "ready"]
    failed = events(envelope["id"], "automatic_signing_failed")[-1]
    assert failed.payload["why"] == "seal_not_authorized"
    assert not SealUsage.objects.exists()

    # a new grant, and the sender's reminder tries again
    grant(world.seal, world.company.keeper, automatic=True)
    retried = issuer.api.post(
        f"/api/v1/envelopes/{envelope['id']}/parties/{envelope['parties'][1]['id']}/remind"
    )

    assert retried.status_code == 200, retried.content
    assert Envelope.objects.get(pk=envelope["id"]).status == Envelope.Status.COMPLETED


def test_a_grant_revoked_after_the_first_check_stops_the_signature_in_its_transaction(world, sample_pdf):
    from econtract.signing.services.ceremony import commit_signature
    from econtract.signing.services.seal_use import SealUse

    given = grant(world.seal, world.company.keeper, user=world.company.member)
    envelope = sealed_envelope(world, sample_pdf)
    stored = Envelope.objects.get(pk=envelope["id"])
    party = stored.parties.get()
    seals.authorize_use(world.seal, world.company.member, _facts(stored, party))  # she passed, then:
    seals.revoke_grant(given, world.company.keeper, reason="revoked meanwhile", context=CONTEXT)

    with pytest.raises(SealNotAuthorized):
        commit_signature(
            stored,
            party,
            signer_name=world.company.org.name,
            proof=None,
            evidence={},
            user=world.company.member,
            context=CONTEXT,
            seal=SealUse(seal=world.seal, user=world.company.member, context=CONTEXT),
        )

    stored.refresh_from_db()
    assert stored.current_version == 0 and not SealUsage.objects.exists()
    assert Party.objects.get(pk=party.pk).status == Party.Status.READY
    assert not events(envelope["id"], "signed")


def test_a_person_party_does_not_sign_with_a_seal(world, sample_pdf, outbox):
    envelope = create_and_send(
        world.sender_api,
        sample_pdf,
        [{"name": "李四", "email": "first@example.test"}],
        [{"party": 0, **SIGNATURE_BOX}],
    )

    response = seal_as(
        world.person_api, outbox, envelope, 0, "first@example.test", seal_id=world.seal.id, otp="1"
    )

    assert error_of(response) == (400, "invalid_signing_request")


def _facts(envelope, party):
    from econtract.signing.services.seal_facts import facts_for

    return facts_for(envelope, party)


def test_an_organisation_party_is_never_signed_without_its_seal(world, sample_pdf):
    from asn1crypto import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from econtract.signing.services.ceremony import InvalidSigningRequest, commit_signature

    envelope = sealed_envelope(world, sample_pdf)
    stored = Envelope.objects.get(pk=envelope["id"])
    member_certificate = custody.unwrap_signing_key(world.company.member, MEMBER_PIN)[1]

    # a person's key (any path that reaches the ceremony without a seal, e.g. no account) is refused
    with pytest.raises(InvalidSigningRequest):
        commit_signature(
            stored,
            stored.parties.get(),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            certificate=x509.Certificate.load(bytes(member_certificate.certificate_der)),
            signer_name="经办人",
            proof=None,
            evidence={},
            user=None,
            context=CONTEXT,
        )
    assert Envelope.objects.get(pk=envelope["id"]).current_version == 0

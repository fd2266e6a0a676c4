"""Roles decide who manages an envelope: a member her own, the owner, admins and legal all of the
organisation's; another organisation sees nothing (404); a party still sees and signs."""

from __future__ import annotations

import pytest
from django.test import Client

from econtract.accounts.errors import NotPermitted
from econtract.accounts.models import Membership
from econtract.accounts.services import add_member, create_enterprise
from econtract.evidence.services import RequestContext
from econtract.pki import custody
from econtract.signing import services
from econtract.signing.models import Envelope
from econtract.signing.tests.factories import PIN, sign_as

pytestmark = pytest.mark.django_db
CTX = RequestContext.system("test")
SIGNER = "first@example.test"


@pytest.fixture(autouse=True)
def fast_kdf(settings):
    settings.ECONTRACT_PIN_KDF_MEMORY_KIB = 64
    settings.ECONTRACT_PIN_KDF_PASSES = 1


@pytest.fixture
def alice(enterprise, make_user):
    user = make_user("alice@acme.test", "Alice")
    add_member(enterprise, user)
    return user


@pytest.fixture
def bob(enterprise, make_user):
    user = make_user("bob@acme.test", "Bob")
    add_member(enterprise, user)
    return user


@pytest.fixture
def signer(make_user):
    user = make_user(SIGNER, "张三 Zhang San")
    custody.set_signing_pin(user, PIN["first"])
    return user


def _draft(enterprise, creator, sample_pdf, party_email=SIGNER) -> Envelope:
    envelope = services.create_envelope(
        organization=enterprise,
        created_by=creator,
        title="Alice 的合同 contract",
        pdf=sample_pdf,
        parties=[services.PartySpec(name="Party", email=party_email)],
        fields=[services.FieldSpec(party=0, page=1, x=60, y=80, width=180, height=60)],
        context=CTX,
    )
    return envelope


@pytest.fixture
def draft(enterprise, alice, signer, sample_pdf) -> Envelope:
    return _draft(enterprise, alice, sample_pdf)


@pytest.fixture
def sent(draft, alice) -> Envelope:
    return services.send_envelope(draft, alice, CTX)


def _listed(client, envelope) -> bool:
    response = client.get("/api/v1/envelopes")
    assert response.status_code == 200
    return str(envelope.id) in {item["id"] for item in response.json()["items"]}


# --- API ------------------------------------------------------------------------------------------


def test_member_cannot_see_edit_send_void_or_remind_anothers_envelope(api_client, bob, draft):
    client = api_client(bob)
    assert not _listed(client, draft)
    assert client.get(f"/api/v1/envelopes/{draft.id}").status_code == 404
    assert client.post(f"/api/v1/envelopes/{draft.id}/send").status_code == 404
    void = client.post(f"/api/v1/envelopes/{draft.id}/void", {"reason": "x"}, content_type="application/json")
    assert void.status_code == 404
    draft.refresh_from_db()
    assert draft.status == Envelope.Status.DRAFT


def test_member_cannot_remind_on_or_void_anothers_sent_envelope(api_client, bob, sent):
    client = api_client(bob)
    party = sent.parties.get()
    assert client.post(f"/api/v1/envelopes/{sent.id}/parties/{party.id}/remind").status_code == 404
    void = client.post(f"/api/v1/envelopes/{sent.id}/void", {"reason": "x"}, content_type="application/json")
    assert void.status_code == 404
    sent.refresh_from_db()
    assert sent.status == Envelope.Status.SENT


def test_member_party_to_a_colleagues_envelope_sees_it_but_may_not_void_it(
    api_client, enterprise, alice, bob, sample_pdf
):
    envelope = services.send_envelope(
        _draft(enterprise, alice, sample_pdf, party_email=bob.email), alice, CTX
    )
    client = api_client(bob)
    assert client.get(f"/api/v1/envelopes/{envelope.id}").status_code == 200
    assert _listed(client, envelope)
    void = client.post(
        f"/api/v1/envelopes/{envelope.id}/void", {"reason": "x"}, content_type="application/json"
    )
    assert void.status_code == 403
    assert void.json()["error"] == "not_permitted"
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.SENT


def test_member_acts_on_her_own_envelope(api_client, alice, draft):
    client = api_client(alice)
    assert _listed(client, draft)
    assert client.post(f"/api/v1/envelopes/{draft.id}/send").status_code == 200
    party = draft.parties.get()
    # Past the role check: the only refusal left is the reminder interval.
    remind = client.post(f"/api/v1/envelopes/{draft.id}/parties/{party.id}/remind")
    assert remind.status_code == 429
    assert remind.json()["error"] == "reminder_too_soon"
    void = client.post(f"/api/v1/envelopes/{draft.id}/void", {"reason": "x"}, content_type="application/json")
    assert void.status_code == 200
    assert void.json()["status"] == "voided"


@pytest.mark.parametrize("role", [Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.LEGAL])
def test_owner_admin_and_legal_act_on_all_of_the_organisations_envelopes(
    api_client, enterprise, make_user, draft, role
):
    if role == Membership.Role.OWNER:
        manager = enterprise.memberships.get(role=Membership.Role.OWNER).user
    else:
        manager = make_user(f"{role}@acme.test", "Manager")
        add_member(enterprise, manager, role=role)
    client = api_client(manager)
    assert _listed(client, draft)
    assert client.post(f"/api/v1/envelopes/{draft.id}/send").status_code == 200
    void = client.post(f"/api/v1/envelopes/{draft.id}/void", {"reason": "x"}, content_type="application/json")
    assert void.status_code == 200


def test_seal_keeper_is_a_member_for_envelopes(api_client, enterprise, make_user, draft):
    keeper = make_user("seal@acme.test", "Keeper")
    add_member(enterprise, keeper, role=Membership.Role.SEAL_KEEPER)
    assert api_client(keeper).get(f"/api/v1/envelopes/{draft.id}").status_code == 404


def test_admin_of_another_organisation_gets_404(api_client, make_user, sent):
    outsider = make_user("boss@other.test", "Other")
    create_enterprise("Other Ltd", outsider)
    client = api_client(outsider)
    assert not _listed(client, sent)
    assert client.get(f"/api/v1/envelopes/{sent.id}").status_code == 404
    void = client.post(f"/api/v1/envelopes/{sent.id}/void", {"reason": "x"}, content_type="application/json")
    assert void.status_code == 404


@pytest.mark.django_db(transaction=True)  # the code is mailed after the commit
def test_party_who_is_not_a_member_still_sees_and_signs(api_client, signer, sent, outbox):
    client = api_client(signer)
    envelope = client.get(f"/api/v1/envelopes/{sent.id}")
    assert envelope.status_code == 200
    assert _listed(client, sent)
    signed = sign_as(client, outbox, envelope.json(), 0, SIGNER, PIN["first"])
    assert signed.status_code == 200, signed.content
    sent.refresh_from_db()
    assert sent.status == Envelope.Status.COMPLETED


# --- services (the rule holds below the views too) ------------------------------------------------


def test_services_refuse_a_member_acting_on_anothers_envelope(bob, draft):
    with pytest.raises(NotPermitted):
        services.replace_recipients(draft, parties=[], fields=[], user=bob, context=CTX)
    with pytest.raises(NotPermitted):
        services.send_envelope(draft, bob, CTX)
    with pytest.raises(NotPermitted):
        services.void(draft, bob, reason="x", context=CTX)
    sent = services.send_envelope(draft, draft.created_by, CTX)
    with pytest.raises(NotPermitted):
        services.remind(sent, sent.parties.get().id, bob, CTX)
    sent.refresh_from_db()
    assert sent.status == Envelope.Status.SENT


# --- web ------------------------------------------------------------------------------------------


def test_web_member_cannot_open_edit_send_or_void_anothers_envelope(bob, draft):
    client = Client()
    client.force_login(bob)
    assert draft.title not in client.get("/").content.decode()
    for url in ("", "edit/", "send/"):
        assert client.get(f"/envelopes/{draft.id}/{url}").status_code == 404
    assert client.post(f"/envelopes/{draft.id}/void/", {"reason": "x"}).status_code == 404
    assert client.post(f"/envelopes/{draft.id}/send/").status_code == 404
    draft.refresh_from_db()
    assert draft.status == Envelope.Status.DRAFT


def test_web_member_party_to_a_colleagues_envelope_gets_no_void_button_and_403(
    enterprise, alice, bob, sample_pdf
):
    envelope = services.send_envelope(
        _draft(enterprise, alice, sample_pdf, party_email=bob.email), alice, CTX
    )
    client = Client()
    client.force_login(bob)
    page = client.get(f"/envelopes/{envelope.id}/")
    assert page.status_code == 200
    assert f"/envelopes/{envelope.id}/void/" not in page.content.decode()
    assert client.post(f"/envelopes/{envelope.id}/void/", {"reason": "x"}).status_code == 403
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.SENT


def test_web_member_and_admin_act_on_the_envelope(enterprise, make_user, alice, draft):
    client = Client()
    client.force_login(alice)
    assert draft.title in client.get("/").content.decode()
    assert client.get(f"/envelopes/{draft.id}/edit/").status_code == 200
    admin = make_user("admin@acme.test", "Admin")
    add_member(enterprise, admin, role=Membership.Role.ADMIN)
    client.force_login(admin)
    assert client.get(f"/envelopes/{draft.id}/edit/").status_code == 200
    client.post(f"/envelopes/{draft.id}/void/", {"reason": "x"})
    draft.refresh_from_db()
    assert draft.status == Envelope.Status.VOIDED


def test_web_refused_reminder_says_why_in_chinese(enterprise, alice, bob, sample_pdf):
    envelope = services.send_envelope(
        _draft(enterprise, alice, sample_pdf, party_email=bob.email), alice, CTX
    )
    party = envelope.parties.get()
    client = Client()
    client.force_login(bob)
    page = client.post(f"/envelopes/{envelope.id}/parties/{party.id}/remind/", follow=True)
    assert "只有创建此信封的成员" in page.content.decode()

"""Approval per use: requested by the grantee, decided by another seal manager, consumed by one use,
bound to the envelope and to its original document's SHA-256."""

from __future__ import annotations

import pytest

from econtract.accounts.errors import NotPermitted
from econtract.evidence.models import Event
from econtract.seals import services
from econtract.seals.errors import (
    ApprovalNotPending,
    ApprovalRequired,
    InvalidGrant,
    SealNotAuthorized,
    SealRightsSeparated,
)
from econtract.seals.models import ApprovalRequest
from econtract.seals.tests.seal_factories import CONTEXT, facts, grant, make_seal, office, use

pytestmark = pytest.mark.django_db


def _setup(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    grant(seal, company.keeper, user=company.member, requires_approval=True)
    return company, seal


def test_an_approved_request_allows_exactly_one_use_on_its_envelope(make_user):  # type: ignore[no-untyped-def]
    # Given a grant that needs approval for each use
    company, seal = _setup(make_user)
    envelope = facts(company)
    # without an approval, the use is refused as approval_required
    with pytest.raises(ApprovalRequired):
        services.authorize_use(seal, company.member, envelope)
    # when she requests one and the keeper approves it
    asked = services.request_approval(seal, company.member, envelope, note="客户急需", context=CONTEXT)
    assert asked.status == ApprovalRequest.Status.PENDING
    with pytest.raises(ApprovalRequired):  # pending is not approved
        services.authorize_use(seal, company.member, envelope)
    services.decide_approval(asked, company.keeper, approve=True, context=CONTEXT)
    # then she may use the seal once, and the use names the approval
    decision = services.authorize_use(seal, company.member, envelope)
    assert decision.approval == asked
    usage = use(decision, envelope, company.member)
    assert usage.approval == asked
    asked.refresh_from_db()
    assert asked.status == ApprovalRequest.Status.USED and asked.used_at is not None
    # and a second use of the same approval is refused
    with pytest.raises(ApprovalRequired):
        services.authorize_use(seal, company.member, envelope)
    with pytest.raises(ApprovalRequired):
        use(decision, envelope, company.member)
    kinds = list(
        Event.objects.filter(subject_id=str(seal.pk)).order_by("sequence").values_list("kind", flat=True)
    )
    assert kinds[-3:] == ["seal_approval_requested", "seal_approval_approved", "seal_used"]


def test_an_approval_cannot_be_replayed_on_another_envelope_or_document(make_user):  # type: ignore[no-untyped-def]
    company, seal = _setup(make_user)
    envelope = facts(company)
    asked = services.request_approval(seal, company.member, envelope, context=CONTEXT)
    services.decide_approval(asked, company.admin, approve=True, context=CONTEXT)
    # another envelope with the same document, and the same envelope with another document, are refused
    with pytest.raises(ApprovalRequired):
        services.authorize_use(seal, company.member, facts(company, document=b"%PDF-1.7 the contract"))
    tampered = facts(company, envelope_id=envelope.envelope_id, document=b"%PDF-1.7 another contract")
    with pytest.raises(ApprovalRequired):
        services.authorize_use(seal, company.member, tampered)
    # and a decision taken for the right envelope cannot be recorded against another
    decision = services.authorize_use(seal, company.member, envelope)
    with pytest.raises(ApprovalRequired):
        use(decision, facts(company), company.member)


def test_an_approval_is_hers_alone(make_user):  # type: ignore[no-untyped-def]
    # Given her colleague holds the same kind of grant
    company, seal = _setup(make_user)
    grant(seal, company.keeper, user=company.colleague, requires_approval=True)
    envelope = facts(company)
    asked = services.request_approval(seal, company.member, envelope, context=CONTEXT)
    services.decide_approval(asked, company.keeper, approve=True, context=CONTEXT)
    # then her approval does not let the colleague use the seal on the same envelope
    with pytest.raises(ApprovalRequired):
        services.authorize_use(seal, company.colleague, envelope)


def test_a_rejection_needs_a_reason_and_ends_the_request(make_user):  # type: ignore[no-untyped-def]
    company, seal = _setup(make_user)
    envelope = facts(company)
    asked = services.request_approval(seal, company.member, envelope, context=CONTEXT)
    with pytest.raises(InvalidGrant, match="reason"):
        services.decide_approval(asked, company.keeper, approve=False, context=CONTEXT)
    rejected = services.decide_approval(
        asked, company.keeper, approve=False, reason="金额与合同不符", context=CONTEXT
    )
    assert rejected.status == ApprovalRequest.Status.REJECTED and rejected.decided_by == company.keeper
    with pytest.raises(ApprovalNotPending):
        services.decide_approval(asked, company.admin, approve=True, context=CONTEXT)
    with pytest.raises(ApprovalRequired):
        services.authorize_use(seal, company.member, envelope)


def test_managers_decide_never_on_their_own_request(make_user):  # type: ignore[no-untyped-def]
    # Given an admin who holds a grant needing approval (made by the keeper)
    company = office(make_user)
    seal = make_seal(company)
    grant(seal, company.keeper, user=company.admin, requires_approval=True)
    asked = services.request_approval(seal, company.admin, facts(company), context=CONTEXT)
    # then she may not approve her own request, and neither legal, an auditor nor a member may
    with pytest.raises(SealRightsSeparated):
        services.decide_approval(asked, company.admin, approve=True, context=CONTEXT)
    for person in (company.legal, company.auditor, company.member):
        with pytest.raises(NotPermitted):
            services.decide_approval(asked, person, approve=True, context=CONTEXT)
    # while the keeper may
    assert services.decide_approval(asked, company.keeper, approve=True, context=CONTEXT).status == "approved"


def test_a_request_needs_a_grant_that_asks_for_one(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    with pytest.raises(SealNotAuthorized):
        services.request_approval(seal, company.member, facts(company), context=CONTEXT)
    grant(seal, company.keeper, user=company.member)
    with pytest.raises(InvalidGrant, match="no request is needed"):
        services.request_approval(seal, company.member, facts(company), context=CONTEXT)


def test_asking_twice_returns_the_pending_request(make_user):  # type: ignore[no-untyped-def]
    company, seal = _setup(make_user)
    envelope = facts(company)
    first = services.request_approval(seal, company.member, envelope, context=CONTEXT)
    assert services.request_approval(seal, company.member, envelope, context=CONTEXT) == first
    assert ApprovalRequest.objects.count() == 1


def test_revoking_the_grant_withdraws_its_approvals(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    given = grant(seal, company.keeper, user=company.member, requires_approval=True)
    envelope = facts(company)
    asked = services.request_approval(seal, company.member, envelope, context=CONTEXT)
    services.decide_approval(asked, company.keeper, approve=True, context=CONTEXT)
    services.revoke_grant(given, company.keeper, context=CONTEXT)
    asked.refresh_from_db()
    assert asked.status == ApprovalRequest.Status.WITHDRAWN
    with pytest.raises(SealNotAuthorized):
        services.authorize_use(seal, company.member, envelope)


def test_managers_and_auditors_see_every_request_members_their_own(make_user):  # type: ignore[no-untyped-def]
    company, seal = _setup(make_user)
    grant(seal, company.keeper, user=company.colleague, requires_approval=True)
    hers = services.request_approval(seal, company.member, facts(company), context=CONTEXT)
    theirs = services.request_approval(seal, company.colleague, facts(company), context=CONTEXT)
    assert list(services.approvals_of(seal, company.member)) == [hers]
    assert set(services.approvals_of(seal, company.keeper)) == {hers, theirs}
    assert set(services.approvals_of(seal, company.auditor, status="pending")) == {hers, theirs}

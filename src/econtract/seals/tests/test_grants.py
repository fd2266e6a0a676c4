"""Grants: made by a seal manager for someone else, scoped, time-limited, revocable at once; and the
three rights (manage, use, audit) never held by one person by default (三权分立)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from econtract.accounts.enterprise_models import Department
from econtract.accounts.errors import NotPermitted
from econtract.accounts.models import Membership
from econtract.accounts.org_members import create_department
from econtract.accounts.tests.factories import BEIJING
from econtract.seals import services
from econtract.seals.errors import InvalidGrant, SealNotAuthorized, SealRightsSeparated
from econtract.seals.models import SealGrant
from econtract.seals.tests.seal_factories import CONTEXT, facts, grant, make_seal, office, use

pytestmark = pytest.mark.django_db


def _department(company, name: str = "销售部") -> Department:  # type: ignore[no-untyped-def]
    return create_department(company.org, company.owner, name=name, context=CONTEXT)


def _join(company, user, department) -> None:  # type: ignore[no-untyped-def]
    Membership.objects.filter(organization=company.org, user=user).update(department=department)


# --- separated rights -----------------------------------------------------------------------------


def test_no_one_holds_manage_use_and_audit_by_default(make_user):  # type: ignore[no-untyped-def]
    # Given a company's seal, made by its keeper
    company = office(make_user)
    seal = make_seal(company)
    # an owner (who manages seals) cannot grant use to herself, nor can the keeper
    for manager in (company.owner, company.keeper, company.admin):
        with pytest.raises(SealRightsSeparated):
            grant(seal, manager, user=manager)
    # the keeper and the admin, who manage, cannot read the usage log
    for manager in (company.owner, company.keeper, company.admin):
        with pytest.raises(NotPermitted):
            services.usage_for(seal, manager)
    # an auditor, and legal staff, who read the log, cannot manage the seal
    for auditor in (company.auditor, company.legal):
        with pytest.raises(NotPermitted):
            grant(seal, auditor, user=company.member)
        with pytest.raises(NotPermitted):
            services.suspend(seal, auditor, context=CONTEXT)
        assert list(services.usage_for(seal, auditor)) == []
    # and a plain member, without a grant, can do none of the three
    with pytest.raises(NotPermitted):
        grant(seal, company.member, user=company.colleague)
    with pytest.raises(NotPermitted):
        services.usage_for(seal, company.member)
    with pytest.raises(SealNotAuthorized):
        services.authorize_use(seal, company.member, facts(company))


def test_a_manager_does_not_use_a_seal_under_a_department_grant_she_made(make_user):  # type: ignore[no-untyped-def]
    # Given the keeper in the sales department, and a grant she made to that department
    company = office(make_user)
    seal = make_seal(company)
    sales = _department(company)
    _join(company, company.keeper, sales)
    _join(company, company.member, sales)
    grant(seal, company.keeper, department=sales)
    # then her colleague in the department may use it, she may not
    assert services.authorize_use(seal, company.member, facts(company)).grant.department == sales
    with pytest.raises(SealNotAuthorized):
        services.authorize_use(seal, company.keeper, facts(company))


# --- who a grant covers ---------------------------------------------------------------------------


def test_a_department_grant_covers_whoever_is_in_the_department_at_the_time_of_use(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    sales = _department(company)
    finance = _department(company, "财务部")
    _join(company, company.member, sales)
    grant(seal, company.keeper, department=sales)
    assert services.authorize_use(seal, company.member, facts(company))
    with pytest.raises(SealNotAuthorized):
        services.authorize_use(seal, company.colleague, facts(company))
    # when she moves to finance and her colleague joins sales, the grant follows the department
    _join(company, company.member, finance)
    _join(company, company.colleague, sales)
    with pytest.raises(SealNotAuthorized):
        services.authorize_use(seal, company.member, facts(company))
    assert services.authorize_use(seal, company.colleague, facts(company))


def test_grants_name_members_and_departments_of_the_seals_organisation_only(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    other = office(make_user, BEIJING, prefix="bj-")
    with pytest.raises(InvalidGrant):
        grant(seal, company.keeper, user=other.member)
    with pytest.raises(InvalidGrant):
        grant(seal, company.keeper, department=_department(other))
    with pytest.raises(InvalidGrant):
        grant(seal, company.keeper, user=company.member, department=_department(company))
    with pytest.raises(InvalidGrant):
        grant(seal, company.keeper)


# --- when -------------------------------------------------------------------------------------------


def test_an_expired_grant_no_longer_covers(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    given = grant(seal, company.keeper, user=company.member)
    SealGrant.objects.filter(pk=given.pk).update(
        valid_from=timezone.now() - timedelta(days=10), valid_until=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(SealNotAuthorized):
        services.authorize_use(seal, company.member, facts(company))


def test_a_grant_that_starts_later_does_not_cover_yet(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    services.grant_use(
        seal,
        company.keeper,
        user=company.member,
        valid_from=timezone.now() + timedelta(days=1),
        valid_until=timezone.now() + timedelta(days=2),
        scope={},
        context=CONTEXT,
    )
    with pytest.raises(SealNotAuthorized):
        services.authorize_use(seal, company.member, facts(company))


@pytest.mark.parametrize(
    ("start", "end"),
    [(None, -1), (3, 2), (None, 5 * 366 + 2)],
    ids=["ends in the past", "ends before it starts", "longer than five years"],
)
def test_a_grant_window_must_be_sensible(make_user, start, end):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    now = timezone.now()
    with pytest.raises(InvalidGrant):
        services.grant_use(
            seal,
            company.keeper,
            user=company.member,
            valid_from=None if start is None else now + timedelta(days=start),
            valid_until=now + timedelta(days=end),
            scope={},
            context=CONTEXT,
        )


def test_a_revoked_grant_stops_at_once_and_is_logged(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    given = grant(seal, company.keeper, user=company.member)
    services.revoke_grant(given, company.admin, reason="项目结束 project over", context=CONTEXT)
    given.refresh_from_db()
    assert given.revoked_by == company.admin and given.revoke_reason == "项目结束 project over"
    with pytest.raises(SealNotAuthorized):
        services.authorize_use(seal, company.member, facts(company))
    # and revoking again changes nothing
    again = services.revoke_grant(given, company.keeper, context=CONTEXT)
    assert again.revoked_by == company.admin


# --- what: the scope --------------------------------------------------------------------------------


def test_an_amount_limit_covers_envelopes_up_to_it_in_its_currency(make_user):  # type: ignore[no-untyped-def]
    # Given a grant for contracts up to 50,000 CNY
    company = office(make_user)
    seal = make_seal(company)
    grant(seal, company.keeper, user=company.member, scope={"max_amount": "50000", "currency": "CNY"})
    # then it covers 50,000.00 CNY
    envelope = facts(company, amount="50000.00", currency="CNY")
    use(services.authorize_use(seal, company.member, envelope), envelope, company.member)
    # but not one cent over, nor another currency, nor an envelope that states no amount
    with pytest.raises(SealNotAuthorized, match="over the grant's limit"):
        services.authorize_use(seal, company.member, facts(company, amount="50000.01", currency="CNY"))
    with pytest.raises(SealNotAuthorized, match="in CNY, this envelope is in USD"):
        services.authorize_use(seal, company.member, facts(company, amount="10", currency="USD"))
    with pytest.raises(SealNotAuthorized, match="states no amount"):
        services.authorize_use(seal, company.member, facts(company))


def test_a_wider_grant_beside_a_narrow_one_is_used_when_it_covers(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    grant(seal, company.keeper, user=company.member, scope={"max_amount": "100", "currency": "CNY"})
    wide = grant(seal, company.admin, user=company.member)
    decision = services.authorize_use(seal, company.member, facts(company, amount="5000", currency="CNY"))
    assert decision.grant == wide


def test_template_and_category_scopes_cover_only_their_envelopes(make_user):  # type: ignore[no-untyped-def]
    # Until steps 6 and 7 give envelopes a template, such a grant covers nothing: narrowing never widens
    company = office(make_user)
    seal = make_seal(company)
    grant(seal, company.keeper, user=company.member, scope={"templates": ["tpl-1"]})
    with pytest.raises(SealNotAuthorized, match="other templates"):
        services.authorize_use(seal, company.member, facts(company))


@pytest.mark.parametrize(
    "scope",
    [
        {"colour": "red"},
        {"max_amount": "100"},
        {"currency": "CNY"},
        {"max_amount": "-1", "currency": "CNY"},
        {"max_amount": "0", "currency": "CNY"},
        {"max_amount": "1.234", "currency": "CNY"},
        {"max_amount": "NaN", "currency": "CNY"},
        {"max_amount": "1e30", "currency": "CNY"},
        {"max_amount": True, "currency": "CNY"},
        {"max_amount": "100", "currency": "cny"},
        {"max_amount": "100", "currency": "RMB€"},
        {"templates": []},
        {"templates": "tpl-1"},
        {"templates": [1]},
        {"categories": ["a\nb"]},
        ["max_amount"],
    ],
)
def test_a_scope_that_says_something_else_is_refused(make_user, scope):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    with pytest.raises(InvalidGrant):
        grant(seal, company.keeper, user=company.member, scope=scope)


def test_a_scope_is_stored_in_one_form(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    given = grant(seal, company.keeper, user=company.member, scope={"max_amount": 2500.5, "currency": "CNY"})
    assert given.scope == {"max_amount": "2500.50", "currency": "CNY"}


def test_an_automatic_grant_never_asks_for_approval(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    with pytest.raises(InvalidGrant):
        grant(seal, company.keeper, automatic=True, requires_approval=True)


def test_members_see_their_own_grants_managers_and_auditors_all(make_user):  # type: ignore[no-untyped-def]
    company = office(make_user)
    seal = make_seal(company)
    hers = grant(seal, company.keeper, user=company.member)
    theirs = grant(seal, company.keeper, user=company.colleague)
    assert set(services.grants_of(seal, company.member)) == {hers}
    assert set(services.grants_of(seal, company.owner)) == {hers, theirs}
    assert set(services.grants_of(seal, company.auditor)) == {hers, theirs}

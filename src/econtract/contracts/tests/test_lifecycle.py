"""Statuses over time and expiry reminders: each test gives the day to `tick`, nothing sleeps."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from econtract.accounts.models import Membership
from econtract.accounts.services import add_member
from econtract.contracts import lifecycle
from econtract.contracts.lifecycle import REMINDER_KIND, archive_settings, status_on, tick
from econtract.contracts.models import Contract
from econtract.evidence.models import Event
from econtract.notifications.models import EmailDelivery, Notice

pytestmark = pytest.mark.django_db

EXPIRES = date(2027, 6, 30)
LEAD = EXPIRES - timedelta(days=30)  # the default reminder_days


@pytest.fixture
def staff(enterprise, make_user):
    """The owner (from the fixture), a legal officer, the member who archives, and a plain member."""
    legal, clerk, other = (
        make_user("legal@acme.test", "法务 Legal"),
        make_user("clerk@acme.test", "文员 Clerk"),
        make_user("other@acme.test", "其他 Other"),
    )
    add_member(enterprise, legal, Membership.Role.LEGAL)
    add_member(enterprise, clerk)
    add_member(enterprise, other)
    owner = enterprise.memberships.get(role=Membership.Role.OWNER).user
    return {"owner": owner, "legal": legal, "clerk": clerk, "other": other}


def archive(enterprise, created_by, number: str = "HT-2026-00001", expires_on: date | None = EXPIRES):
    return Contract.objects.create(
        organization=enterprise,
        created_by=created_by,
        source="upload",
        title="采购合同 Purchase Agreement",
        number=number,
        verdict="valid",
        expires_on=expires_on,
    )


def reminder_mail() -> list[str]:
    return sorted(EmailDelivery.objects.filter(purpose=REMINDER_KIND).values_list("recipient", flat=True))


def status(contract) -> str:
    contract.refresh_from_db()
    return contract.status


def test_status_follows_the_calendar(enterprise, staff):
    contract = archive(enterprise, staff["clerk"])

    assert tick(today=LEAD - timedelta(days=1)).status_changes == 0
    assert status(contract) == Contract.Status.IN_FORCE
    assert tick(today=LEAD).status_changes == 1
    assert status(contract) == Contract.Status.EXPIRING
    tick(today=EXPIRES)  # its last day: still expiring
    assert status(contract) == Contract.Status.EXPIRING
    assert tick(today=EXPIRES + timedelta(days=1)).status_changes == 1
    assert status(contract) == Contract.Status.EXPIRED

    changes = [e.payload for e in Event.objects.for_subject(contract) if e.kind == "status_changed"]
    assert [(c["from"], c["to"], c["on"]) for c in changes] == [
        ("in_force", "expiring", LEAD.isoformat()),
        ("expiring", "expired", (EXPIRES + timedelta(days=1)).isoformat()),
    ]
    assert tick(today=EXPIRES + timedelta(days=2)).status_changes == 0  # nothing changes twice


def test_a_contract_without_expiry_stays_in_force_and_one_whose_date_is_removed_returns_to_it(
    enterprise, staff
):
    undated = archive(enterprise, staff["clerk"], "HT-1", expires_on=None)
    dated = archive(enterprise, staff["clerk"], "HT-2")
    tick(today=EXPIRES + timedelta(days=1))
    assert status(undated) == Contract.Status.IN_FORCE
    assert status(dated) == Contract.Status.EXPIRED

    Contract.objects.filter(pk=dated.pk).update(expires_on=None)
    tick(today=EXPIRES + timedelta(days=2))
    assert status(dated) == Contract.Status.IN_FORCE


def test_the_reminder_goes_once_at_the_lead_date_and_not_the_day_before(enterprise, staff):
    contract = archive(enterprise, staff["clerk"])

    tick(today=LEAD - timedelta(days=1))
    assert reminder_mail() == []
    assert not Notice.objects.exists()

    result = tick(today=LEAD)
    assert (result.reminders, result.emails, result.notices) == (1, 3, 3)
    # the member who archived it and the managers; not a plain member who cannot see it
    assert reminder_mail() == ["clerk@acme.test", "legal@acme.test", "owner@acme.test"]
    contract.refresh_from_db()
    assert contract.reminded_for == EXPIRES
    mail = EmailDelivery.objects.get(purpose=REMINDER_KIND, recipient="clerk@acme.test")
    assert mail.subject == "Expires on 2027-06-30: 采购合同 Purchase Agreement / 合同即将到期"
    assert "expires on 2027-06-30, in 30 days" in mail.body
    assert "将于 2027-06-30 到期（30 天后）" in mail.body
    assert f"/contracts/{contract.pk}/" in mail.body
    notice = Notice.objects.get(user=staff["clerk"])
    assert notice.kind == REMINDER_KIND and notice.url == f"/contracts/{contract.pk}/"
    assert (notice.about_type, notice.about_id) == ("contracts.contract", str(contract.pk))
    assert notice.title.startswith("Expires in 30 days: 采购合同")
    assert not Notice.objects.filter(user=staff["other"]).exists()

    for day in range(1, 31):  # every later day up to expiry, and the days after: nothing more
        tick(today=LEAD + timedelta(days=day))
    tick(today=EXPIRES + timedelta(days=5))
    assert len(reminder_mail()) == 3
    assert Notice.objects.count() == 3
    assert [e.kind for e in Event.objects.for_subject(contract)].count("expiry_reminder_sent") == 1


def test_running_tick_twice_sends_once(enterprise, staff):
    archive(enterprise, staff["clerk"])
    first, second = tick(today=LEAD), tick(today=LEAD)
    assert first.reminders == 1 and second.reminders == 0
    assert len(reminder_mail()) == 3
    assert Notice.objects.count() == 3


def test_a_runner_that_missed_the_lead_date_reminds_late_but_not_after_expiry(enterprise, staff):
    late = archive(enterprise, staff["clerk"], "HT-1")
    gone = archive(enterprise, staff["clerk"], "HT-2", expires_on=EXPIRES - timedelta(days=10))

    tick(today=EXPIRES - timedelta(days=3))  # the first run in a month

    late.refresh_from_db()
    gone.refresh_from_db()
    assert late.reminded_for == EXPIRES and late.status == Contract.Status.EXPIRING
    assert gone.reminded_for is None and gone.status == Contract.Status.EXPIRED
    assert Notice.objects.filter(about_id=str(gone.pk)).count() == 0
    assert "in 3 days" in EmailDelivery.objects.filter(purpose=REMINDER_KIND).first().body


def test_a_renewal_reminds_again_when_the_new_lead_date_comes(enterprise, staff):
    contract = archive(enterprise, staff["clerk"])
    tick(today=LEAD)
    assert len(reminder_mail()) == 3

    renewed = date(2028, 6, 30)
    Contract.objects.filter(pk=contract.pk).update(expires_on=renewed)
    tick(today=LEAD + timedelta(days=1))
    assert status(contract) == Contract.Status.IN_FORCE  # the new date is far away
    assert len(reminder_mail()) == 3

    tick(today=renewed - timedelta(days=31))
    assert len(reminder_mail()) == 3
    tick(today=renewed - timedelta(days=30))
    assert len(reminder_mail()) == 6
    assert status(contract) == Contract.Status.EXPIRING
    contract.refresh_from_db()
    assert contract.reminded_for == renewed
    assert Notice.objects.filter(user=staff["legal"]).count() == 2


def test_terminated_and_deleted_contracts_get_no_reminder_and_keep_their_status(enterprise, staff):
    terminated = archive(enterprise, staff["clerk"], "HT-1")
    Contract.objects.filter(pk=terminated.pk).update(status=Contract.Status.TERMINATED)
    deleted = archive(enterprise, staff["clerk"], "HT-2")
    Contract.objects.filter(pk=deleted.pk).update(deleted_at="2027-01-01T00:00:00Z")

    result = tick(today=LEAD)
    tick(today=EXPIRES + timedelta(days=1))

    assert (result.status_changes, result.reminders) == (0, 0)
    assert reminder_mail() == []
    assert status(terminated) == Contract.Status.TERMINATED
    assert status(deleted) == Contract.Status.IN_FORCE


def test_the_organisations_reminder_days_are_respected(enterprise, staff, make_user):
    settings_ = archive_settings(enterprise)
    settings_.reminder_days = 7
    settings_.save()
    contract = archive(enterprise, staff["clerk"])
    # another organisation keeps the default 30 days
    from econtract.accounts.services import create_enterprise

    elsewhere_owner = make_user("boss@elsewhere.test")
    elsewhere = create_enterprise("别处有限公司", elsewhere_owner)
    theirs = archive(elsewhere, elsewhere_owner)

    tick(today=LEAD)
    assert status(contract) == Contract.Status.IN_FORCE
    assert status(theirs) == Contract.Status.EXPIRING
    assert reminder_mail() == ["boss@elsewhere.test"]

    tick(today=EXPIRES - timedelta(days=8))
    assert status(contract) == Contract.Status.IN_FORCE
    tick(today=EXPIRES - timedelta(days=7))
    assert status(contract) == Contract.Status.EXPIRING
    assert reminder_mail() == ["boss@elsewhere.test", "clerk@acme.test", "legal@acme.test", "owner@acme.test"]


def test_a_creator_who_left_the_organisation_is_not_reminded(enterprise, staff):
    archive(enterprise, staff["clerk"])
    Membership.objects.filter(organization=enterprise, user=staff["clerk"]).delete()
    tick(today=LEAD)
    assert reminder_mail() == ["legal@acme.test", "owner@acme.test"]


def test_a_reminder_reaches_the_mailbox_after_commit(
    enterprise, staff, outbox, django_capture_on_commit_callbacks
):
    archive(enterprise, staff["clerk"])
    with django_capture_on_commit_callbacks(execute=True):
        tick(today=LEAD)
    (message,) = outbox.messages("clerk@acme.test")
    assert "合同即将到期" in message["Subject"]
    assert "2027-06-30" in outbox.text(message)


def test_status_on_and_retention_end_keep_their_answers(enterprise, staff):
    contract = archive(enterprise, staff["clerk"])
    assert status_on(contract, LEAD - timedelta(days=1), 30) == Contract.Status.IN_FORCE
    assert status_on(contract, LEAD, 30) == Contract.Status.EXPIRING
    assert status_on(contract, EXPIRES + timedelta(days=1), 30) == Contract.Status.EXPIRED
    assert lifecycle.retention_end(contract, 10) == date(2037, 6, 30)


def test_the_command_takes_a_day(enterprise, staff, capsys):
    archive(enterprise, staff["clerk"])
    call_command("contracts_tick", "--today", LEAD.isoformat())
    assert "1 status changes, 1 contracts reminded (3 emails, 3 notices)" in capsys.readouterr().out
    assert len(reminder_mail()) == 3


@pytest.mark.django_db(transaction=True)
def test_two_runners_at_once_remind_once(enterprise, staff):
    """Each thread has its own connection: on PostgreSQL the claims really overlap (the row lock makes
    the second UPDATE see the first's reminded_for); on SQLite the IMMEDIATE write lock serialises them."""
    for n in range(5):
        archive(enterprise, staff["clerk"], f"HT-{n}")
    start = threading.Barrier(4)

    def run(_: int) -> lifecycle.TickResult:
        start.wait()
        try:
            return tick(today=LEAD)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, range(4)))

    assert sum(r.reminders for r in results) == 5
    assert sum(r.status_changes for r in results) == 5
    assert EmailDelivery.objects.filter(purpose=REMINDER_KIND).count() == 15
    assert Notice.objects.count() == 15
    assert Event.objects.filter(kind="expiry_reminder_sent").count() == 5
    assert Event.objects.filter(kind="status_changed").count() == 5

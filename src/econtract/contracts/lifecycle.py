"""A contract's place in its life: in force, expiring, expired, terminated; how long it must be kept;
the periodic tick that moves statuses on with the calendar and reminds once before each expiry date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from econtract.accounts.models import Organization, User
from econtract.contracts.models import MANAGER_ROLES, ArchiveSettings, Contract
from econtract.evidence.services import RequestContext, record_event
from econtract.notifications import inapp
from econtract.notifications.services import About, send_email


def archive_settings(organization: object) -> ArchiveSettings:
    found, _ = ArchiveSettings.objects.get_or_create(organization=organization)
    return found


def status_on(contract: Contract, today: date, reminder_days: int) -> str:
    """Terminated stays terminated; otherwise the expiry date decides (a contract without one is in force)."""
    if contract.status == Contract.Status.TERMINATED:
        return Contract.Status.TERMINATED
    if contract.expires_on is None:
        return Contract.Status.IN_FORCE
    if contract.expires_on < today:
        return Contract.Status.EXPIRED
    if (contract.expires_on - today).days <= reminder_days:
        return Contract.Status.EXPIRING
    return Contract.Status.IN_FORCE


def retention_end(contract: Contract, retention_years: int) -> date | None:
    """Kept ``retention_years`` after it ends (expiry), or after signing when it has no expiry."""
    start: date | None = contract.expires_on
    if start is None and contract.signed_at is not None:
        start = contract.signed_at.date() if isinstance(contract.signed_at, datetime) else contract.signed_at
    if start is None:
        start = contract.created_at.date() if contract.created_at else None
    if start is None:
        return None
    try:
        return start.replace(year=start.year + retention_years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + retention_years, day=28)


# --- over time: statuses and expiry reminders (run by `contracts_tick` and serve's runner) ------------

REMINDER_KIND = "contract_expiring"  # the notice kind and the mail purpose
CONTRACT_PATH = "/contracts/{id}/"  # the contract's page on this site, for mails and notices
CONTEXT = RequestContext.system("contracts tick")


@dataclass(frozen=True)
class TickResult:
    today: date
    status_changes: int = 0  # contracts whose status this run changed
    reminders: int = 0  # contracts this run reminded about
    emails: int = 0
    notices: int = 0


def tick(today: date | None = None, now: datetime | None = None) -> TickResult:
    """Bring every live contract's status up to ``today``, then remind once per expiry date.

    Safe to run often and in parallel: each change and each reminder is claimed by a conditional UPDATE
    of the row, so of two runners one changes or reminds and the other finds nothing left to do."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    changes = reminders = emails = notices = 0
    organization_ids = Contract.objects.alive().order_by().values_list("organization_id", flat=True)
    for organization in Organization.objects.filter(pk__in=organization_ids.distinct()).order_by("pk"):
        reminder_days = archive_settings(organization).reminder_days
        # only a dated contract, or one whose date was removed, can have a status other than "in force"
        live = (
            Contract.objects.alive()
            .for_org(organization)
            .exclude(status=Contract.Status.TERMINATED)
            .filter(Q(expires_on__isnull=False) | ~Q(status=Contract.Status.IN_FORCE))
        )
        for contract in list(live.only("id", "status", "expires_on").order_by("pk")):
            if _update_status(contract, organization, today, reminder_days):
                changes += 1
        for contract in _due_reminders(organization, today, reminder_days):
            sent = _remind(contract, organization, today, now)
            if sent is not None:
                reminders += 1
                emails += sent
                notices += sent
    return TickResult(today, changes, reminders, emails, notices)


def _update_status(contract: Contract, organization: Organization, today: date, reminder_days: int) -> bool:
    new = status_on(contract, today, reminder_days)
    if new == contract.status:
        return False
    with transaction.atomic():
        # only from what was read: a termination or a new expiry date meanwhile wins, and a parallel
        # runner that made the same change already finds nothing to update (one event per change)
        changed = (
            Contract.objects.alive()
            .filter(pk=contract.pk, status=contract.status, expires_on=contract.expires_on)
            .update(status=new)
        )
        if not changed:
            return False
        record_event(
            "status_changed",
            contract,
            CONTEXT,
            organization=organization,
            payload={
                "from": str(contract.status),
                "to": str(new),
                "expires_on": contract.expires_on.isoformat() if contract.expires_on else None,
                "on": today.isoformat(),
            },
        )
    contract.status = new
    return True


def _due_reminders(organization: Organization, today: date, reminder_days: int) -> list[Contract]:
    """Live contracts expiring within the lead time (today included) not yet reminded for that date.

    An expired contract that was never reminded (the runner was off all through its lead time) gets
    no late "expiring" reminder: its status says expired."""
    return list(
        Contract.objects.alive()
        .for_org(organization)
        .exclude(status=Contract.Status.TERMINATED)
        .filter(expires_on__gte=today, expires_on__lte=today + timedelta(days=reminder_days))
        .exclude(reminded_for=F("expires_on"))
        .select_related("created_by")
        .order_by("expires_on", "pk")
    )


def _remind(contract: Contract, organization: Organization, today: date, now: datetime) -> int | None:
    """Mail and notify everyone who should know, once for this expiry date; None if another run did."""
    expires_on = contract.expires_on
    assert expires_on is not None
    with transaction.atomic():
        # The claim and the messages commit together: a failure here rolls the claim back for the next run.
        claimed = (
            Contract.objects.alive()
            .filter(pk=contract.pk, expires_on=expires_on)
            .exclude(status=Contract.Status.TERMINATED)
            .exclude(reminded_for=expires_on)
            .update(reminded_for=expires_on)
        )
        if not claimed:
            return None
        people = reminder_recipients(contract)
        days = (expires_on - today).days
        path = CONTRACT_PATH.format(id=contract.pk)
        subject, body = _reminder_mail(contract, expires_on, days, f"{settings.BASE_URL}{path}")
        title, text = _reminder_notice(contract, expires_on, days)
        for person in people:
            send_email(
                [person.email],
                subject,
                body,
                purpose=REMINDER_KIND,
                about=About(contract, payload={"user": str(person.pk), "expires_on": expires_on.isoformat()}),
            )
            inapp.notify(
                person,
                REMINDER_KIND,
                title,
                text,
                url=path,
                about=contract,
                organization=organization,
                now=now,
            )
        record_event(
            "expiry_reminder_sent",
            contract,
            CONTEXT,
            organization=organization,
            payload={"expires_on": expires_on.isoformat(), "days_left": days, "recipients": len(people)},
        )
    contract.reminded_for = expires_on
    return len(people)


def reminder_recipients(contract: Contract) -> list[User]:
    """Who hears of the expiry: the member who archived it and the organisation's owners, admins and
    legal staff; each only while she is active and may still see the contract."""
    managers = User.objects.filter(
        memberships__organization_id=contract.organization_id, memberships__role__in=MANAGER_ROLES
    ).order_by("date_joined", "pk")
    found: dict[object, User] = {}
    for person in [contract.created_by, *managers]:
        if person.pk in found or not person.is_active or not person.email:
            continue
        if Contract.objects.visible_to(person).filter(pk=contract.pk).exists():
            found[person.pk] = person
    return list(found.values())


def _when(days: int) -> tuple[str, str]:
    """How soon, in English and in Chinese."""
    if days == 0:
        return "today", "今天"
    return f"in {days} day{'s' if days != 1 else ''}", f"{days} 天后"


def _reminder_mail(contract: Contract, expires_on: date, days: int, url: str) -> tuple[str, str]:
    when_en, when_zh = _when(days)
    subject = f"Expires on {expires_on.isoformat()}: {contract.title} / 合同即将到期"
    body = (
        f'The contract "{contract.title}" (no. {contract.number}) expires on {expires_on.isoformat()}, '
        f"{when_en}. Renew it, or record how it ends, at {url}\n\n"
        f"合同《{contract.title}》（编号 {contract.number}）将于 {expires_on.isoformat()} 到期（{when_zh}）。"
        f"请及时续签或办理终止：{url}\n"
    )
    return subject, body


def _reminder_notice(contract: Contract, expires_on: date, days: int) -> tuple[str, str]:
    when_en, when_zh = _when(days)
    title = f"Expires {when_en}: {contract.title} / 合同即将到期（{when_zh}）：{contract.title}"
    body = (
        f'"{contract.title}" (no. {contract.number}) expires on {expires_on.isoformat()}.\n'
        f"《{contract.title}》（编号 {contract.number}）将于 {expires_on.isoformat()} 到期。"
    )
    return title, body

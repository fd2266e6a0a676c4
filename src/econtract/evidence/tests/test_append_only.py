"""The evidence tables refuse UPDATE and DELETE in the database itself, whoever asks (docs/decisions.md)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from econtract.accounts.models import Organization
from econtract.evidence.append_only import (
    APPEND_ONLY_TABLES,
    existing_tables,
    install_triggers,
    installed_triggers,
    trigger_names,
)
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext, record_event

pytestmark = pytest.mark.django_db


def expected_triggers() -> set[str]:
    return {name for table in existing_tables(connection) for name in trigger_names(connection.vendor, table)}


@pytest.fixture
def event(enterprise: Organization) -> Event:
    return record_event("tested", enterprise, RequestContext.system())


def snapshot(pk: object) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kind, event_hash FROM evidence_event WHERE id = %s",
            [Event.id.field.get_db_prep_value(pk, connection)],
        )
        return tuple(cursor.fetchall())


def test_after_migrate_every_evidence_table_is_guarded() -> None:
    assert "evidence_event" in existing_tables(connection)
    assert set(existing_tables(connection)) == set(APPEND_ONLY_TABLES)  # the lead's 0002 made the others
    assert expected_triggers() <= installed_triggers(connection)


def _orm_update(event: Event) -> None:
    Event._base_manager.filter(pk=event.pk).update(kind="x")


def _orm_delete(event: Event) -> None:
    # The collector deletes the protected log queue row first... unless it refuses (ProtectedError, an
    # IntegrityError) before the trigger does: both are DatabaseErrors, and _orm_raw_delete reaches the trigger.
    Event._base_manager.filter(pk=event.pk).delete()


def _orm_raw_delete(event: Event) -> None:
    Event._base_manager.filter(pk=event.pk)._raw_delete(connection.alias)


def _raw(sql: str) -> Callable[[Event], None]:
    def run(event: Event) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, [Event.id.field.get_db_prep_value(event.pk, connection)])

    return run


@pytest.mark.parametrize(
    "change",
    [
        _orm_update,
        _orm_delete,
        _orm_raw_delete,
        _raw("UPDATE evidence_event SET kind = 'x' WHERE id = %s"),
        _raw("DELETE FROM evidence_event WHERE id = %s"),
    ],
    ids=["orm-update", "orm-delete", "orm-raw-delete", "sql-update", "sql-delete"],
)
def test_a_recorded_event_cannot_be_changed(event: Event, change: Callable[[Event], None]) -> None:
    before = snapshot(event.pk)
    assert before == (("tested", event.event_hash),)
    with pytest.raises(DatabaseError) as refused, transaction.atomic():
        change(event)
    if change is not _orm_delete:
        assert "evidence is append-only" in str(refused.value)
    assert snapshot(event.pk) == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_truncate_is_refused_on_postgresql(event: Event) -> None:
    with pytest.raises(DatabaseError, match="evidence is append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # else: "pending trigger events" refuses first
            cursor.execute("TRUNCATE evidence_event CASCADE")
    assert Event.objects.filter(pk=event.pk).exists()


def test_installing_twice_changes_nothing() -> None:
    before = installed_triggers(connection)
    install_triggers(connection)
    install_triggers(connection)
    assert installed_triggers(connection) == before


def test_migrate_puts_back_a_trigger_a_table_rebuild_dropped(event: Event) -> None:
    name = trigger_names(connection.vendor, "evidence_event")[0]
    on = ' ON "evidence_event"' if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TRIGGER "{name}"{on}')
    assert name not in installed_triggers(connection)
    call_command("migrate", verbosity=0)
    assert expected_triggers() <= installed_triggers(connection)
    with pytest.raises(DatabaseError), transaction.atomic():
        _orm_update(event)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round", [1, 2])
def test_a_test_flush_empties_the_evidence_and_guards_it_again(enterprise: Organization, round: int) -> None:
    # Round 2 starts after the flush of round 1 emptied a table full of events (conftest.py).
    assert not Event.objects.filter(kind="tested").exists()
    assert expected_triggers() <= installed_triggers(connection)
    event = record_event("tested", enterprise, RequestContext.system())
    with pytest.raises(DatabaseError), transaction.atomic():
        _orm_update(event)

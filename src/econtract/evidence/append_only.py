"""The evidence tables are append-only in the database itself, not only in the ORM.

`Event.save`/`delete` and the queryset refuse changes, but raw SQL, `_base_manager`, a `dbshell` or
another client would not ask the ORM. Triggers on SQLite and PostgreSQL refuse every UPDATE and DELETE
(and TRUNCATE on PostgreSQL) of the tables below. They are (re)installed after every `migrate` by a
`post_migrate` handler (apps.py): rebuilding a SQLite table in a migration drops its triggers.

One UPDATE of an event is let through, once: the PIPL erasure (evidence.erasure), which blanks the
personal columns and sets ``erased_at``, leaving every other column as it was. The condition names every
other column of the table as the model has it at install time, so a column added later is guarded too.
"""

from __future__ import annotations

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

APPEND_ONLY_TABLES: tuple[str, ...] = (
    "evidence_event",
    "evidence_leaf",
    "evidence_treehash",
    "evidence_checkpoint",
)
MESSAGE = "evidence is append-only"
PG_FUNCTION = "evidence_refuse_change"
PG_EVENT_FUNCTION = "evidence_event_erasure_only"
EVENT_TABLE = "evidence_event"
# The personal columns an erasure blanks, and the value each must then hold (SQL, per vendor).
ERASED_VALUES: dict[str, dict[str, str]] = {
    "sqlite": {
        "actor_id": "IS NULL",
        "actor_label": "= ''",
        "ip_address": "IS NULL",
        "user_agent": "= ''",
        "payload": "= '{}'",
    },
    "postgresql": {
        "actor_id": "IS NULL",
        "actor_label": "= ''",
        "ip_address": "IS NULL",
        "user_agent": "= ''",
        "payload": "= '{}'::jsonb",
    },
}


def trigger_names(vendor: str, table: str) -> tuple[str, ...]:
    """The names of the triggers guarding ``table`` on ``vendor`` ("sqlite" or "postgresql")."""
    if vendor == "sqlite":
        return (f"{table}_no_update", f"{table}_no_delete")
    if vendor == "postgresql":
        return (f"{table}_append_only", f"{table}_no_truncate")
    raise NotImplementedError(f"append-only triggers are not written for {vendor}")


def existing_tables(connection: BaseDatabaseWrapper) -> list[str]:
    """The append-only tables that exist in this database (a migration may not have created them yet)."""
    with connection.cursor() as cursor:
        present = set(connection.introspection.table_names(cursor))
    return [table for table in APPEND_ONLY_TABLES if table in present]


def erasure_condition(vendor: str) -> str:
    """SQL true exactly for the one allowed UPDATE of an event row: its erasure."""
    from econtract.evidence.models import Event

    same = "IS" if vendor == "sqlite" else "IS NOT DISTINCT FROM"
    erased = ERASED_VALUES[vendor]
    kept = [
        f.column for f in Event._meta.concrete_fields if f.column not in erased and f.column != "erased_at"
    ]
    parts = ["OLD.erased_at IS NULL", "NEW.erased_at IS NOT NULL"]
    parts += [f'NEW."{column}" {same} OLD."{column}"' for column in kept]
    parts += [f'NEW."{column}" {test}' for column, test in erased.items()]
    return " AND ".join(parts)


def _sqlite_statements(table: str) -> list[str]:
    no_update, no_delete = trigger_names("sqlite", table)
    quoted = f'"{table}"'
    body = f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    if table == EVENT_TABLE:
        # replaced each time: an older install refused the erasure too, or guarded fewer columns
        return [
            f'DROP TRIGGER IF EXISTS "{no_update}"',
            f'CREATE TRIGGER "{no_update}" BEFORE UPDATE ON {quoted} FOR EACH ROW '
            f"WHEN NOT ({erasure_condition('sqlite')}) {body}",
            f'CREATE TRIGGER IF NOT EXISTS "{no_delete}" BEFORE DELETE ON {quoted} FOR EACH ROW {body}',
        ]
    return [
        f'CREATE TRIGGER IF NOT EXISTS "{no_update}" BEFORE UPDATE ON {quoted} FOR EACH ROW {body}',
        f'CREATE TRIGGER IF NOT EXISTS "{no_delete}" BEFORE DELETE ON {quoted} FOR EACH ROW {body}',
    ]


def _postgresql_function() -> str:
    # restrict_violation (SQLSTATE 23001): an IntegrityError, as SQLite's RAISE(ABORT) is.
    return (
        f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation', "
        "DETAIL = TG_OP || ' on ' || TG_TABLE_NAME; END $$"
    )


def _postgresql_event_function() -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {PG_EVENT_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'UPDATE' AND {erasure_condition('postgresql')} THEN RETURN NEW; END IF; "
        f"RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation', "
        "DETAIL = TG_OP || ' on ' || TG_TABLE_NAME; END $$"
    )


def _postgresql_statements(table: str) -> list[str]:
    row, truncate = trigger_names("postgresql", table)
    quoted = f'"{table}"'
    function = PG_EVENT_FUNCTION if table == EVENT_TABLE else PG_FUNCTION
    return [
        f'CREATE OR REPLACE TRIGGER "{row}" BEFORE UPDATE OR DELETE ON {quoted} '
        f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        f'CREATE OR REPLACE TRIGGER "{truncate}" BEFORE TRUNCATE ON {quoted} '
        f"FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()",
    ]


def install_triggers(connection: BaseDatabaseWrapper) -> list[str]:
    """Create the triggers on every existing append-only table; idempotent. Returns the tables guarded."""
    vendor = connection.vendor
    trigger_names(vendor, APPEND_ONLY_TABLES[0])  # refuses an unsupported database before touching it
    tables = existing_tables(connection)
    if not tables:
        return []
    statements: list[str] = []
    if vendor == "postgresql":
        statements += [_postgresql_function(), _postgresql_event_function()]
    for table in tables:
        statements += _sqlite_statements(table) if vendor == "sqlite" else _postgresql_statements(table)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return tables


def installed_triggers(connection: BaseDatabaseWrapper) -> set[str]:
    """The names of the triggers currently defined on the append-only tables."""
    tables = list(APPEND_ONLY_TABLES)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            placeholders = ", ".join(["%s"] * len(tables))
            cursor.execute(
                f"SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({placeholders})",  # noqa: S608 (placeholders only)
                tables,
            )
        elif connection.vendor == "postgresql":
            cursor.execute(
                "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND c.relname = ANY(%s) AND pg_table_is_visible(c.oid)",
                [tables],
            )
        else:
            raise NotImplementedError(f"append-only triggers are not written for {connection.vendor}")
        return {row[0] for row in cursor.fetchall()}

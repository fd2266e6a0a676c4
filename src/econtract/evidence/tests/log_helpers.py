"""Helpers for log tests: events on a subject, and tampering that bypasses the database's own refusal."""

from __future__ import annotations

from django.db import connection

from econtract.evidence.services import RequestContext, record_event


def record_many(subject, count: int, *, label: str = "alice@example.test") -> list:
    context = RequestContext(ip_address="203.0.113.7", user_agent="Mozilla/5.0 test", label=label)
    return [
        record_event("tested", subject, context, document_sha256="ab" * 32, payload={"n": i, "name": "张三"})
        for i in range(count)
    ]


def drop_evidence_triggers() -> None:
    """What an attacker with the database's owner rights does first. Rolled back with the test."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'evidence%'"
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER "{name}"')
        else:
            cursor.execute(
                "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND c.relname LIKE 'evidence%%'"
            )
            for name, table in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER "{name}" ON "{table}"')


def raw(sql: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])

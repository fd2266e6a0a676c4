"""Shared pytest fixtures: users, organisations, API clients and sample PDFs, built through the services."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def flushable_evidence():
    """Tests only: a flush (transactional tests empty every table) may empty the append-only evidence
    tables. Their triggers (evidence/append_only.py) are dropped in the flush's own transaction and put
    back right after it. Production has no such bypass: `manage.py flush` there is refused."""
    from django.db import connections

    from econtract.evidence.append_only import existing_tables, install_triggers, trigger_names

    patched = []
    for operations in {type(connections[alias].ops) for alias in connections}:
        sql_flush, execute_sql_flush = operations.sql_flush, operations.execute_sql_flush

        def drop_then_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False, _f=sql_flush):
            statements = _f(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
            if not statements:
                return statements
            vendor = self.connection.vendor
            suffix = " ON {}" if vendor == "postgresql" else ""
            drops = [
                f'DROP TRIGGER IF EXISTS "{name}"' + suffix.format(self.quote_name(table))
                for table in existing_tables(self.connection)
                for name in trigger_names(vendor, table)
            ]
            return drops + list(statements)

        def flush_then_reinstall(self, sql_list, _f=execute_sql_flush):
            _f(self, sql_list)
            install_triggers(self.connection)  # also when available_apps inhibits post_migrate

        operations.sql_flush, operations.execute_sql_flush = drop_then_flush, flush_then_reinstall
        patched.append((operations, sql_flush, execute_sql_flush))
    yield
    for operations, sql_flush, execute_sql_flush in patched:
        operations.sql_flush, operations.execute_sql_flush = sql_flush, execute_sql_flush


@pytest.fixture(autouse=True)
def embedded_outbox(settings, tmp_path):
    """Mail goes to the embedded-mode outbox (pytest-django would swap in locmem), one per test."""
    settings.EMAIL_BACKEND = "econtract.notifications.outbox.OutboxEmailBackend"
    settings.OUTBOX_DIR = tmp_path / "outbox"


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttles and rate limits live in the cache; under Redis it outlives a test unless cleared."""
    from django.core.cache import caches

    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def outbox(settings):
    """Read the embedded-mode outbox of this test: every email is one .eml file."""
    from tests.mailbox import Outbox

    return Outbox(settings.OUTBOX_DIR)


@pytest.fixture
def make_user(db):
    from econtract.accounts.services import create_personal_account

    counter = {"n": 0}

    def make(
        email: str | None = None,
        full_name: str = "张三 Zhang San",
        *,
        verified: bool = True,
        identity: str | None = "L2",
        password: str = "correct horse battery",
    ):
        """A user with a personal organisation; ``verified``: her email is; ``identity``: her name was
        verified at that level too (None: it was not), so she may hold a signing certificate."""
        from econtract.identity.tests.factories import verify_identity

        counter["n"] += 1
        user = create_personal_account(
            email or f"user{counter['n']}@example.test", password, full_name, email_verified=verified
        )
        if verified and identity:
            verify_identity(user, level=identity)
        return user

    return make


@pytest.fixture
def enterprise(db, make_user):
    from econtract.accounts.services import create_enterprise

    owner = make_user("owner@acme.test", "王五 Wang Wu")
    return create_enterprise("Acme 科技有限公司", owner)


@pytest.fixture
def api_client(db):
    """A Django test client that authenticates with a fresh API key of the given user."""
    from django.test import Client

    from econtract.accounts.services import create_api_key

    def for_user(user, organization=None) -> Client:
        _, secret = create_api_key(user, organization)
        return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    return for_user


@pytest.fixture(scope="session")
def sample_pdf() -> bytes:
    from econtract.documents.samples import make_contract_pdf

    return make_contract_pdf(
        "测试合同 Test Agreement", ["甲方 Party A", "乙方 Party B", "条款 Terms apply."], pages=2
    )


@pytest.fixture
def idp(settings):
    """The sandbox identity protocol on a local port, counting the requests that reach it, configured as
    the platform's identity provider (so a test can assert that no provider call was made)."""
    from econtract.identity.tests.test_providers import KEY, CountingSandbox, serve

    for server in serve(CountingSandbox()):
        settings.ECONTRACT_IDP_URL = server.url
        settings.ECONTRACT_IDP_KEY = KEY
        settings.ECONTRACT_IDP_TIMEOUT = 5
        yield server


@pytest.fixture
def verified_enterprise(db, make_user):
    """福州示例科技有限公司, verified through the real verbs; its owner 张三 is the legal representative."""
    from econtract.accounts.tests.factories import verified_enterprise as build

    return build(make_user)

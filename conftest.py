"""Shared pytest fixtures: users, organisations, API clients and sample PDFs, built through the services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


# --- a completed envelope (evidence report and package tests, the verification page) -------------------


@dataclass
class CompletedEnvelope:
    envelope: Any  # signing.models.Envelope
    sender: Any
    sender_api: Any  # the sender's API client (an enterprise member)
    outsider_api: Any  # a user of no organisation of the envelope


@pytest.fixture
def completed_envelope(make_user, enterprise, api_client, sample_pdf, outbox) -> CompletedEnvelope:
    """Two people sign in turn through the API; the envelope completes (B-LTA document timestamp)."""
    from econtract.signing.models import Envelope
    from econtract.signing.tests.factories import PIN, create_and_send, people, sign_as

    sender, first, second = people(make_user, enterprise)
    sender_api, first_api, second_api = api_client(sender, enterprise), api_client(first), api_client(second)
    parties = [
        {"name": "张三", "email": "first@example.test", "order": 1},
        {"name": "李四", "email": "second@example.test", "order": 2},
    ]
    fields = [
        {"party": 0, "page": 1, "x": 50, "y": 60, "width": 180, "height": 60},
        {"party": 1, "page": 1, "x": 300, "y": 60, "width": 180, "height": 60},
    ]
    sent = create_and_send(sender_api, sample_pdf, parties, fields)
    for index, (client, email, pin) in enumerate(
        [(first_api, "first@example.test", PIN["first"]), (second_api, "second@example.test", PIN["second"])]
    ):
        response = sign_as(client, outbox, sent, index, email, pin)
        assert response.status_code == 200, response.content
    envelope = Envelope.objects.get(pk=sent["id"])
    assert envelope.status == Envelope.Status.COMPLETED
    outsider = make_user("outsider@example.test")
    return CompletedEnvelope(
        envelope=envelope, sender=sender, sender_api=sender_api, outsider_api=api_client(outsider)
    )

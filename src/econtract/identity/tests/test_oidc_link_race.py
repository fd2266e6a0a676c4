"""Two accounts linking the same provider account (issuer, subject) at the same moment: one gets it.

Each thread has its own database connection (``transaction=True``): on PostgreSQL the link requests
really overlap and are serialised by the advisory lock on the pair; on SQLite by the write lock of
the IMMEDIATE transaction. Without the lock both would find no link and both would be verified.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from econtract.accounts.models import User
from econtract.evidence.services import RequestContext
from econtract.identity import oidc
from econtract.identity.errors import OidcError
from econtract.identity.models import IdentityVerification

pytestmark = pytest.mark.django_db(transaction=True)

ISSUER = "http://127.0.0.1:9"  # never asked: linking needs the configuration, not the provider
IDENTITY = oidc.OidcIdentity(
    issuer=ISSUER,
    subject="shared-subject-0042",
    name="李四 Li Si",
    email="li.si@example.test",
    email_verified=True,
    id_number="",
)


@pytest.fixture
def configured(settings):
    settings.ECONTRACT_OIDC_ISSUER = ISSUER
    settings.ECONTRACT_OIDC_CLIENT_ID = "econtract-test"
    settings.ECONTRACT_OIDC_ASSURANCE_LEVEL = "L3"
    settings.ECONTRACT_OIDC_ID_TYPE = "cn_resident"


def _in_parallel(users, call):  # type: ignore[no-untyped-def]
    start = threading.Barrier(len(users))

    def one(user):  # type: ignore[no-untyped-def]
        start.wait()
        try:
            return call(user)
        finally:
            connection.close()  # each worker thread opened its own connection

    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        return list(pool.map(one, users))


def _link(user) -> str:  # type: ignore[no-untyped-def]
    try:
        oidc.link_account(user, IDENTITY, RequestContext.system("race test"))
    except OidcError:
        return "refused"
    return "linked"


def test_accounts_linking_one_subject_at_once_get_one_link(configured, make_user):
    users = [make_user(f"racer{n}@example.test", identity=None) for n in range(6)]

    results = _in_parallel(users, _link)

    assert results.count("linked") == 1, results
    assert results.count("refused") == 5
    links = IdentityVerification.objects.filter(
        method="oidc", status="verified", provider=ISSUER, provider_reference=IDENTITY.subject
    )
    assert links.count() == 1
    winner = users[results.index("linked")]
    assert oidc.linked_user(ISSUER, IDENTITY.subject) == winner


def test_parallel_new_accounts_for_one_subject_create_one(configured):
    """The login path: two callbacks for a new subject, each creating an account (other emails)."""
    identities = [
        oidc.OidcIdentity(
            issuer=ISSUER,
            subject=IDENTITY.subject,
            name=IDENTITY.name,
            email=f"new{n}@example.test",
            email_verified=True,
            id_number="",
        )
        for n in range(4)
    ]

    def create(identity):  # type: ignore[no-untyped-def]
        try:
            oidc.create_account(identity, RequestContext.system("race test"))
        except OidcError:
            return "refused"
        return "created"

    results = _in_parallel(identities, create)

    assert results.count("created") == 1, results
    assert User.objects.filter(email__startswith="new").count() == 1  # the others were rolled back
    assert (
        IdentityVerification.objects.filter(
            method="oidc", status="verified", provider_reference=IDENTITY.subject
        ).count()
        == 1
    )

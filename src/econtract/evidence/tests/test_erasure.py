"""PIPL erasure: her personal data leaves the events and the salts go; every proof and the audit still hold."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from econtract.evidence import log, merkle
from econtract.evidence.audit import audit
from econtract.evidence.erasure import erase_personal_data
from econtract.evidence.models import Event, EventSecret, Leaf
from econtract.evidence.services import RequestContext, chain_is_intact, record_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(make_user):
    return make_user("alice@example.test", "张爱丽 Alice Zhang")


def _her_events(alice, enterprise) -> list[Event]:
    context = RequestContext(actor=alice, ip_address="203.0.113.9", user_agent="Mozilla/5.0 Alice")
    made = [
        record_event("tested", enterprise, context, payload={"name": "张爱丽", "phone": "13800138000"}),
        record_event("tested", enterprise, context, payload={"n": 2}),
    ]
    log.integrate_pending()
    return made


def test_erasure_blanks_her_fields_deletes_her_salts_and_every_proof_and_the_audit_still_hold(
    alice, enterprise
):
    # Given events she acted in, other people's events, and a checkpoint over them all
    hers = _her_events(alice, enterprise)
    others = record_event(
        "tested", enterprise, RequestContext(label="bob@example.test", ip_address="198.51.100.1")
    )
    log.integrate_pending()
    before = log.make_checkpoint()
    leaves_before = {leaf.index: bytes(leaf.data) for leaf in Leaf.objects.all()}
    # When her personal data is erased
    result = erase_personal_data(alice, RequestContext.system("pipl-erasure"))
    # Then her events (and those about her account) are blank and marked, their salts gone
    assert result.events >= 2 and result.salts >= 6
    for event in Event.objects.filter(pk__in=[e.pk for e in hers]):
        assert event.erased_at is not None
        assert (event.actor_id, event.actor_label, event.ip_address, event.user_agent, event.payload) == (
            None,
            "",
            None,
            "",
            {},
        )
        assert not EventSecret.objects.filter(event=event).exists()
    # and nobody else's are touched
    other = Event.objects.get(pk=others.pk)
    assert other.erased_at is None and other.actor_label == "bob@example.test"
    assert EventSecret.objects.filter(event=other).exists()
    # and not one leaf changed, so the old checkpoint and every inclusion proof against it still verify
    assert {
        leaf.index: bytes(leaf.data) for leaf in Leaf.objects.filter(index__lt=before.tree_size)
    } == leaves_before
    for event in hers:
        index = Leaf.objects.get(event=event).index
        merkle.verify_inclusion(
            merkle.leaf_hash(leaves_before[index]),
            index,
            before.tree_size,
            log.inclusion_proof(index, before.tree_size),
            bytes(before.root_hash),
        )
    # and the erasure itself is an event, and the audit and the subject chains hold
    assert Event.objects.for_subject(alice).filter(kind="personal_data_erased").exists()
    assert chain_is_intact(enterprise)
    result_audit = audit()
    assert result_audit.ok, result_audit.problem


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE evidence_event SET kind = 'x', actor_label = '', ip_address = NULL, user_agent = '', "
        "payload = '{}', actor_id = NULL, erased_at = CURRENT_TIMESTAMP WHERE id = %s",  # erasure plus a change
        "UPDATE evidence_event SET actor_label = '', erased_at = CURRENT_TIMESTAMP WHERE id = %s",  # partial
        "UPDATE evidence_event SET actor_label = 'mallory', ip_address = NULL, user_agent = '', "
        "payload = '{}', actor_id = NULL, erased_at = CURRENT_TIMESTAMP WHERE id = %s",  # rewrite, not blank
        "UPDATE evidence_event SET document_sha256 = 'ff', actor_label = '', ip_address = NULL, user_agent = '', "
        "payload = '{}', actor_id = NULL, erased_at = CURRENT_TIMESTAMP WHERE id = %s",
    ],
    ids=["erase-and-change-kind", "partial", "rewrite-label", "erase-and-set-document-hash"],
)
def test_the_database_lets_through_only_a_whole_erasure(alice, enterprise, sql):
    # Given an event of hers
    event = _her_events(alice, enterprise)[0]
    if connection.vendor == "postgresql":
        sql = sql.replace("payload = '{}'", "payload = '{}'::jsonb")
    # When raw SQL tries an UPDATE that is not exactly the erasure, then the database refuses it
    with pytest.raises(DatabaseError, match="evidence is append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [Event.id.field.get_db_prep_value(event.pk, connection)])
    assert Event.objects.get(pk=event.pk).actor_label == "alice@example.test"


def test_an_erased_event_cannot_be_changed_again(alice, enterprise):
    # Given her erased events
    event = _her_events(alice, enterprise)[0]
    erase_personal_data(alice, RequestContext.system())
    # When anyone tries to write into one again (even the same erasure), then the database refuses
    blank = (
        "actor_label = '', ip_address = NULL, user_agent = '', actor_id = NULL, erased_at = CURRENT_TIMESTAMP"
    )
    with pytest.raises(DatabaseError, match="evidence is append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE evidence_event SET {blank} WHERE id = %s",  # noqa: S608 - constant SQL
                [Event.id.field.get_db_prep_value(event.pk, connection)],
            )


def test_the_audit_flags_an_erased_event_whose_salts_remain(alice, enterprise):
    # Given an event erased by raw SQL that left its salts behind (an erasure done wrong)
    event = _her_events(alice, enterprise)[0]
    payload = "'{}'::jsonb" if connection.vendor == "postgresql" else "'{}'"
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE evidence_event SET actor_label = '', ip_address = NULL, user_agent = '', actor_id = NULL, "  # noqa: S608
            f"payload = {payload}, erased_at = CURRENT_TIMESTAMP WHERE id = %s",
            [Event.id.field.get_db_prep_value(event.pk, connection)],
        )
    # When the log is audited, then it names the leaf
    result = audit()
    assert not result.ok and "is erased but its salts remain" in result.problem


def test_the_command_erases_only_with_confirm(alice, enterprise, capsys):
    # Given her events
    _her_events(alice, enterprise)
    # When the operator runs the command without --confirm, then nothing is erased
    with pytest.raises(CommandError, match="--confirm"):
        call_command("evidence", "erase", "--email", "ALICE@example.test")
    assert not Event.objects.filter(erased_at__isnull=False).exists()
    # and with it, her events are erased and the command says how many
    call_command("evidence", "erase", "--email", "alice@example.test", "--confirm")
    assert "evidence events" in capsys.readouterr().out
    assert Event.objects.filter(actor_label="", erased_at__isnull=False).count() >= 2
    with pytest.raises(CommandError, match="no account"):
        call_command("evidence", "erase", "--email", "nobody@example.test", "--confirm")

"""The transparency log end to end: leaves without personal data, proofs over the API, checkpoints, tiles."""

from __future__ import annotations

import base64
import json

import pytest
from django.core.management import call_command

from econtract.evidence import log, merkle, notes
from econtract.evidence.models import Checkpoint, Event, EventSecret, Leaf
from econtract.evidence.tests.log_helpers import record_many
from econtract.evidence.views import tile_index_path


@pytest.fixture
def events(enterprise):
    made = record_many(enterprise, 5)
    log.integrate_pending()
    return made


def _verifier() -> notes.Verifier:
    return notes.parse_verifier_key(log.log_verifier_key())


def test_every_event_is_a_leaf_in_order_with_its_subject_chain(events):
    leaves = list(Leaf.objects.select_related("event").order_by("index"))
    assert [leaf.index for leaf in leaves] == list(range(len(leaves)))
    assert Event.objects.count() == len(leaves)
    mine = [leaf for leaf in leaves if leaf.event_id in {e.id for e in events}]
    previous = None
    for leaf in mine:
        body = json.loads(bytes(leaf.data))
        assert merkle.leaf_hash(bytes(leaf.data)) == bytes(leaf.hash)
        assert body["document_sha256"] == "ab" * 32
        if previous is not None:
            assert body["previous_leaf_hash"] == bytes(previous.hash).hex()
        previous = leaf


def test_leaves_carry_personal_data_only_as_salted_hashes(events):
    data = b"".join(bytes(leaf.data) for leaf in Leaf.objects.all())
    for secret in ("alice@example.test", "203.0.113.7", "Mozilla", "张三".encode().decode()):
        assert secret.encode() not in data
    body = json.loads(bytes(Leaf.objects.get(event=events[0]).data))
    assert body["actor_label"].startswith("sha256:") and body["payload"].startswith("sha256:")
    assert EventSecret.objects.filter(event=events[0]).count() == 4  # label, ip, agent, payload


def test_leaf_bytes_are_canonical_json(events, client):
    response = client.get(f"/api/v1/events/{events[2].id}/leaf")
    assert response.status_code == 200
    leaf = Leaf.objects.get(event=events[2])
    assert response.content == bytes(leaf.data)
    body = json.loads(response.content)
    assert (
        response.content
        == json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )


def test_inclusion_proof_over_the_api_verifies_against_the_signed_checkpoint(events, client):
    response = client.get(f"/api/v1/events/{events[3].id}/proof")
    assert response.status_code == 200, response.content
    proof = response.json()
    text = notes.open_note(proof["checkpoint"], _verifier())
    body = notes.parse_checkpoint(text)
    assert body.tree_size == proof["tree_size"] and body.origin == log.get_log().origin
    leaf = client.get(f"/api/v1/events/{events[3].id}/leaf").content
    assert base64.b64decode(proof["leaf_hash"]) == merkle.leaf_hash(leaf)
    merkle.verify_inclusion(
        merkle.leaf_hash(leaf),
        proof["leaf_index"],
        proof["tree_size"],
        [base64.b64decode(h) for h in proof["inclusion_proof"]],
        body.root_hash,
    )


def test_consistency_between_two_checkpoints(enterprise, client):
    record_many(enterprise, 3)
    first = log.make_checkpoint()
    record_many(enterprise, 6)
    second = log.make_checkpoint()
    response = client.get(f"/api/v1/log/consistency?from={first.tree_size}&to={second.tree_size}")
    assert response.status_code == 200
    proof = [base64.b64decode(h) for h in response.json()["proof"]]
    merkle.verify_consistency(
        first.tree_size, second.tree_size, bytes(first.root_hash), bytes(second.root_hash), proof
    )
    assert client.get("/api/v1/log/consistency?from=5&to=2").status_code == 422
    assert client.get(f"/api/v1/log/consistency?from=1&to={10**9}").status_code == 409


def test_checkpoint_note_format_and_timestamp(events, client):
    response = client.get("/log/checkpoint")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    note = response.content.decode()
    lines = note.split("\n")
    origin = log.get_log().origin
    assert lines[0] == origin == "127.0.0.1:8000/log"
    assert int(lines[1]) == log.get_log().tree_size
    assert lines[3] == "" and lines[4].startswith(f"\u2014 {origin} ")
    vkey = client.get("/log/vkey").content.decode().strip()
    assert vkey.startswith(origin + "+")
    notes.open_note(note, notes.parse_verifier_key(vkey))
    checkpoint = Checkpoint.objects.order_by("-id").first()
    assert checkpoint.timestamp_token  # RFC 3161 over the note; the audit checks its imprint


def test_forged_checkpoint_is_refused(db):
    note = log.make_checkpoint().note
    lines = note.split("\n")
    lines[1] = str(int(lines[1]) + 1)  # a bigger tree under the old signature
    with pytest.raises(notes.NoteError):
        notes.open_note("\n".join(lines), _verifier())
    stranger = notes.Verifier(log.get_log().origin, notes.ED25519, b"\x01" * 32)
    with pytest.raises(notes.NoteError):
        notes.open_note(note, stranger)


def test_tiles_and_entry_bundles(enterprise, client):
    record_many(enterprise, 300)
    log.integrate_pending()
    size = log.get_log().tree_size
    full = client.get("/log/tile/0/000")
    assert full.status_code == 200 and len(full.content) == 256 * 32
    assert "immutable" in full["Cache-Control"]
    hashes = [full.content[i : i + 32] for i in range(0, len(full.content), 32)]
    assert hashes == [bytes(h) for h in Leaf.objects.order_by("index").values_list("hash", flat=True)[:256]]
    partial_width = size - 256
    partial = client.get(f"/log/tile/0/001.p/{partial_width}")
    assert partial.status_code == 200 and len(partial.content) == partial_width * 32
    assert client.get(f"/log/tile/0/001.p/{partial_width + 1}").status_code == 404
    level1 = client.get("/log/tile/1/000.p/1")
    assert level1.status_code == 200 and len(level1.content) == 32
    bundle = client.get("/log/tile/entries/000").content
    first_length = int.from_bytes(bundle[:2], "big")
    assert bundle[2 : 2 + first_length] == bytes(Leaf.objects.get(index=0).data)
    assert client.get("/log/tile/0/x1/000").status_code == 404
    assert client.get("/log/tile/0/000.p/0").status_code == 404


def test_tile_index_paths():
    assert tile_index_path(0) == "000"
    assert tile_index_path(1234067) == "x001/x234/067"


def test_events_api_gives_id_leaf_index_and_every_hashed_field(api_client, make_user, sample_pdf):
    from econtract.signing.services import create_envelope  # noqa: F401 - the API builds it

    sender = make_user("sender@example.test", "Sender")
    client = api_client.for_user(sender) if hasattr(api_client, "for_user") else api_client(sender)
    response = client.post(
        "/api/v1/envelopes",
        data={"document": _upload(sample_pdf), "spec": json.dumps(_spec())},
    )
    assert response.status_code == 201, response.content
    envelope_id = response.json()["id"]
    events = client.get(f"/api/v1/envelopes/{envelope_id}/events").json()["items"]
    assert events and all(e["leaf_index"] is not None and e["id"] for e in events)
    first = events[0]
    assert first["subject"] == f"signing.envelope:{envelope_id}"
    assert first["actor_id"] == str(sender.id)


def _upload(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("contract.pdf", data, content_type="application/pdf")


def _spec() -> dict:
    return {
        "title": "Log test",
        "parties": [{"name": "Bob Li", "email": "bob@example.test"}],
        "fields": [{"party": 0, "page": 1, "x": 100, "y": 100, "width": 150, "height": 50}],
    }


def test_audit_command_passes_on_an_honest_log(events, capsys):
    log.make_checkpoint()
    call_command("evidence", "audit")
    assert "all hold" in capsys.readouterr().out


def test_bad_proof_requests_are_clear_4xx(events, client):
    import uuid

    assert client.get(f"/api/v1/events/{uuid.uuid4()}/proof").status_code == 404
    assert client.get(f"/api/v1/events/{uuid.uuid4()}/leaf").status_code == 404
    assert client.get("/api/v1/events/not-a-uuid/proof").status_code == 422
    assert client.get(f"/api/v1/events/{events[0].id}/proof?tree_size=0").status_code == 422
    assert client.get(f"/api/v1/events/{events[0].id}/proof?tree_size=99999").status_code == 409
    assert client.get("/api/v1/log/consistency?from=-1&to=2").status_code == 422
    assert client.get("/api/v1/log/consistency?from=x&to=2").status_code == 422
    assert client.get("/api/v1/log/consistency?from=0&to=0").json() == {"proof": []}


def test_openapi_documents_the_log_endpoints(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/v1/events/{event_id}/leaf",
        "/api/v1/events/{event_id}/proof",
        "/api/v1/log/consistency",
    ):
        assert path in paths


@pytest.mark.django_db(transaction=True)
def test_a_transaction_recording_many_events_runs_the_sequencer_once_after_commit(enterprise, monkeypatch):
    # Given a count of sequencer runs
    from django.db import transaction

    from econtract.evidence import services

    log.integrate_pending()
    before = Event.objects.count()
    runs = []
    original = log.integrate_pending
    monkeypatch.setattr(log, "integrate_pending", lambda: runs.append(1) or original())
    # When one transaction records 30 events, ten of them in a savepoint that rolls back
    with transaction.atomic():
        record_many(enterprise, 20)
        try:
            with transaction.atomic():
                record_many(enterprise, 10)
                raise RuntimeError("roll this part back")
        except RuntimeError:
            pass
        assert not runs  # nothing is appended before the commit
    # Then the sequencer ran once, after the commit, and appended the 20 events that were committed
    assert len(runs) == 1
    assert not services.transaction.get_connection().run_on_commit
    assert Leaf.objects.count() == Event.objects.count() == before + 20


@pytest.mark.django_db(transaction=True)
def test_an_event_recorded_only_in_a_rolled_back_savepoint_does_not_cost_the_later_ones_their_run(enterprise):
    # Given a transaction whose first event is recorded in a savepoint that rolls back (its callback goes)
    from django.db import transaction

    log.integrate_pending()
    before = Event.objects.count()
    with transaction.atomic():
        try:
            with transaction.atomic():
                record_many(enterprise, 1)
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        # When a later event is recorded outside it
        record_many(enterprise, 1)
    # Then that event is still appended after the commit
    assert Leaf.objects.count() == Event.objects.count() == before + 1

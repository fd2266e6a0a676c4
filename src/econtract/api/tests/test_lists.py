"""One list shape: {"items": [...], "next_cursor": …} with ?limit= and ?cursor=, keyset-paginated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext
from econtract.signing import services
from econtract.signing.models import Envelope

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(enterprise):
    return enterprise.memberships.get().user


@pytest.fixture
def envelopes(enterprise, owner, sample_pdf):
    made = [
        services.create_envelope(
            organization=enterprise,
            created_by=owner,
            title=f"合同 {index}",
            pdf=sample_pdf,
            context=RequestContext.system("test"),
        )
        for index in range(5)
    ]
    # Two envelopes created in the same microsecond: the id breaks the tie, nothing repeats or goes missing.
    base = timezone.now() - timedelta(hours=1)
    times = [
        base,
        base + timedelta(minutes=1),
        base + timedelta(minutes=1),
        base + timedelta(minutes=2),
        base,
    ]
    for envelope, created in zip(made, times, strict=True):
        Envelope.objects.filter(pk=envelope.pk).update(created_at=created)
    return made


def walk(client, url: str, limit: int, **query) -> tuple[list[dict], int]:
    items, pages, cursor = [], 0, None
    while True:
        params = {"limit": limit, **query, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, params)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= limit
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def test_envelopes_come_in_pages_newest_first_without_repeats(api_client, owner, enterprise, envelopes):
    client = api_client(owner, enterprise)
    items, pages = walk(client, "/api/v1/envelopes", limit=2)
    assert pages == 3
    expected = sorted(Envelope.objects.all(), key=lambda e: (e.created_at, e.id.hex), reverse=True)
    assert [item["id"] for item in items] == [str(e.id) for e in expected]
    whole = client.get("/api/v1/envelopes").json()
    assert [item["id"] for item in whole["items"]] == [item["id"] for item in items]
    assert whole["next_cursor"] is None


def test_the_status_filter_applies_to_every_page(api_client, owner, enterprise, envelopes):
    Envelope.objects.filter(pk__in=[envelopes[1].pk, envelopes[3].pk]).update(status="voided")
    client = api_client(owner, enterprise)
    items, _ = walk(client, "/api/v1/envelopes", limit=1, status="voided")
    assert sorted(item["id"] for item in items) == sorted(str(e.pk) for e in (envelopes[1], envelopes[3]))


@pytest.mark.parametrize("limit", ["0", "201", "-1", "many"])
def test_a_limit_outside_1_to_200_is_refused(api_client, owner, enterprise, limit):
    response = api_client(owner, enterprise).get("/api/v1/envelopes", {"limit": limit})
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"


def test_a_bad_cursor_is_a_clear_400(api_client, owner, enterprise, envelopes):
    client = api_client(owner, enterprise)
    for cursor in ("not-a-cursor!", "eyJ4IjoxfQ", "W10", "x" * 600):
        response = client.get("/api/v1/envelopes", {"cursor": cursor})
        assert response.status_code in (400, 422), (cursor, response.content)
        assert response.json()["error"] in ("invalid_cursor", "invalid_request")
    response = client.get("/api/v1/envelopes", {"cursor": "not-a-cursor!"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_cursor",
        "detail": "the cursor is not valid; use the next_cursor of a previous page",
    }


def test_events_come_in_pages_in_chain_order_and_cursors_do_not_cross_lists(
    api_client, owner, enterprise, envelopes
):
    envelope = envelopes[0]
    for index in range(4):
        services.replace_recipients(
            envelope,
            parties=[services.PartySpec(name=f"P{index}", email=f"p{index}@example.test", order=1)],
            fields=[],
            user=owner,
            context=RequestContext.system("test"),
        )
    client = api_client(owner, enterprise)
    url = f"/api/v1/envelopes/{envelope.pk}/events"
    items, pages = walk(client, url, limit=2)
    sequences = list(Event.objects.for_subject(envelope).values_list("sequence", flat=True))
    assert len(sequences) >= 5 and pages == -(-len(sequences) // 2)
    assert [item["sequence"] for item in items] == sorted(sequences)

    event_cursor = client.get(url, {"limit": 1}).json()["next_cursor"]
    refused = client.get("/api/v1/envelopes", {"cursor": event_cursor})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_cursor"
    envelope_cursor = client.get("/api/v1/envelopes", {"limit": 1}).json()["next_cursor"]
    assert client.get(url, {"cursor": envelope_cursor}).status_code == 400

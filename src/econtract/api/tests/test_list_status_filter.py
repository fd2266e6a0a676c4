"""The envelope list's ``?status=`` takes an envelope status or nothing: any other text, NUL included
(which PostgreSQL cannot compare: it was a 500 there), is a schema error, never a query."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", ["sent\x00", "\x00", "unknown", "SENT"])
def test_a_status_that_is_not_an_envelope_status_is_refused(api_client, enterprise, status):
    client = api_client(enterprise.memberships.get().user, enterprise)
    response = client.get("/api/v1/envelopes", {"status": status})
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["errors"][0]["loc"][-1] == "status"


@pytest.mark.parametrize("status", ["draft", "sent", "completed", "declined", "voided", "expired"])
def test_every_envelope_status_is_a_filter(api_client, enterprise, status):
    response = api_client(enterprise.memberships.get().user, enterprise).get(
        "/api/v1/envelopes", {"status": status}
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"items": [], "next_cursor": None}

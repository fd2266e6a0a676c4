"""Fixtures shared by the evidence report and package tests: a real envelope, signed and completed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from econtract.signing.models import Envelope
from econtract.signing.tests.factories import PIN, create_and_send, people, sign_as


@dataclass
class CompletedEnvelope:
    envelope: Envelope
    sender: Any
    sender_api: Any  # the sender's API client (an enterprise member)
    outsider_api: Any  # a user of no organisation of the envelope


@pytest.fixture
def completed_envelope(make_user, enterprise, api_client, sample_pdf, outbox) -> CompletedEnvelope:
    """Two people sign in turn through the API; the envelope completes (B-LTA document timestamp)."""
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

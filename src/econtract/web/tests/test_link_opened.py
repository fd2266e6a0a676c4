"""The audit trail records a signing link opened once per party and session, not at every reload."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from econtract.evidence.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


def opened(envelope) -> int:
    return Event.objects.for_subject(envelope).filter(kind="link_opened").count()


def test_fifty_anonymous_reloads_record_one_event(client, signing_token, sent):
    url = reverse("web:sign", args=[signing_token])
    for _ in range(50):
        assert client.get(url).status_code == 200
    assert opened(sent) == 1


def test_a_client_without_cookies_is_counted_once_per_address(signing_token, sent):
    url = reverse("web:sign", args=[signing_token])
    scanner = Client(REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="mail-scanner/1.0")
    for _ in range(10):
        scanner.cookies.clear()
        scanner.get(url)
    assert opened(sent) == 1


def test_another_session_from_elsewhere_is_recorded_again(client, signing_token, sent, signer):
    url = reverse("web:sign", args=[signing_token])
    client.get(url)
    client.get(url)
    phone = Client(REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Mobile Safari")
    phone.force_login(signer)
    phone.get(url)
    phone.get(url)
    assert opened(sent) == 2
    (last,) = Event.objects.for_subject(sent).filter(kind="link_opened").order_by("-sequence")[:1]
    assert last.ip_address == "203.0.113.9" and last.actor == signer

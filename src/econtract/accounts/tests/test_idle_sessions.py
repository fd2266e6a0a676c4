"""An idle browser session is logged out; an active one stays (MLPS 8.1.4.1 b)."""

from __future__ import annotations

import time

import pytest

from econtract.accounts.idle import LAST_SEEN_KEY
from econtract.evidence.models import Event


def _idle_for(client, seconds: float) -> None:
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - seconds
    session.save()


@pytest.mark.django_db
def test_a_session_idle_past_the_limit_is_logged_out_and_recorded(client, make_user, settings):
    settings.ECONTRACT_SESSION_IDLE_SECONDS = 1800
    user = make_user("idle@example.test", "闲置 Idle")
    client.force_login(user)
    assert client.get("/profile/").status_code == 200
    _idle_for(client, 1801)
    response = client.get("/profile/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert "_auth_user_id" not in client.session
    event = Event.objects.get(kind="session_expired_idle", subject_id=str(user.pk))
    assert event.payload["idle_seconds"] >= 1801


@pytest.mark.django_db
def test_a_session_used_within_the_limit_stays(client, make_user, settings):
    settings.ECONTRACT_SESSION_IDLE_SECONDS = 1800
    client.force_login(make_user("busy@example.test", "忙碌 Busy"))
    assert client.get("/profile/").status_code == 200
    _idle_for(client, 1700)
    assert client.get("/profile/").status_code == 200
    assert time.time() - client.session[LAST_SEEN_KEY] < 60  # the visit counted as activity
    assert not Event.objects.filter(kind="session_expired_idle").exists()


@pytest.mark.django_db
def test_zero_turns_the_idle_limit_off(client, make_user, settings):
    settings.ECONTRACT_SESSION_IDLE_SECONDS = 0
    client.force_login(make_user("off@example.test", "关闭 Off"))
    _idle_for(client, 10 * 3600)
    assert client.get("/profile/").status_code == 200

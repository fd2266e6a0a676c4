"""In-app notices: the verbs, and /api/v1/notices where each user sees and marks only her own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from econtract.notifications import inapp
from econtract.notifications.models import Notice

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(make_user):
    return make_user("alice@example.test", "爱丽丝 Alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.test", "鲍勃 Bob")


def test_notify_unread_and_mark_read(alice, bob):
    base = timezone.now()
    first = inapp.notify(alice, "contract_expiring", "Expires soon / 即将到期", "body", url="/x/", now=base)
    second = inapp.notify(alice, "contract_expiring", "Second", now=base + timedelta(minutes=1))
    inapp.notify(bob, "contract_expiring", "Bob's")

    assert list(inapp.unread_for(alice)) == [second, first]  # newest first
    read = inapp.mark_read(alice, first.pk, now=base + timedelta(hours=1))
    assert read.read_at == base + timedelta(hours=1)
    assert list(inapp.unread_for(alice)) == [second]
    # marking again keeps the first time
    assert inapp.mark_read(alice, first.pk).read_at == base + timedelta(hours=1)
    with pytest.raises(Notice.DoesNotExist):
        inapp.mark_read(bob, second.pk)
    assert Notice.objects.get(pk=second.pk).read_at is None


def test_a_title_is_one_line_and_the_subject_is_recorded(alice):
    notice = inapp.notify(alice, "k", "line one\nline two", about=alice)
    assert notice.title == "line one line two"
    assert (notice.about_type, notice.about_id) == ("accounts.user", str(alice.pk))


def test_the_api_lists_only_her_notices_and_marks_them_read(alice, bob, api_client):
    mine = inapp.notify(
        alice, "contract_expiring", "Expires in 30 days / 合同 30 天后到期", "body", url="/c/1/"
    )
    theirs = inapp.notify(bob, "contract_expiring", "Bob's notice")
    client = api_client(alice)

    body = client.get("/api/v1/notices").json()
    assert set(body) == {"items", "next_cursor"}
    assert [item["id"] for item in body["items"]] == [str(mine.pk)]
    item = body["items"][0]
    assert item["title"] == "Expires in 30 days / 合同 30 天后到期"
    assert (item["kind"], item["url"], item["read_at"]) == ("contract_expiring", "/c/1/", None)

    other = client.post(f"/api/v1/notices/{theirs.pk}/read")
    assert other.status_code == 404
    assert other.json()["error"] == "not_found"
    assert Notice.objects.get(pk=theirs.pk).read_at is None

    marked = client.post(f"/api/v1/notices/{mine.pk}/read")
    assert marked.status_code == 200, marked.content
    assert marked.json()["read_at"] is not None
    assert client.get("/api/v1/notices", {"unread": "true"}).json()["items"] == []
    assert len(client.get("/api/v1/notices").json()["items"]) == 1


def test_the_api_pages_with_a_cursor(alice, api_client):
    base = timezone.now()
    made = [inapp.notify(alice, "k", f"n{i}", now=base + timedelta(seconds=i % 3)) for i in range(7)]
    client = api_client(alice)
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/notices", params).json()
        assert len(page["items"]) <= 3
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(n.pk) for n in made)
    assert len(seen) == 7  # ties in created_at neither repeat nor vanish

    assert client.get("/api/v1/notices", {"cursor": "bm90LWEtY3Vyc29y"}).status_code == 400


def test_the_api_needs_authentication(alice):
    from django.test import Client

    assert Client().get("/api/v1/notices").status_code == 401

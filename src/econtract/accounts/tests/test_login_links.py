"""The one-time login link: the owner's way in while her account refuses passwords."""

from __future__ import annotations

import hashlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from econtract.accounts import login_links, throttle
from econtract.accounts.errors import LoginLinkInvalid
from econtract.accounts.models import LoginLink
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext

PASSWORD = "correct horse battery"
LINK = r"(https?://\S+/login/link/\S+)"


def _login(client: Client, email: str, password: str) -> int:
    return client.post(reverse("web:login"), {"email": email, "password": password}).status_code


def _ask_for_link(client: Client, email: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("web:login_link"), {"email": email})


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.mark.django_db(transaction=True)
def test_a_locked_out_owner_logs_in_with_an_emailed_link(make_user, outbox):
    owner = make_user("owner@example.test", password=PASSWORD)
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    for n in range(throttle.ACCOUNT_FAILURES_ALLOWED):
        assert _login(attacker, owner.email, f"guess {n}") == 200
    me = Client(REMOTE_ADDR="198.51.100.5")
    assert _login(me, owner.email, PASSWORD) == 429  # the lock holds for the right password too

    assert _ask_for_link(me, owner.email).status_code == 200
    url = outbox.last(owner.email, LINK)
    token = url.rsplit("/", 1)[1]
    (link,) = LoginLink.objects.filter(user=owner)
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in link.token_hash

    # Opening the link (as a mail scanner would) neither logs in nor spends it.
    page = me.get(_path(url))
    assert page.status_code == 200 and "_auth_user_id" not in me.session
    response = me.post(_path(url))
    assert response.status_code == 302 and response["Location"] == reverse("web:dashboard")
    assert me.session["_auth_user_id"] == str(owner.pk)
    assert me.get(reverse("web:dashboard")).status_code == 200

    kinds = [(e.kind, e.ip_address) for e in Event.objects.for_subject(owner)]
    assert kinds == [
        ("registered", None),
        ("login_link_sent", "198.51.100.5"),
        ("login_link_used", "198.51.100.5"),
        ("logged_in", "198.51.100.5"),  # web.mfa: how (link), and that no second factor was due
    ]

    # Used once: a second use (another browser) is refused.
    assert Client().post(_path(url)).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_an_unknown_email_gets_the_same_answer_and_no_mail(make_user, outbox):
    make_user("known@example.test")
    known = _ask_for_link(Client(), "known@example.test")
    unknown = _ask_for_link(Client(), "nobody@example.test")
    assert known.status_code == unknown.status_code == 200

    def page(response, name: str) -> str:  # type: ignore[no-untyped-def]
        return re.sub(r'value="[^"]{64}"', "", response.content.decode()).replace(name, "X")

    assert page(known, "known") == page(unknown, "nobody")
    assert outbox.messages("nobody@example.test") == []
    assert len(outbox.messages("known@example.test")) == 1


@pytest.mark.django_db(transaction=True)
def test_link_requests_are_limited_per_address_and_per_account(make_user, outbox):
    make_user("busy@example.test")
    client = Client(REMOTE_ADDR="203.0.113.8")
    for n in range(login_links.LINK_REQUESTS_PER_ADDRESS):
        assert (
            _ask_for_link(client, "busy@example.test" if n < 5 else f"x{n}@example.test").status_code == 200
        )
    refused = _ask_for_link(client, "busy@example.test")
    assert refused.status_code == 429 and 14 * 60 < int(refused["Retry-After"]) <= 15 * 60
    # The account's inbox got at most LINK_EMAILS_PER_ACCOUNT mails, with the same answer each time.
    assert len(outbox.messages("busy@example.test")) == login_links.LINK_EMAILS_PER_ACCOUNT


def _issue(user) -> str:  # type: ignore[no-untyped-def]
    login_links.request_login_link(user.email, "192.0.2.1", RequestContext.system("test"))
    return LoginLink.objects.filter(user=user).latest("created_at").pk


def _token_for(link_id, outbox, email: str) -> str:  # type: ignore[no-untyped-def]
    return outbox.last(email, LINK).rsplit("/", 1)[1]


@pytest.mark.django_db(transaction=True)
def test_an_expired_link_or_one_for_an_old_address_is_refused(make_user, outbox):
    user = make_user("moving@example.test")
    link_id = _issue(user)
    token = _token_for(link_id, outbox, user.email)
    LoginLink.objects.filter(pk=link_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(LoginLinkInvalid):
        login_links.use_login_link(token, RequestContext.system("test"))

    cache_free = make_user("changed@example.test")
    link_id = _issue(cache_free)
    token = _token_for(link_id, outbox, cache_free.email)
    cache_free.email = "elsewhere@example.test"
    cache_free.save(update_fields=["email"])
    with pytest.raises(LoginLinkInvalid):
        login_links.use_login_link(token, RequestContext.system("test"))
    with pytest.raises(LoginLinkInvalid):
        login_links.use_login_link("made-up", RequestContext.system("test"))


@pytest.mark.django_db(transaction=True)
def test_a_link_used_in_parallel_logs_in_once(make_user, outbox):
    user = make_user("twice@example.test")
    token = _token_for(_issue(user), outbox, user.email)
    start = threading.Barrier(8)

    def use(_index: int) -> bool:
        start.wait()
        try:
            login_links.use_login_link(token, RequestContext.system("test"))
        except LoginLinkInvalid:
            return False
        finally:
            connections.close_all()
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(use, range(8)))
    assert results.count(True) == 1
    assert Event.objects.filter(kind="login_link_used").count() == 1

"""Password reset by an emailed one-time link: account recovery for an owner who forgot her password."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from django.contrib.auth import authenticate
from django.db import connections
from django.test import Client
from django.urls import reverse

from econtract.accounts import password_reset
from econtract.accounts.errors import PasswordResetLinkInvalid
from econtract.accounts.models import User
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext

OLD = "correct horse battery"
NEW = "a brand new long passphrase"
LINK = r"(https?://\S+/password/reset/\S+/\S+)"


def _ask(client: Client, email: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("web:password_reset"), {"email": email})


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _choose(client: Client, path: str, password: str, again: str | None = None):  # type: ignore[no-untyped-def]
    return client.post(path, {"password": password, "password2": again if again is not None else password})


def _link(client: Client, user: User, outbox) -> str:  # type: ignore[no-untyped-def]
    assert _ask(client, user.email).status_code == 200
    return _path(outbox.last(user.email, LINK))


def _logged_in(client: Client) -> bool:
    return client.get(reverse("web:dashboard")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_owner_resets_her_password_with_the_emailed_link(make_user, outbox, settings):
    settings.LANGUAGE_CODE = "en"
    owner = make_user("owner@example.test", password=OLD)
    laptop, phone = Client(REMOTE_ADDR="198.51.100.20"), Client(REMOTE_ADDR="198.51.100.21")
    laptop.force_login(owner)
    phone.force_login(owner)
    assert _logged_in(laptop) and _logged_in(phone)

    login_page = Client().get(reverse("web:login")).content.decode()
    assert reverse("web:password_reset") in login_page

    me = Client(REMOTE_ADDR="198.51.100.5")
    path = _link(me, owner, outbox)
    # Opening the link (as a mail scanner would) shows the form and spends nothing.
    page = me.get(path)
    assert page.status_code == 200 and "signing PIN" in page.content.decode()
    assert me.get(path).status_code == 200
    response = _choose(me, path, NEW)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:login") + "?email=owner%40example.test"

    assert authenticate(username=owner.email, password=NEW) is not None
    assert authenticate(username=owner.email, password=OLD) is None
    # Every session from before is gone; the reset does not log the resetting browser in either.
    assert not _logged_in(laptop) and not _logged_in(phone) and not _logged_in(me)

    kinds = [(e.kind, e.ip_address) for e in Event.objects.for_subject(owner)]
    assert kinds == [
        ("registered", None),
        ("password_reset_link_sent", "198.51.100.5"),
        ("password_reset", "198.51.100.5"),
    ]
    notice = outbox.messages(owner.email)[-1]
    assert "password was changed" in notice["Subject"]
    assert "signing PIN and signing key are unchanged" in outbox.text(notice)

    # Used once: a second use (another browser) is refused.
    assert _choose(Client(), path, "yet another long passphrase").status_code == 404
    assert Client().get(path).status_code == 404
    assert authenticate(username=owner.email, password=NEW) is not None


@pytest.mark.django_db(transaction=True)
def test_a_browser_logged_in_as_the_owner_stays_logged_in_and_no_other(make_user, outbox):
    owner = make_user("kept@example.test", password=OLD)
    me, other = Client(), Client()
    me.force_login(owner)
    other.force_login(owner)
    path = _link(me, owner, outbox)
    response = _choose(me, path, NEW)
    assert response.status_code == 302 and response["Location"] == reverse("web:dashboard")
    assert _logged_in(me) and not _logged_in(other)


@pytest.mark.django_db(transaction=True)
def test_an_unknown_email_gets_the_same_answer_and_no_mail(make_user, outbox):
    make_user("known@example.test")
    known = _ask(Client(), "known@example.test")
    unknown = _ask(Client(), "nobody@example.test")
    assert known.status_code == unknown.status_code == 200

    def page(response, name: str) -> str:  # type: ignore[no-untyped-def]
        return re.sub(r'value="[^"]{64}"', "", response.content.decode()).replace(name, "X")

    assert page(known, "known") == page(unknown, "nobody")
    assert outbox.messages("nobody@example.test") == []
    assert len(outbox.messages("known@example.test")) == 1
    assert Event.objects.filter(kind="password_reset_link_sent").count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_expired_link_is_refused(make_user, outbox, monkeypatch):
    owner = make_user("late@example.test", password=OLD)
    path = _link(Client(), owner, outbox)
    issued = datetime.now()
    monkeypatch.setattr(password_reset.tokens, "_now", lambda: issued + timedelta(minutes=29))
    assert Client().get(path).status_code == 200
    monkeypatch.setattr(password_reset.tokens, "_now", lambda: issued + timedelta(minutes=31))
    assert Client().get(path).status_code == 404
    assert _choose(Client(), path, NEW).status_code == 404
    assert authenticate(username=owner.email, password=OLD) is not None


@pytest.mark.django_db(transaction=True)
def test_a_password_change_or_a_newer_link_voids_a_link(make_user, outbox):
    owner = make_user("changed@example.test", password=OLD)
    path = _link(Client(), owner, outbox)
    owner.set_password("changed elsewhere meanwhile")
    owner.save(update_fields=["password"])
    assert _choose(Client(), path, NEW).status_code == 404

    first = _link(Client(), owner, outbox)
    second = _link(Client(), owner, outbox)
    assert first != second
    assert Client().get(first).status_code == 404
    assert _choose(Client(), second, NEW).status_code == 302
    assert authenticate(username=owner.email, password=NEW) is not None


@pytest.mark.django_db(transaction=True)
def test_a_login_or_an_email_change_after_the_mail_voids_the_link(make_user, outbox):
    owner = make_user("remembered@example.test", password=OLD)
    path = _link(Client(), owner, outbox)
    # She remembered the password after all: logging in (which sets last_login) ends the link.
    assert Client().post(reverse("web:login"), {"email": owner.email, "password": OLD}).status_code == 302
    assert Client().get(path).status_code == 404

    path = _link(Client(), owner, outbox)
    owner.email = "moved@example.test"
    owner.save(update_fields=["email"])
    assert _choose(Client(), path, NEW).status_code == 404
    assert authenticate(username=owner.email, password=OLD) is not None


@pytest.mark.django_db(transaction=True)
def test_mangled_links_are_refused(make_user, outbox):
    owner = make_user("mangled@example.test")
    path = _link(Client(), owner, outbox)
    uid, token = path.rstrip("/").split("/")[-2:]
    for bad in (
        f"/password/reset/{uid}/{token[:-1]}x",
        f"/password/reset/{uid}/nonsense",
        f"/password/reset/!!!/{token}",
        f"/password/reset/bm90LWEtdXVpZA/{token}",  # base64 of "not-a-uuid"
    ):
        assert Client().get(bad).status_code == 404, bad
    with pytest.raises(PasswordResetLinkInvalid):
        password_reset.reset_password(uid, "", NEW, RequestContext.system("test"))


@pytest.mark.django_db(transaction=True)
def test_weak_or_mismatched_passwords_are_refused_and_the_link_kept(make_user, outbox, settings):
    settings.LANGUAGE_CODE = "en"
    owner = make_user("weak@example.test", password=OLD)
    me = Client()
    path = _link(me, owner, outbox)
    short = _choose(me, path, "short1")
    assert short.status_code == 200 and "too short" in short.content.decode()
    common = _choose(me, path, "password123")
    assert common.status_code == 200 and "too common" in common.content.decode()
    differ = _choose(me, path, NEW, NEW + "!")
    assert differ.status_code == 200 and "differ" in differ.content.decode()
    assert authenticate(username=owner.email, password=OLD) is not None
    assert not Event.objects.filter(kind="password_reset").exists()
    assert _choose(me, path, NEW).status_code == 302  # the refused tries did not spend the link


@pytest.mark.django_db(transaction=True)
def test_the_messages_are_in_chinese_by_default(make_user, outbox):
    owner = make_user("zh@example.test", password=OLD)
    me = Client()
    path = _link(me, owner, outbox)
    page = me.get(path).content.decode()
    assert "签名 PIN" in page
    short = _choose(me, path, "short1").content.decode()
    assert "密码长度太短" in short and "新密码" in short


@pytest.mark.django_db(transaction=True)
def test_reset_requests_are_limited_per_address_and_per_account(make_user, outbox):
    make_user("busy@example.test")
    client = Client(REMOTE_ADDR="203.0.113.8")
    for n in range(password_reset.RESET_REQUESTS_PER_ADDRESS):
        target = "busy@example.test" if n < 5 else f"x{n}@example.test"
        assert _ask(client, target).status_code == 200
    refused = _ask(client, "busy@example.test")
    assert refused.status_code == 429 and 14 * 60 < int(refused["Retry-After"]) <= 15 * 60
    assert len(outbox.messages("busy@example.test")) == password_reset.RESET_EMAILS_PER_ACCOUNT
    # Another address is not refused, and the account's own limit still holds silently.
    other = Client(REMOTE_ADDR="203.0.113.9")
    assert _ask(other, "busy@example.test").status_code == 200
    assert len(outbox.messages("busy@example.test")) == password_reset.RESET_EMAILS_PER_ACCOUNT
    # Reset links and login links count apart: asking for one does not use up the other.
    assert client.post(reverse("web:login_link"), {"email": "busy@example.test"}).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_link_used_in_parallel_resets_once(make_user, outbox):
    owner = make_user("twice@example.test", password=OLD)
    path = _link(Client(), owner, outbox)
    uid, token = path.split("/")[-2:]
    start = threading.Barrier(6)

    def use(index: int) -> bool:
        start.wait()
        try:
            password_reset.reset_password(uid, token, f"{NEW} {index}", RequestContext.system("test"))
        except PasswordResetLinkInvalid:
            return False
        finally:
            connections.close_all()
        return True

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(use, range(6)))
    assert results.count(True) == 1
    assert Event.objects.filter(kind="password_reset").count() == 1

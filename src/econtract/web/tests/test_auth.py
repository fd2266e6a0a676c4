"""Logging in and out, registering with an emailed code, and the language switch."""

from __future__ import annotations

import pytest
from django.urls import reverse

from econtract.accounts.models import Organization, User

PROTECTED = ["web:dashboard", "web:envelope_new", "web:profile"]
PUBLIC = ["web:login", "web:register", "web:verify_page"]


@pytest.mark.parametrize("name", PROTECTED)
def test_pages_need_a_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login") + "?next=")


@pytest.mark.parametrize("name", PUBLIC)
def test_public_pages_open_without_a_login(client, db, name):
    assert client.get(reverse(name)).status_code == 200


def test_login_with_email_and_password_then_logout(client, make_user):
    make_user("Mixed.Case@Example.test", password="correct horse battery")
    response = client.post(
        reverse("web:login"), {"email": "mixed.case@example.test", "password": "correct horse battery"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("web:dashboard")
    assert client.get(reverse("web:dashboard")).status_code == 200

    client.post(reverse("web:logout"))
    assert client.get(reverse("web:dashboard")).status_code == 302


def test_wrong_password_is_refused_and_repeated_failures_block(client, make_user):
    make_user("a@example.test", password="correct horse battery")
    response = client.post(reverse("web:login"), {"email": "a@example.test", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    for _ in range(10):
        client.post(reverse("web:login"), {"email": "a@example.test", "password": "nope"})
    response = client.post(
        reverse("web:login"), {"email": "a@example.test", "password": "correct horse battery"}
    )
    assert "_auth_user_id" not in client.session
    assert response.status_code == 429
    assert 14 * 60 < int(response["Retry-After"]) <= 15 * 60
    (refusal,) = response.context["form"].non_field_errors()
    assert "15" in refusal  # minutes left, in either language


def test_login_only_redirects_to_this_site(client, make_user):
    make_user("b@example.test", password="correct horse battery")
    response = client.post(
        reverse("web:login") + "?next=https://evil.example/",
        {"email": "b@example.test", "password": "correct horse battery", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("web:dashboard")


@pytest.mark.django_db(transaction=True)
def test_registration_proves_the_email_with_a_code(client, outbox):
    url = reverse("web:register")
    response = client.post(url, {"step": "email", "email": "New.User@Example.test"})
    assert response.context["stage"] == "code"
    code = outbox.last_code("new.user@example.test")

    response = client.post(url, {"step": "code", "code": "000000" if code != "000000" else "111111"})
    assert response.context["stage"] == "code"
    assert response.context["code_form"].errors

    response = client.post(url, {"step": "code", "code": code})
    assert response.context["stage"] == "account"

    response = client.post(
        url,
        {
            "step": "account",
            "full_name": "新用户 New User",
            "password": "a long passphrase 42",
            "password2": "a long passphrase 42",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.user@example.test")
    assert user.email_verified and user.full_name == "新用户 New User"
    assert Organization.objects.filter(memberships__user=user, kind=Organization.Kind.PERSONAL).exists()
    assert client.session["_auth_user_id"] == str(user.pk)
    from econtract.evidence.models import Event

    (registered,) = Event.objects.for_subject(user)
    assert registered.kind == "registered" and registered.payload["email_verified"] is True
    assert registered.ip_address == "127.0.0.1"


@pytest.mark.django_db(transaction=True)
def test_registration_cannot_skip_the_code(client, outbox):
    url = reverse("web:register")
    client.post(url, {"step": "email", "email": "skip@example.test"})
    response = client.post(
        url,
        {
            "step": "account",
            "full_name": "Skipper",
            "password": "a long passphrase 42",
            "password2": "a long passphrase 42",
        },
    )
    assert response.status_code == 200
    assert not User.objects.filter(email="skip@example.test").exists()


@pytest.mark.django_db(transaction=True)
def test_registering_a_known_email_reveals_nothing_on_the_page(client, outbox, make_user):
    make_user("taken@example.test")
    response = client.post(reverse("web:register"), {"step": "email", "email": "taken@example.test"})
    assert response.context["stage"] == "code"
    (notice,) = outbox.messages("taken@example.test")
    assert "already has an account" in outbox.text(notice)


def test_default_language_is_chinese_and_english_can_be_chosen(client, db):
    response = client.get(reverse("web:verify_page"))
    assert "验证已签署的 PDF" in response.content.decode()
    url = reverse("web:verify_page")
    response = client.post(reverse("web:set_language"), {"language": "en", "next": url})
    assert response.status_code == 302
    response = client.get(reverse("web:verify_page"))
    assert "Verify a signed PDF" in response.content.decode()


def test_pages_carry_a_strict_content_security_policy(client, db):
    policy = client.get(reverse("web:login"))["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy

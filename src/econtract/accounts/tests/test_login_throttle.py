"""Password throttling holds under concurrency, per account and per client address (OWASP lockout)."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core.cache import caches
from django.db import connections
from django.test import Client
from django.urls import reverse

from econtract.accounts import throttle
from econtract.accounts.errors import LoginThrottled

PASSWORD = "correct horse battery"


class CountingArgon2Hasher(Argon2PasswordHasher):
    """The production hasher (cheaper parameters), counting every real password verification."""

    time_cost = 2
    memory_cost = 16 * 1024
    parallelism = 2
    verifications = 0
    lock = threading.Lock()

    def verify(self, password: str, encoded: str) -> bool:
        with CountingArgon2Hasher.lock:
            CountingArgon2Hasher.verifications += 1
        return super().verify(password, encoded)


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingArgon2Hasher"]
    CountingArgon2Hasher.verifications = 0
    return CountingArgon2Hasher


CACHE_BACKENDS = [pytest.param({"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, id="locmem")]
if os.environ.get("ECONTRACT_TEST_REDIS_URL"):
    CACHE_BACKENDS.append(
        pytest.param(
            {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": os.environ["ECONTRACT_TEST_REDIS_URL"],
            },
            id="redis",
        )
    )


@pytest.fixture(params=CACHE_BACKENDS)
def cache_backend(request, settings):
    settings.CACHES = {"default": request.param}
    caches["default"].clear()
    yield request.param["BACKEND"]
    caches["default"].clear()


def _post_login(email: str, password: str, address: str = "203.0.113.7") -> int:
    client = Client(REMOTE_ADDR=address)
    return client.post(reverse("web:login"), {"email": email, "password": password}).status_code


def _in_parallel(count: int, call) -> list:  # type: ignore[no-untyped-def]
    start = threading.Barrier(count)

    def one(index: int):  # type: ignore[no-untyped-def]
        start.wait()
        try:
            return call(index)
        finally:
            connections.close_all()  # each thread opened its own; the test database must be droppable

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_get_exactly_the_limit_of_real_checks(
    cache_backend, counting_hasher, make_user
):
    make_user("target@example.test", password=PASSWORD)
    counting_hasher.verifications = 0

    statuses = _in_parallel(25, lambda i: _post_login("target@example.test", f"guess {i}"))

    assert counting_hasher.verifications == throttle.ACCOUNT_FAILURES_ALLOWED == 10
    assert statuses.count(429) == 15
    # The right password is refused too while the account is throttled: the attacker learns nothing.
    assert _post_login("target@example.test", PASSWORD) == 429
    assert counting_hasher.verifications == 10


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_passwords_from_one_address_stop_at_the_address_limit(
    cache_backend, counting_hasher, make_user, monkeypatch
):
    monkeypatch.setattr(throttle, "ADDRESS_FAILURES_ALLOWED", 12)
    for n in range(5):
        make_user(f"spray{n}@example.test", password=PASSWORD)
    counting_hasher.verifications = 0

    statuses = _in_parallel(30, lambda i: _post_login(f"spray{i % 5}@example.test", f"guess {i}"))

    assert counting_hasher.verifications == 12
    assert statuses.count(429) == 18
    # Another client behind a different address is not affected.
    assert _post_login("spray0@example.test", PASSWORD, address="198.51.100.9") == 302


def test_the_admin_login_counts_against_the_same_limits(client, make_user):
    staff = make_user("staff@example.test", password=PASSWORD)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    admin_login = reverse("admin:login")
    for n in range(throttle.ACCOUNT_FAILURES_ALLOWED):
        response = client.post(admin_login, {"username": staff.email, "password": f"guess {n}"})
        assert response.status_code == 200 and "_auth_user_id" not in client.session
    refused = client.post(admin_login, {"username": staff.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert refused.context["form"].non_field_errors().as_data()[0].code == "throttled"
    assert _post_login(staff.email, PASSWORD) == 429


def test_the_admin_login_still_lets_staff_in(client, make_user):
    staff = make_user("staff@example.test", password=PASSWORD)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    response = client.post(reverse("admin:login"), {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(staff.pk)


def test_each_further_lock_within_a_day_lasts_twice_as_long(settings, monkeypatch):
    # locmem expires entries by time.time(), so a moved clock moves the whole throttle, no sleeping.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    caches["default"].clear()
    clock = [time.time()]
    monkeypatch.setattr(time, "time", lambda: clock[0])

    def fail_until_locked() -> int:
        for _ in range(throttle.ACCOUNT_FAILURES_ALLOWED):
            throttle.reserve_password_check("owner@example.test", "203.0.113.7")  # wrong: never released
        with pytest.raises(LoginThrottled) as refused:
            throttle.reserve_password_check("owner@example.test", "203.0.113.7")
        return refused.value.retry_after

    assert fail_until_locked() == 15 * 60
    clock[0] += 10 * 60
    with pytest.raises(LoginThrottled) as still:
        throttle.reserve_password_check("owner@example.test", "198.51.100.1")
    assert still.value.retry_after == 5 * 60
    clock[0] += 5 * 60 + 1
    assert fail_until_locked() == 30 * 60
    clock[0] += 30 * 60 + 1
    assert fail_until_locked() == 60 * 60
    # A day without locks forgets the strikes.
    clock[0] += 25 * 3600
    assert fail_until_locked() == 15 * 60

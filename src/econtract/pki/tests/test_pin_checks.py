"""Only a PIN that was checked and found wrong counts, and parallel guesses never get more checks
than the limit.

A request killed during the Argon2 check (kill -9, OOM, a redeploy) is simulated by an exception that
no ``except Exception`` handler catches: nothing after the check runs, as in a dead process.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from econtract.pki import custody
from econtract.pki.errors import PinBusy, PinLocked, WrongPin
from econtract.pki.models import PinCheck, SignerKey
from econtract.pki.services import set_signing_pin, unwrap_signing_key

PIN = "246810"


class ProcessKilled(BaseException):
    """The process died here: no handler, no cleanup of ours runs."""


@pytest.fixture
def killed_during_check(monkeypatch):
    """The next PIN check dies inside Argon2 (after its attempt was reserved)."""
    real = custody.unwrap_private_key

    def dies(*args, **kwargs):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(custody, "unwrap_private_key", real)
        raise ProcessKilled

    def kill_next() -> None:
        monkeypatch.setattr(custody, "unwrap_private_key", dies)

    return kill_next


@pytest.fixture
def counted_checks(monkeypatch):
    """How many times Argon2 really ran (the real unwrap, counted)."""
    real = custody.unwrap_private_key
    calls = {"n": 0}
    lock = threading.Lock()

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        with lock:
            calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(custody, "unwrap_private_key", counting)
    return calls


def _lapse_leases() -> None:
    PinCheck.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def _key(user) -> SignerKey:  # type: ignore[no-untyped-def]
    return SignerKey.objects.get(user=user)


@pytest.mark.django_db
def test_a_check_killed_with_the_right_pin_is_not_counted_as_wrong(user, fast_kdf, killed_during_check):
    set_signing_pin(user, PIN)
    killed_during_check()
    with pytest.raises(ProcessKilled):
        unwrap_signing_key(user, PIN)

    assert _key(user).failed_pin_attempts == 0
    # The signer retries at once (the dead check's lease is still running) and signs.
    unwrap_signing_key(user, PIN)
    with pytest.raises(WrongPin) as wrong:
        unwrap_signing_key(user, "135799")
    assert wrong.value.remaining_attempts == 4


@pytest.mark.django_db
def test_a_killed_check_holds_its_attempt_until_its_lease_lapses_then_counts_nothing(
    user, fast_kdf, killed_during_check
):
    set_signing_pin(user, PIN)
    killed_during_check()
    with pytest.raises(ProcessKilled):
        unwrap_signing_key(user, "135799")

    remaining = []
    for _ in range(4):
        with pytest.raises(WrongPin) as wrong:
            unwrap_signing_key(user, "135799")
        remaining.append(wrong.value.remaining_attempts)
    assert remaining == [4, 3, 2, 1]  # the killed guess was never judged: it did not count

    # Four wrong plus one check in flight use up the five attempts: no fifth check yet.
    with pytest.raises(PinBusy) as busy:
        unwrap_signing_key(user, PIN)
    assert 0 < busy.value.retry_after <= custody.PIN_CHECK_LEASE_SECONDS
    _lapse_leases()
    with pytest.raises(PinLocked):
        unwrap_signing_key(user, "135799")
    assert _key(user).failed_pin_attempts == custody.MAX_PIN_ATTEMPTS
    assert not PinCheck.objects.exists()


@pytest.mark.django_db
def test_a_check_outliving_its_lease_gives_no_answer_and_counts_nothing(user, fast_kdf, monkeypatch):
    set_signing_pin(user, PIN)
    real = custody.unwrap_private_key

    def stalls_past_the_lease(*args, **kwargs):  # type: ignore[no-untyped-def]
        _lapse_leases()  # the process stalls for longer than the lease, then Argon2 answers
        return real(*args, **kwargs)

    monkeypatch.setattr(custody, "unwrap_private_key", stalls_past_the_lease)
    with pytest.raises(PinBusy):
        unwrap_signing_key(user, "135799")
    with pytest.raises(PinBusy):
        unwrap_signing_key(user, PIN)  # the right PIN is not confirmed either: no oracle
    assert _key(user).failed_pin_attempts == 0


def _in_parallel(count: int, call):  # type: ignore[no-untyped-def]
    start = threading.Barrier(count)

    def one(index: int):  # type: ignore[no-untyped-def]
        start.wait()
        try:
            return call(index)
        finally:
            connection.close()  # each worker thread opened its own connection

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def _guess(user, pin: str):  # type: ignore[no-untyped-def]
    def guess(_: int) -> str:
        try:
            unwrap_signing_key(user, pin)
        except (WrongPin, PinLocked, PinBusy) as exc:
            return exc.code
        return "unlocked"

    return guess


@pytest.mark.django_db(transaction=True)
def test_four_parallel_wrong_pins_count_exactly_four(user, fast_kdf, counted_checks):
    set_signing_pin(user, PIN)

    results = _in_parallel(4, _guess(user, "135799"))

    assert results == ["wrong_pin"] * 4
    assert counted_checks["n"] == 4
    key = _key(user)
    assert key.failed_pin_attempts == 4 and key.locked_until is None
    assert not PinCheck.objects.exists()
    unwrap_signing_key(user, PIN)  # the fifth attempt is still hers
    assert _key(user).failed_pin_attempts == 0


@pytest.mark.django_db(transaction=True)
def test_twelve_parallel_wrong_pins_get_exactly_five_real_checks(user, fast_kdf, counted_checks, monkeypatch):
    set_signing_pin(user, PIN)
    counting = custody.unwrap_private_key
    five_at_once = threading.Barrier(custody.MAX_PIN_ATTEMPTS, timeout=20)

    def held_until_five_run_together(*args, **kwargs):  # type: ignore[no-untyped-def]
        five_at_once.wait()  # a sixth concurrent check would wait here in vain and break the barrier
        return counting(*args, **kwargs)

    monkeypatch.setattr(custody, "unwrap_private_key", held_until_five_run_together)

    results = _in_parallel(12, _guess(user, "135799"))

    assert counted_checks["n"] == custody.MAX_PIN_ATTEMPTS == 5
    assert set(results) <= {"wrong_pin", "pin_locked", "pin_busy"}
    # Five checks were judged wrong: four answered WrongPin, the last one locked the key.
    assert results.count("wrong_pin") + results.count("pin_locked") >= 5
    key = _key(user)
    assert key.failed_pin_attempts == 5 and key.locked_until is not None
    assert not PinCheck.objects.exists()
    with pytest.raises(PinLocked):
        unwrap_signing_key(user, PIN)
    assert counted_checks["n"] == 5

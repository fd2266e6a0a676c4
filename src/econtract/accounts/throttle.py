"""Password login throttling, after OWASP's Authentication Cheat Sheet (account lockout).

Two independent limits, both counted BEFORE the password is checked, so N parallel guesses never get
more than the limit of real checks (counting after the check let 17 of 25 through a limit of 10):

- per account: ACCOUNT_FAILURES_ALLOWED failures in PASSWORD_WINDOW, then the account refuses
  password attempts for a lock that doubles with each repeat within a day. The right password is
  refused too, so a locked account tells the attacker nothing; the owner logs in with an emailed
  one-time link (accounts.login_links) instead, which the lock does not block.
- per client address: ADDRESS_FAILURES_ALLOWED failures in PASSWORD_WINDOW, higher, because many
  people share one address behind a NAT or a corporate proxy.

Counts live in the cache (Redis in production, so they hold across processes).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import authenticate
from django.core.cache import cache

from econtract import ratelimit
from econtract.accounts.errors import LoginThrottled
from econtract.accounts.models import User
from econtract.client_address import client_address, limit_bucket

PASSWORD_WINDOW = timedelta(minutes=15)
ACCOUNT_FAILURES_ALLOWED = 10
ADDRESS_FAILURES_ALLOWED = 100
# The first lock lasts 15 minutes, each further one within STRIKE_MEMORY twice as long, at most a day.
ACCOUNT_LOCK_BASE = timedelta(minutes=15)
ACCOUNT_LOCK_MAX = timedelta(hours=24)
STRIKE_MEMORY = timedelta(hours=24)


def _account(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


@dataclass(frozen=True)
class _Reservation:
    """The counts taken for one password check; given back when the password was right."""

    keys: tuple[str, ...]

    def release(self) -> None:
        for key in self.keys:
            ratelimit.release(key)


def _lock_key(account: str) -> str:
    return f"login:account-lock:{account}"


def _locked_for(account: str) -> int:
    """Seconds the account still refuses passwords, against a fresh clock reading: a reading taken
    before a parallel request set the lock would overstate what is left."""
    until, now = cache.get(_lock_key(account)), time.time()
    return math.ceil(float(until) - now) if until is not None and float(until) > now else 0


def _lock(account: str, now: float) -> int:
    strikes = ratelimit.increment(f"login:account-strikes:{account}", _seconds(STRIKE_MEMORY))
    seconds = min(_seconds(ACCOUNT_LOCK_BASE) * 2 ** (strikes - 1), _seconds(ACCOUNT_LOCK_MAX))
    cache.set(_lock_key(account), now + seconds, timeout=seconds)
    return seconds


def reserve_password_check(email: str, address: str) -> _Reservation:
    """Count one password attempt for ``email`` from ``address``, or raise LoginThrottled."""
    now = time.time()
    account = _account(email)
    locked = _locked_for(account)
    if locked:
        raise LoginThrottled("this account refuses passwords for a while", retry_after=locked)
    window = _seconds(PASSWORD_WINDOW)
    address_key = f"login:address:{limit_bucket(address)}"
    by_address = ratelimit.hit(address_key, ADDRESS_FAILURES_ALLOWED, window)
    if not by_address.allowed:
        raise LoginThrottled("too many failed logins from this address", retry_after=by_address.retry_after)
    account_key = f"login:account:{account}"
    by_account = ratelimit.hit(account_key, ACCOUNT_FAILURES_ALLOWED, window)
    if not by_account.allowed:
        # No check happens, so the address is not charged: refused tries cost the neighbours nothing.
        ratelimit.release(address_key)
        if by_account.count == ACCOUNT_FAILURES_ALLOWED + 1:  # exactly one request crosses the limit
            retry_after = _lock(account, now)
        else:
            retry_after = max(_locked_for(account), by_account.retry_after)
        raise LoginThrottled("this account refuses passwords for a while", retry_after=retry_after)
    return _Reservation((address_key, account_key))


def authenticate_password(request: Any, email: str, password: str) -> User | None:
    """Check a password within both limits: the user, None for a wrong one, or LoginThrottled."""
    reservation = reserve_password_check(email, client_address(request))
    user = authenticate(request, username=email, password=password)
    if user is not None:
        reservation.release()  # only failures count
    return user

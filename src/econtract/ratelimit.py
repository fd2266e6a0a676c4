"""Fixed-window counters in the cache (Redis when configured, so limits hold across processes)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone


def _cache_key(key: str) -> str:
    return f"ratelimit:{key}"


def increment(key: str, window_seconds: int) -> int:
    """Count one event under ``key``; the count restarts when the window that the first opened ends."""
    return increment_key(_cache_key(key), window_seconds)


def increment_key(cache_key: str, window_seconds: int) -> int:
    """Atomic in both backends: add is SET NX and incr is INCR in Redis; locmem holds a lock for both."""
    if cache.add(cache_key, 1, timeout=window_seconds):
        return 1
    try:
        return int(cache.incr(cache_key))
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window_seconds)
        return 1


def allow(key: str, limit: int, window_seconds: int) -> bool:
    """Count one request under ``key``; False once more than ``limit`` arrived in the window."""
    return hit(key, limit, window_seconds).allowed


@dataclass(frozen=True)
class Hit:
    """One counted request: its position in the window, and when the window ends."""

    count: int
    limit: int
    retry_after: int  # whole seconds until the window ends and the count restarts (Retry-After)

    @property
    def allowed(self) -> bool:
        return self.count <= self.limit


def _window(key: str, window_seconds: int, now: float) -> tuple[str, float]:
    # The first request of a window stores its start (cache.add is atomic); every request of the window
    # counts under a key naming that start, so the end of the window, hence Retry-After, is exact.
    opened = cache.get_or_set(f"{_cache_key(key)}:opened", now, timeout=window_seconds)
    opened = float(opened if opened is not None else now)
    return f"{_cache_key(key)}:{int(opened * 1000)}", opened


def hit(key: str, limit: int, window_seconds: int) -> Hit:
    """Count one request under ``key`` first, then decide: N concurrent callers get N distinct counts.

    Counting before the work (a reservation) is what keeps a limit exact under concurrency; reading
    the count and incrementing it later lets every request that read "below the limit" through.
    """
    now = time.time()
    counter, opened = _window(key, window_seconds, now)
    count = increment_key(counter, window_seconds)
    # another caller may have opened the window a moment after our clock read: never past its length
    return Hit(count, limit, min(window_seconds, max(1, math.ceil(opened + window_seconds - now))))


def seconds_until(moment: datetime) -> int:
    """Whole seconds from now until ``moment``, at least 1: the Retry-After of a limit that ends then."""
    return max(1, math.ceil((moment - timezone.now()).total_seconds()))


def release(key: str) -> None:
    """Give back one count of the current window (the reserved request turned out not to count)."""
    opened = cache.get(f"{_cache_key(key)}:opened")
    if opened is None:
        return
    try:
        cache.decr(f"{_cache_key(key)}:{int(float(opened) * 1000)}")
    except ValueError:  # the window ended meanwhile
        pass

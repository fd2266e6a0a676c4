"""Fixed-window counters in the cache (Redis when configured, so limits hold across processes)."""

from __future__ import annotations

from django.core.cache import cache


def _cache_key(key: str) -> str:
    return f"ratelimit:{key}"


def increment(key: str, window_seconds: int) -> int:
    """Count one event under ``key``; the count restarts when the window that the first opened ends."""
    cache_key = _cache_key(key)
    if cache.add(cache_key, 1, timeout=window_seconds):
        return 1
    try:
        return int(cache.incr(cache_key))
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window_seconds)
        return 1


def current(key: str) -> int:
    return int(cache.get(_cache_key(key)) or 0)


def allow(key: str, limit: int, window_seconds: int) -> bool:
    """Count one request under ``key``; False once more than ``limit`` arrived in the window."""
    return increment(key, window_seconds) <= limit

"""The suite runs on the embedded default, and on PostgreSQL/Redis when CI points it there."""

from __future__ import annotations

import os
import uuid

import pytest
from django.core.cache import caches
from django.db import connection


@pytest.mark.django_db
def test_database_backend_is_the_one_requested():
    expected = "postgresql" if os.environ.get("ECONTRACT_TEST_DATABASE_URL") else "sqlite"
    assert connection.vendor == expected


def test_cache_backend_is_the_one_requested_and_works():
    cache = caches["default"]
    backend = type(cache).__name__
    if os.environ.get("ECONTRACT_TEST_REDIS_URL"):
        assert backend == "RedisCache"
    else:
        assert backend == "LocMemCache"
    key = f"econtract-test-{uuid.uuid4().hex}"
    cache.set(key, "值", 30)
    assert cache.get(key) == "值"
    cache.delete(key)

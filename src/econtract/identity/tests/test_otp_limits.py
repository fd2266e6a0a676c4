"""One-time code limits hold under concurrency: "one per 20 s, 10 per hour" is counted atomically.

Each thread has its own database connection (``transaction=True``): on PostgreSQL the requests really
overlap; on SQLite they serialise on the write lock, which must give the same answer.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection

from econtract.identity import services
from econtract.identity.errors import OtpRateLimited
from econtract.identity.models import OtpChallenge

pytestmark = pytest.mark.django_db(transaction=True)

SUBJECT = "party-7f3a"


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


def _request_code(_: int) -> str:
    try:
        services.issue_otp(
            purpose=OtpChallenge.Purpose.SIGN,
            subject=SUBJECT,
            destination="signer@example.test",
            subject_line="Signing code",
            intro="Your code is:",
        )
    except OtpRateLimited:
        return "refused"
    return "issued"


def test_ten_parallel_code_requests_issue_exactly_one_code(outbox):
    results = _in_parallel(10, _request_code)

    assert results.count("issued") == 1, results
    assert results.count("refused") == 9
    assert OtpChallenge.objects.filter(subject=SUBJECT).count() == 1
    assert len(outbox.messages()) == 1


def test_parallel_requests_never_pass_the_hourly_limit(outbox):
    # Nine codes this hour, each older than the 20 s interval: one more is allowed, not twelve.
    for minutes in range(9):
        challenge = OtpChallenge.objects.create(
            purpose=OtpChallenge.Purpose.SIGN,
            subject=SUBJECT,
            destination="signer@example.test",
            code_hash="0" * 64,
            expires_at=services.timezone.now(),
        )
        OtpChallenge.objects.filter(pk=challenge.pk).update(
            created_at=services.timezone.now() - timedelta(minutes=50 - minutes)
        )

    results = _in_parallel(12, _request_code)

    assert results.count("issued") == 1, results
    assert OtpChallenge.objects.filter(subject=SUBJECT).count() == services.OTP_MAX_PER_HOUR == 10

"""Cost of the transparency log: appends per second and proof milliseconds, against bare hashlib.

In one run, on a temporary SQLite file (and on a temporary PostgreSQL database when
ECONTRACT_BENCH_DATABASE_URL names a server; it is created and dropped):

* appends/s of ``record_event`` (each committed, so each integrates its own event), of
  ``record_event`` ×N then one ``integrate_pending``, of the sequencer alone on pre-queued events, and
  of ``log._append`` alone; against the same leaf and subtree hashing in memory (hashlib), as a ratio;
* inclusion- and consistency-proof ms at 10^4, 10^5 and 10^6 leaves (``--max-leaves``), the TreeHash
  table filled directly with bulk inserts of synthetic leaves and their true subtree hashes (proofs read
  TreeHash only), against ``merkle`` proofs over the same hashes in a dict. Aim: >= 5,000 appends/s;
  proofs <= 5 ms and flat in n.

Run: ``cd /work/main && .venv/bin/python bench/evidence.py [--appends N] [--max-leaves N] [--runs N]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

SUBJECTS = 200  # events spread over this many subjects (envelopes), in turn
AIM_APPENDS = 5000
AIM_PROOF_MS = 5.0


def setup_django(database_url: str | None) -> None:
    os.environ["ECONTRACT_DATA_DIR"] = tempfile.mkdtemp(prefix="econtract-bench-")
    if database_url:
        os.environ["ECONTRACT_DATABASE_URL"] = database_url
    else:
        os.environ.pop("ECONTRACT_DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "econtract.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def median_ms(action: Callable[[], object], runs: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        action()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def subject(number: int) -> Any:
    """What record_event reads of a subject: its model label and primary key."""
    return SimpleNamespace(_meta=SimpleNamespace(label_lower="bench.envelope"), pk=number)


def record(count: int, start: int) -> None:
    from econtract.evidence.services import RequestContext, record_event

    context = RequestContext(ip_address="203.0.113.7", user_agent="Mozilla/5.0 bench", label="a@example.test")
    for n in range(start, start + count):
        record_event(
            "bench",
            subject(n % SUBJECTS),
            context,
            document_sha256="ab" * 32,
            payload={"n": n, "name": "张三"},
        )


class queue_only:  # noqa: N801 - a context manager used like a function
    """record_event without its after-commit integration, so events wait in the queue."""

    def __enter__(self) -> None:
        from econtract.evidence import services

        self.saved = services._integrate_quietly
        services._integrate_quietly = lambda: None  # type: ignore[assignment]

    def __exit__(self, *exc: object) -> None:
        from econtract.evidence import services

        services._integrate_quietly = self.saved  # type: ignore[assignment]


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bare_append_seconds(leaf_data: list[bytes]) -> float:
    """The hashing an append does (leaf hash, then the subtrees it closes), in memory, pure hashlib."""

    def run() -> None:
        nodes: dict[tuple[int, int], bytes] = {}
        for index, data in enumerate(leaf_data):
            current = hashlib.sha256(b"\x00" + data).digest()
            nodes[(0, index)] = current
            level, position = 0, index
            while position & 1:
                current = hashlib.sha256(b"\x01" + nodes[(level, position - 1)] + current).digest()
                level, position = level + 1, position >> 1
                nodes[(level, position)] = current

    return min(timed(run) for _ in range(3))


def bench_appends(count: int) -> list[tuple[str, float]]:
    from django.db import transaction

    from econtract.evidence import log
    from econtract.evidence.models import Leaf, LogQueue, LogState

    log.get_log()
    rows: list[tuple[str, float]] = []
    record(50, 0)  # warm-up
    rows.append(("record_event, each committed and integrated", count / timed(lambda: record(count, 50))))

    with queue_only():
        recording = timed(lambda: record(count, 10**6))
    sequencing = timed(log.integrate_pending)
    rows.append(("record_event xN, then integrate_pending", count / (recording + sequencing)))
    rows.append(("  record_event alone (queued)", count / recording))
    rows.append(("  integrate_pending alone (sequencer, pre-queued)", count / sequencing))

    with queue_only():
        record(count, 2 * 10**6)
    queued = list(LogQueue.objects.select_related("event").order_by("id"))

    def append_only() -> None:
        for start in range(0, len(queued), log.BATCH):
            with transaction.atomic():
                state = LogState.objects.select_for_update().get(pk=1)
                log._append(state, [row.event for row in queued[start : start + log.BATCH]])

    rows.append((f"log._append alone (batches of {log.BATCH})", count / timed(append_only)))
    LogQueue.objects.filter(id__in=[row.id for row in queued]).delete()

    data = [bytes(d) for d in Leaf.objects.order_by("index").values_list("data", flat=True)[:count]]
    rows.append(("bare hashlib, same leaf bytes, in memory", len(data) / bare_append_seconds(data)))
    return rows


def synthetic_levels(size: int) -> list[list[bytes]]:
    """levels[L][i]: the hash of complete subtree (L, i) of `size` synthetic leaves."""
    levels = [[hashlib.sha256(b"\x00" + index.to_bytes(8, "big")).digest() for index in range(size)]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(
            [
                hashlib.sha256(b"\x01" + below[2 * i] + below[2 * i + 1]).digest()
                for i in range(len(below) // 2)
            ]
        )
    return levels


def rows_between(levels: list[list[bytes]], old: int, new: int) -> Iterator[tuple[int, int, bytes]]:
    """The TreeHash rows that growing the tree from `old` to `new` leaves adds."""
    for level, hashes in enumerate(levels):
        first, last = old >> level, new >> level
        for index in range(first, min(last, len(hashes))):
            yield level, index, hashes[index]


def bulk_insert(rows: Iterator[tuple[int, int, bytes]]) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor
            with raw.copy('COPY evidence_treehash (level, "index", hash) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(
                'INSERT INTO evidence_treehash (level, "index", hash) VALUES (%s, %s, %s)', rows
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE evidence_treehash")


def bench_proofs(max_leaves: int, runs: int) -> list[tuple[int, float, float, float, float, int]]:
    from econtract.evidence import log, merkle
    from econtract.evidence.models import TreeHash

    TreeHash.objects.all().exists()
    if TreeHash.objects.exists():
        raise RuntimeError("the proof benchmark needs an empty TreeHash table")
    sizes = [n for n in (10**4, 10**5, 10**6) if n <= max_leaves] or [max_leaves]
    levels = synthetic_levels(sizes[-1])

    def memory(nodes: object) -> dict[merkle.Node, bytes]:
        return {(lv, ix): levels[lv][ix] for lv, ix in nodes}  # type: ignore[attr-defined]

    rng = random.Random(9162)
    results = []
    filled = 0
    for size in sizes:
        started = time.perf_counter()
        bulk_insert(rows_between(levels, filled, size))
        fill_s = time.perf_counter() - started
        filled = size
        root = merkle.root_hash(size, memory)
        assert log.root_hash(size) == root
        index = rng.randrange(size)
        merkle.verify_inclusion(levels[0][index], index, size, log.inclusion_proof(index, size), root)
        old = rng.randrange(1, size)
        merkle.verify_consistency(
            old, size, merkle.root_hash(old, memory), root, log.consistency_proof(old, size)
        )
        picks = [(rng.randrange(size), rng.randrange(1, size)) for _ in range(runs)]
        turn = iter(range(10**9))

        def pick(picks: list[tuple[int, int]] = picks, turn: Iterator[int] = turn) -> tuple[int, int]:
            return picks[next(turn) % len(picks)]

        results.append(
            (
                size,
                median_ms(lambda size=size: log.inclusion_proof(pick()[0], size), runs),
                median_ms(lambda size=size: merkle.inclusion_proof(pick()[0], size, memory), runs),
                median_ms(lambda size=size: log.consistency_proof(pick()[1], size), runs),
                median_ms(lambda size=size: merkle.consistency_proof(pick()[1], size, memory), runs),
                round(fill_s),
            )
        )
    return results


def run_here(args: argparse.Namespace, database_url: str | None) -> None:
    setup_django(database_url)
    from django.db import connection

    label = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite (temporary file)"
    print(
        f"{label}: {args.appends} appends over {SUBJECTS} subjects; proofs up to {args.max_leaves:,} leaves"
    )
    appends = bench_appends(args.appends)
    bare = appends[-1][1]
    for name, rate in appends:
        ratio = "" if name.startswith("bare") else f"  bare/ours {bare / rate:6.1f}"
        print(f"  {name:<52} {rate:10,.0f} appends/s{ratio}")
    sequencer = dict(appends)["  integrate_pending alone (sequencer, pre-queued)"]
    print(f"  sequencer aim >= {AIM_APPENDS:,}/s: {'met' if sequencer >= AIM_APPENDS else 'NOT met'}")

    # the proofs get a database of their own tables' contents: drop the appended subtrees first
    from django.db import transaction

    from econtract.evidence.tests.log_helpers import drop_evidence_triggers

    with transaction.atomic():
        drop_evidence_triggers()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM evidence_treehash")
    proofs = bench_proofs(args.max_leaves, args.runs)
    print(f"  proofs, median ms of {args.runs} random ones (TreeHash bulk-filled; fill seconds cumulative)")
    print(
        f"  {'leaves':>10} {'inclusion':>10} {'bare':>8} {'ratio':>7} {'consistency':>12} {'bare':>8} {'ratio':>7}"
    )
    worst = 0.0
    for size, inc, inc_bare, con, con_bare, fill_s in proofs:
        worst = max(worst, inc, con)
        print(
            f"  {size:>10,} {inc:>8.2f}ms {inc_bare:>6.3f}ms {inc / inc_bare:>7.0f} "
            f"{con:>10.2f}ms {con_bare:>6.3f}ms {con / con_bare:>7.0f}   (filled in {fill_s}s)"
        )
    print(
        f"  proof aim <= {AIM_PROOF_MS} ms: {'met' if worst <= AIM_PROOF_MS else 'NOT met'} (worst {worst:.2f} ms)"
    )
    sys.stdout.flush()


def with_database(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def run_postgresql(args: argparse.Namespace, server_url: str) -> None:
    """The same run in a child process, on a database created for it and dropped after."""
    import psycopg

    name = f"econtract_bench_{os.getpid()}"
    admin = with_database(server_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        command = [
            sys.executable,
            __file__,
            "--appends",
            str(args.appends),
            "--max-leaves",
            str(args.max_leaves),
        ]
        command += ["--runs", str(args.runs), "--database-url", with_database(server_url, name)]
        subprocess.run(command, check=True)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--appends", type=int, default=5000)
    parser.add_argument("--max-leaves", type=int, default=10**6)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)  # the PostgreSQL child
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.CRITICAL)
    if args.database_url:
        run_here(args, None if args.database_url == "sqlite" else args.database_url)
        return
    server = os.environ.get("ECONTRACT_BENCH_DATABASE_URL", "").strip()
    if server:
        # SQLite in a child too, so each run has its own Django settings
        command = [
            sys.executable,
            __file__,
            "--appends",
            str(args.appends),
            "--max-leaves",
            str(args.max_leaves),
        ]
        subprocess.run([*command, "--runs", str(args.runs), "--database-url", "sqlite"], check=True)
        run_postgresql(args, server)
    else:
        run_here(args, None)


if __name__ == "__main__":
    main()

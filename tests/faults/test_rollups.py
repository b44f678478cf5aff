"""The history roll-ups never drift from the rows, whoever writes and however a writer dies.

On SQLite and on PostgreSQL: random records (several names and statuses, times spread over
days and hours to the nanosecond, zero and huge durations, repeated ids), Cleanup, retention
batches, and raw ``DELETE``/``UPDATE`` by another connection; then every roll-up row must equal
a full ``GROUP BY`` scan of the table, and GetStats on random filters a brute-force computation.
Also: a writer process killed with SIGKILL mid-batch, several times, and a database of the
previous schema version (with rows) opened by this one.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from wfstore import AlreadyExistsError, ExecutionRecord, HistoryFilter, HistoryStats
from wfstore.timestamps import from_unix_nanos, to_unix_nanos
from wfstored import PostgresHistoryStore, SQLiteHistoryStore
from wfstored.storage.postgres.schema import MIGRATIONS
from wfstored.storage.shared.history_rollups import DAILY, HOURLY, ROLLUP_COLUMNS, scan_statement
from wfstored.storage.shared.history_schema import create_statements, insert_statement
from wfstored.storage.shared.record_rows import record_row
from wfstored.storage.shared.table_history_store import TableHistoryStore
from wfstored.storage.shared.time_text import format_time

BASE = datetime(2025, 3, 30, 21, 0, tzinfo=UTC)  # three days on either side of midnights
SPAN_NANOS = 3 * 24 * 3600 * 10**9
NAMES = ("deploy", "build", "nightly")
STATUSES = ("success", "failed", "cancelled", "completed", "timeout")
HUGE = 2**63 - 1
ALL = HistoryFilter(limit=1_000_000)


def _rng(seed: int) -> random.Random:
    """A seeded generator: the same test data on every run."""
    return random.Random(seed)  # noqa: S311 (test data, not cryptography)


class Clock:
    """A settable "now" for Cleanup and retention."""

    def __init__(self) -> None:
        self.now = BASE + timedelta(days=3)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Backend:
    """A store and a raw connection of another tool on the same database."""

    store: TableHistoryStore
    execute: Callable[[str, Sequence[object]], list[tuple[object, ...]]]
    placeholder: str


@contextmanager
def _sqlite(path: Path, clock: Clock) -> Iterator[Backend]:
    store = SQLiteHistoryStore(path, clock=clock)
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)

    def execute(sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        return list(conn.execute(sql, params).fetchall())

    try:
        yield Backend(store, execute, "?")
    finally:
        conn.close()
        store.close()


@contextmanager
def _postgres(url: str, clock: Clock) -> Iterator[Backend]:
    store = PostgresHistoryStore(url, clock=clock)
    conn = psycopg.connect(url, autocommit=True)

    def execute(sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        cursor = conn.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []

    try:
        yield Backend(store, execute, "%s")
    finally:
        conn.close()
        store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    clock = Clock()
    if request.param == "sqlite":
        with _sqlite(tmp_path / "history.db", clock) as opened:
            yield opened
    else:
        with _postgres(request.getfixturevalue("postgres_url"), clock) as opened:
            yield opened


def _moment(rng: random.Random) -> datetime:
    """A time in the six days around BASE, often on an hour or a day boundary."""
    nanos = to_unix_nanos(BASE) - SPAN_NANOS + rng.randrange(2 * SPAN_NANOS)
    hour = 3600 * 10**9
    kind = rng.random()
    if kind < 0.15:
        nanos -= nanos % hour  # on an hour
    elif kind < 0.2:
        nanos -= nanos % (24 * hour)  # on a midnight
    elif kind < 0.25:
        nanos += hour - 1 - nanos % hour  # the last nanosecond of an hour
    return from_unix_nanos(nanos)


def _duration(rng: random.Random) -> int:
    return rng.choice([0, 0, 1, rng.randrange(10**6), rng.randrange(2**40), HUGE, HUGE - 1])


def _record(rng: random.Random, n: int) -> ExecutionRecord:
    completed = _moment(rng)
    return ExecutionRecord(
        id=f"r-{n}",
        workflow_id=f"w-{n}",
        workflow_name=rng.choice(NAMES),
        status=rng.choice(STATUSES),
        completed_at=completed,
        duration_ms=_duration(rng),
    )


def assert_rollups_match_a_scan(backend: Backend) -> None:
    """Every roll-up row equals the full GROUP BY scan of the history table."""
    columns = ", ".join(ROLLUP_COLUMNS)
    for table in (HOURLY, DAILY):
        kept = backend.execute(f"SELECT {columns} FROM {table}", [])  # noqa: S608 (constants)
        scanned = backend.execute(scan_statement(table), [])
        assert sorted(map(_normal, kept)) == sorted(map(_normal, scanned)), table


def _normal(row: tuple[object, ...]) -> tuple[object, ...]:
    """A row with every number an int (PostgreSQL sums are numeric)."""
    return tuple(value if isinstance(value, str) else int(value) for value in row)  # type: ignore[call-overload]


def brute_force(records: Sequence[ExecutionRecord], history_filter: HistoryFilter) -> HistoryStats:
    """The figures of GetStats without percentiles, from the records themselves."""
    matching = [
        r
        for r in records
        if (not history_filter.workflow_name or r.workflow_name == history_filter.workflow_name)
        and (not history_filter.status or r.status == history_filter.status)
        and (history_filter.since is None or _nanos(r) >= to_unix_nanos(history_filter.since))
        and (history_filter.until is None or _nanos(r) <= to_unix_nanos(history_filter.until))
    ]
    if not matching:
        return HistoryStats()
    durations = [r.duration_ms for r in matching]
    statuses = Counter(r.status for r in matching)
    return HistoryStats(
        total_executions=len(matching),
        success_count=statuses["success"] + statuses["completed"],
        failed_count=statuses["failed"],
        cancelled_count=statuses["cancelled"],
        avg_duration_ms=sum(durations) // len(durations),
        min_duration_ms=min(durations),
        max_duration_ms=max(durations),
        status_counts=dict(sorted(statuses.items())),
    )


def _nanos(entry: ExecutionRecord) -> int:
    assert entry.completed_at is not None
    return to_unix_nanos(entry.completed_at)


def _random_filter(rng: random.Random) -> HistoryFilter:
    since = None if rng.random() < 0.25 else _moment(rng)
    until = None if rng.random() < 0.25 else _moment(rng)
    if since is not None and until is not None and rng.random() < 0.3:
        until = since + rng.choice(
            [timedelta(0), timedelta(microseconds=1), timedelta(minutes=5), timedelta(hours=1)]
        )
    return HistoryFilter(
        workflow_name=rng.choice(["", *NAMES]),
        status=rng.choice(["", "", *STATUSES]),
        since=since,
        until=until,
    )


def assert_stats_match_brute_force(backend: Backend, rng: random.Random, rounds: int) -> None:
    """GetStats (and its breakdown) on random filters equals a computation from the rows."""
    stored = backend.store.list(ALL)
    for _ in range(rounds):
        wanted = _random_filter(rng)
        expected = brute_force(stored, wanted)
        assert backend.store.get_stats(wanted) == expected, wanted
        exact = backend.store.get_stats(wanted, percentiles=True)
        assert replace(exact, p50_duration_ms=0, p95_duration_ms=0, p99_duration_ms=0) == expected
        breakdown = backend.store.get_stats_breakdown(wanted)
        assert breakdown.total == expected
        for group in breakdown.groups:
            assert group.stats == brute_force(stored, replace(wanted, workflow_name=group.key))


def _raw_changes(backend: Backend, rng: random.Random) -> None:
    """What another tool might do: delete some rows, move others, rename a group."""
    p = backend.placeholder
    ids = [str(row[0]) for row in backend.execute("SELECT id FROM executions", [])]
    if not ids:
        return
    doomed = rng.sample(ids, min(len(ids), 5))
    marks = ", ".join(p for _ in doomed)
    backend.execute(f"DELETE FROM executions WHERE id IN ({marks})", doomed)  # noqa: S608 (placeholders)
    for record_id in rng.sample(ids, min(len(ids), 5)):
        moved = _moment(rng)
        backend.execute(
            f"UPDATE executions SET duration_ms = {p}, status = {p}, completed_at = {p}"  # noqa: S608 (placeholders)
            f" WHERE id = {p}",
            [_duration(rng), rng.choice(STATUSES), format_time(moved), record_id],
        )
    backend.execute(
        f"UPDATE executions SET workflow_name = {p} WHERE workflow_name = {p} AND status = {p}",  # noqa: S608 (placeholders)
        [rng.choice(NAMES), rng.choice(NAMES), rng.choice(STATUSES)],
    )
    # An update that touches no roll-up column changes nothing there.
    backend.execute(f"UPDATE executions SET error_message = {p} WHERE id = {p}", ["x", ids[0]])  # noqa: S608 (placeholders)


def test_rollups_never_drift_from_the_rows(backend: Backend) -> None:
    rng = _rng(13)
    store = backend.store
    clock = store._clock
    assert isinstance(clock, Clock)
    written = 0
    for round_number in range(8):
        batch = [_record(rng, written + n) for n in range(rng.choice([1, 5, 70, 300]))]
        written += len(batch)
        store.record_batch(batch)
        for entry in rng.sample(batch, min(len(batch), 10)):
            store.record(entry)  # the same id and content again: a no-op, not counted twice
        clash = replace(batch[0], duration_ms=batch[0].duration_ms ^ 1)
        with pytest.raises(AlreadyExistsError):
            store.record_batch([_record(rng, written + 10_000), clash])  # stores nothing
        written += 1
        for entry in [_record(rng, written + n) for n in range(20)]:
            store.record(entry)
        written += 20
        assert_rollups_match_a_scan(backend)
        if round_number % 2:
            _raw_changes(backend, rng)
            assert_rollups_match_a_scan(backend)
        if round_number % 3 == 2:
            clock.now = BASE - timedelta(days=3) + timedelta(hours=rng.randrange(72))
            store.cleanup(timedelta(hours=rng.randrange(24)))
            assert_rollups_match_a_scan(backend)
        if round_number % 3 == 1:
            clock.now = BASE - timedelta(days=3) + timedelta(hours=rng.randrange(72))
            result = store.prune(timedelta(hours=1), batch_size=7)
            assert result is not None
            assert result.removed > 0 or result.batches <= 1
            assert_rollups_match_a_scan(backend)
        assert_stats_match_brute_force(backend, rng, 25)
    assert written > 500


def test_a_skipped_duplicate_is_not_counted(backend: Backend) -> None:
    entry = ExecutionRecord(
        id="once", workflow_name="deploy", status="success", completed_at=BASE, duration_ms=7
    )
    backend.store.record(entry)
    backend.store.record(entry)
    backend.store.record_batch([entry, entry])
    p = backend.placeholder
    # Another tool's INSERT that skips the stored id counts nothing either.
    backend.execute(insert_statement(p), list(record_row(replace(entry, duration_ms=9))))
    assert backend.store.get_stats() == HistoryStats(
        total_executions=1,
        success_count=1,
        avg_duration_ms=7,
        min_duration_ms=7,
        max_duration_ms=7,
        status_counts={"success": 1},
    )
    assert_rollups_match_a_scan(backend)


# --- kill -9 ---------------------------------------------------------------------------------

WRITER = """
import random, sys, itertools
from datetime import UTC, datetime, timedelta
from wfstore import ExecutionRecord
from wfstored import PostgresHistoryStore, SQLiteHistoryStore

where, seed = sys.argv[1], int(sys.argv[2])
store = PostgresHistoryStore(where) if where.startswith("postgresql") else SQLiteHistoryStore(where)
rng = random.Random(seed)
base = datetime.now(UTC) - timedelta(days=2)  # Cleanup takes some, not all
print("ready", flush=True)
for batch in itertools.count():
    records = [
        ExecutionRecord(
            id=f"k{seed}-{batch}-{n}",
            workflow_name=rng.choice(["a", "b"]),
            status=rng.choice(["success", "failed"]),
            completed_at=base + timedelta(seconds=rng.randrange(3 * 86400), microseconds=n),
            duration_ms=rng.choice([0, rng.randrange(10**6), 2**63 - 1]),
        )
        for n in range(rng.choice([1, 50, 500]))
    ]
    store.record_batch(records)
    if batch % 7 == 6:
        store.cleanup(timedelta(days=rng.randrange(1, 5)))
"""


def _kill_writer_mid_way(where: str, seed: int) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    pause = 0.5 + _rng(seed).random()
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, where, str(seed)], stdout=subprocess.PIPE, env=env
    ) as writer:
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline() == b"ready\n"
            time.sleep(pause)
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_writer_killed_mid_batch_leaves_no_drift(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    where = (
        str(tmp_path / "history.db")
        if kind == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    opener = _sqlite if kind == "sqlite" else _postgres
    for seed in range(4):
        _kill_writer_mid_way(where, seed)
        with opener(Path(where) if kind == "sqlite" else where, Clock()) as backend:  # type: ignore[arg-type]
            assert backend.store.get_stats().total_executions > 0
            assert_rollups_match_a_scan(backend)
            assert_stats_match_brute_force(backend, _rng(seed), 5)


# --- the previous schema version ---------------------------------------------------------------


def _old_rows(count: int) -> list[tuple[object, ...]]:
    rng = _rng(5)
    return [tuple(record_row(_record(rng, n))) for n in range(count)]


def test_a_version_1_sqlite_database_is_backfilled(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    rows = _old_rows(2000)
    with sqlite3.connect(path) as conn:  # what the version 1 code created
        for statement in create_statements(
            {"text": "TEXT", "int32": "INTEGER", "int64": "INTEGER"}
        ):
            conn.execute(statement)
        conn.executemany(insert_statement("?"), rows)
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    with _sqlite(path, Clock()) as backend:
        assert backend.execute("PRAGMA user_version", []) == [(2,)]
        assert backend.store.get_stats().total_executions == len(rows)
        assert_rollups_match_a_scan(backend)
        assert_stats_match_brute_force(backend, _rng(1), 40)
        backend.execute("DELETE FROM executions WHERE workflow_name = 'build'", [])
        assert_rollups_match_a_scan(backend)


def test_a_version_4_postgres_database_is_backfilled(postgres_url: str) -> None:
    rows = _old_rows(2000)
    with psycopg.connect(postgres_url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "CREATE TABLE wfstore_schema (id INTEGER PRIMARY KEY CHECK (id = 1),"
            " version INTEGER NOT NULL)"
        )
        for statements in MIGRATIONS[:4]:
            for statement in statements:
                conn.execute(statement)
        conn.execute("INSERT INTO wfstore_schema VALUES (1, 4)")
        with conn.cursor() as cursor:
            cursor.executemany(insert_statement("%s"), rows)
    with _postgres(postgres_url, Clock()) as backend:
        assert backend.execute("SELECT version FROM wfstore_schema", []) == [(len(MIGRATIONS),)]
        assert backend.store.get_stats().total_executions == len(rows)
        assert_rollups_match_a_scan(backend)
        assert_stats_match_brute_force(backend, _rng(1), 40)


# --- concurrent writers ------------------------------------------------------------------------


def test_concurrent_batches_from_two_stores_on_shared_buckets(
    backend: Backend, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two stores (two daemons) write batches over the same few buckets in random orders."""
    second = (
        SQLiteHistoryStore(tmp_path / "history.db")
        if isinstance(backend.store, SQLiteHistoryStore)
        else PostgresHistoryStore(request.getfixturevalue("postgres_url"))
    )
    errors: list[BaseException] = []

    def write(store: TableHistoryStore, seed: int) -> None:
        rng = _rng(seed)
        try:
            for round_number in range(15):
                batch = [_record(rng, seed * 100_000 + round_number * 100 + n) for n in range(60)]
                store.record_batch(batch)
                store.record(_record(rng, seed * 100_000 + round_number * 100 + 99))
        except BaseException as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(store, seed))
        for seed, store in enumerate([backend.store, second] * 3)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        second.close()
    assert errors == []
    assert backend.store.get_stats().total_executions == 6 * 15 * 61
    assert_rollups_match_a_scan(backend)

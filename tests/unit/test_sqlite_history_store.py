"""Tests of the SQLite history store, on real database files."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from wfstore.domain import ExecutionRecord, HistoryFilter
from wfstore.errors import (
    AlreadyExistsError,
    DataCorruptedError,
    InvalidArgumentError,
    StoreClosedError,
    UnavailableError,
)
from wfstore.ports import HistoryStore
from wfstore.timestamps import Timestamp
from wfstored.storage.shared.time_text import format_time, parse_time
from wfstored.storage.sqlite.history_store import SQLiteHistoryStore
from wfstored.storage.sqlite.queries import list_query, stats_query

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def rec(record_id: str, minutes: float = 0, **fields: Any) -> ExecutionRecord:
    """A record completed ``minutes`` after BASE, with defaults for everything else."""
    values: dict[str, Any] = {
        "workflow_id": f"wf-{record_id}",
        "workflow_name": "build",
        "status": "completed",
        "completed_at": BASE + timedelta(minutes=minutes),
    }
    values.update(fields)
    return ExecutionRecord(id=record_id, **values)


def ids(records: list[ExecutionRecord]) -> list[str]:
    return [record.id for record in records]


def raw(path: Path) -> closing[sqlite3.Connection]:
    """A plain sqlite3 connection to ``path`` that closes when the ``with`` block ends."""
    return closing(sqlite3.connect(path, isolation_level=None))


def bulk_insert(path: Path, records: list[ExecutionRecord]) -> None:
    """Insert many records in one transaction (store.record fsyncs each one)."""
    rows = [
        (
            r.id,
            r.workflow_id,
            r.workflow_name,
            r.status,
            r.exit_code,
            None if r.started_at is None else format_time(r.started_at),
            format_time(r.completed_at),  # type: ignore[arg-type]
            r.duration_ms,
            r.error_message,
        )
        for r in records
    ]
    with raw(path) as conn:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO executions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SQLiteHistoryStore]:
    with SQLiteHistoryStore(db_path) as opened:
        yield opened


# --- opening, files, pragmas -------------------------------------------------------------


def test_implements_the_port(store: SQLiteHistoryStore) -> None:
    assert isinstance(store, HistoryStore)


def test_database_is_in_wal_mode_with_schema_version(
    store: SQLiteHistoryStore, db_path: Path
) -> None:
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    own = store._db._conn
    assert own is not None
    assert own.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert own.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert own.execute("PRAGMA foreign_keys").fetchone()[0] == 0


def test_files_and_directories_are_private(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "history.db"
    old_umask = os.umask(0)  # so the modes below come from the store, not the umask
    try:
        with SQLiteHistoryStore(path) as store:
            store.record(rec("r1"))
            for name in ("history.db", "history.db-wal", "history.db-shm"):
                assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700


def test_reopening_keeps_records(db_path: Path) -> None:
    with SQLiteHistoryStore(db_path) as store:
        store.record(rec("r1"))
    with SQLiteHistoryStore(db_path) as store:
        assert ids(store.list(HistoryFilter())) == ["r1"]


def test_a_file_that_is_not_a_database_is_reported_corrupted(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"this is not an SQLite database, just some text\n" * 100)
    with pytest.raises(DataCorruptedError, match=r"history\.db"):
        SQLiteHistoryStore(path)


def test_a_newer_schema_version_is_refused(db_path: Path) -> None:
    SQLiteHistoryStore(db_path).close()
    with raw(db_path) as conn:
        conn.execute("PRAGMA user_version = 3")
    with pytest.raises(DataCorruptedError, match="schema version 3"):
        SQLiteHistoryStore(db_path)


def test_a_malformed_stored_row_is_reported_corrupted(
    store: SQLiteHistoryStore, db_path: Path
) -> None:
    store.record(rec("good"))
    with raw(db_path) as conn:
        conn.execute("UPDATE executions SET completed_at = 'yesterday' WHERE id = 'good'")
    with pytest.raises(DataCorruptedError, match="'good'"):
        store.list(HistoryFilter())


# --- timestamps ----------------------------------------------------------------------------


def test_nanoseconds_round_trip(store: SQLiteHistoryStore) -> None:
    started = Timestamp(2024, 5, 1, 11, 59, 0, 5, tzinfo=UTC, nanosecond=7)
    completed = Timestamp(2024, 5, 1, 12, 0, 0, 0, tzinfo=UTC, nanosecond=123)
    store.record(rec("r1", started_at=started, completed_at=completed))
    (got,) = store.list(HistoryFilter())
    assert isinstance(got.completed_at, Timestamp)
    assert got.completed_at.nanosecond == 123
    assert got.completed_at == completed
    assert got.started_at == started
    assert isinstance(got.started_at, Timestamp)
    assert got.started_at.nanosecond == 7


def test_plain_datetimes_and_offsets_round_trip(store: SQLiteHistoryStore) -> None:
    completed = datetime(2024, 5, 1, 14, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=2)))
    store.record(rec("r1", completed_at=completed, started_at=None))
    (got,) = store.list(HistoryFilter())
    assert type(got.completed_at) is datetime
    assert got.completed_at == completed
    assert got.completed_at.utcoffset() == timedelta(0)
    assert got.started_at is None


def test_time_text_is_fixed_width_and_sorts_like_time() -> None:
    values = [
        Timestamp(1, 1, 1, tzinfo=UTC, nanosecond=1),
        datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        Timestamp(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC, nanosecond=999),
    ]
    texts = [format_time(value) for value in values]
    assert texts[0] == "0001-01-01T00:00:00.000000001Z"
    assert texts[-1] == "9999-12-31T23:59:59.999999999Z"
    assert {len(text) for text in texts} == {30}
    assert texts == sorted(texts)
    assert [parse_time(text) for text in texts] == values


def test_list_orders_over_extreme_years(store: SQLiteHistoryStore) -> None:
    times = {
        "y1": Timestamp(1, 1, 1, tzinfo=UTC, nanosecond=1),
        "y1b": datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC),
        "y999": datetime(999, 6, 1, tzinfo=UTC),
        "y2024": BASE,
        "y9999": Timestamp(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC, nanosecond=999),
    }
    for record_id in ["y2024", "y9999", "y1b", "y1", "y999"]:
        store.record(rec(record_id, completed_at=times[record_id]))
    got = store.list(HistoryFilter())
    assert ids(got) == ["y9999", "y2024", "y999", "y1b", "y1"]
    assert [r.completed_at for r in got] == [times[r.id] for r in got]


# --- record ------------------------------------------------------------------------------


def test_recording_the_same_record_twice_is_a_no_op(store: SQLiteHistoryStore) -> None:
    record = rec("r1", started_at=BASE - timedelta(seconds=3), duration_ms=3000, exit_code=1)
    store.record(record)
    store.record(record)
    # The same instant in another time zone is the same content.
    store.record(replace(record, completed_at=BASE.astimezone(timezone(timedelta(hours=-7)))))
    assert store.list(HistoryFilter()) == [record]
    assert store.get_stats(HistoryFilter()).total_executions == 1


@pytest.mark.parametrize(
    "change",
    [
        {"workflow_id": "other"},
        {"workflow_name": "deploy"},
        {"status": "failed"},
        {"exit_code": 2},
        {"started_at": BASE - timedelta(seconds=1)},
        {"completed_at": Timestamp(2024, 5, 1, 12, 0, tzinfo=UTC, nanosecond=1)},
        {"duration_ms": 1},
        {"error_message": "boom"},
    ],
)
def test_recording_an_id_with_different_content_fails(
    store: SQLiteHistoryStore, change: dict[str, Any]
) -> None:
    original = rec("run-42")
    store.record(original)
    with pytest.raises(AlreadyExistsError, match="'run-42'"):
        store.record(replace(original, **change))
    assert store.list(HistoryFilter()) == [original]


@pytest.mark.parametrize(
    "record",
    [
        rec("r1", completed_at=None),
        rec("r1", completed_at=datetime(2024, 5, 1)),  # noqa: DTZ001 (naive on purpose)
        rec("r1", started_at=datetime(2024, 5, 1)),  # noqa: DTZ001 (naive on purpose)
        rec(""),
        rec("r1", exit_code="1"),
        rec("r1", duration_ms=-1),
        "not a record",
    ],
)
def test_invalid_records_are_rejected(store: SQLiteHistoryStore, record: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        store.record(record)
    assert store.list(HistoryFilter()) == []


# --- list and filters ----------------------------------------------------------------------


@pytest.fixture
def filled(store: SQLiteHistoryStore) -> SQLiteHistoryStore:
    records = [
        rec("a", 0, workflow_name="build", status="completed"),
        rec("b", 1, workflow_name="build", status="failed"),
        rec("c", 2, workflow_name="deploy", status="completed"),
        rec("d", 3, workflow_name="deploy", status="cancelled"),
        rec("e", 4, workflow_name="build", status="completed"),
        rec("f", 5, workflow_name="test", status="success"),
        rec("g", 5, workflow_name="build", status="failed"),  # same time as f: id breaks the tie
    ]
    for record in records:
        store.record(record)
    return store


@pytest.mark.parametrize(
    ("history_filter", "expected"),
    [
        (HistoryFilter(), ["g", "f", "e", "d", "c", "b", "a"]),
        (HistoryFilter(workflow_name="build"), ["g", "e", "b", "a"]),
        (HistoryFilter(status="failed"), ["g", "b"]),
        (HistoryFilter(status="complete"), []),
        (HistoryFilter(workflow_name="build", status="completed"), ["e", "a"]),
        (HistoryFilter(since=BASE + timedelta(minutes=4)), ["g", "f", "e"]),
        (HistoryFilter(until=BASE + timedelta(minutes=1)), ["b", "a"]),
        (
            HistoryFilter(since=BASE + timedelta(minutes=1), until=BASE + timedelta(minutes=3)),
            ["d", "c", "b"],
        ),
        (
            HistoryFilter(
                workflow_name="build",
                status="failed",
                since=BASE + timedelta(minutes=1),
                until=BASE + timedelta(minutes=5),
            ),
            ["g", "b"],
        ),
        (HistoryFilter(since=BASE + timedelta(minutes=5, microseconds=1)), []),
        (HistoryFilter(limit=3), ["g", "f", "e"]),
        (HistoryFilter(workflow_name="build", limit=1), ["g"]),
    ],
)
def test_list_filters(
    filled: SQLiteHistoryStore, history_filter: HistoryFilter, expected: list[str]
) -> None:
    assert ids(filled.list(history_filter)) == expected


def test_bounds_are_inclusive_to_the_nanosecond(store: SQLiteHistoryStore) -> None:
    moment = Timestamp(2024, 5, 1, 12, 0, tzinfo=UTC, nanosecond=500)
    store.record(rec("r1", completed_at=moment))
    assert ids(store.list(HistoryFilter(since=moment, until=moment))) == ["r1"]
    later = Timestamp(2024, 5, 1, 12, 0, tzinfo=UTC, nanosecond=501)
    earlier = Timestamp(2024, 5, 1, 12, 0, tzinfo=UTC, nanosecond=499)
    assert store.list(HistoryFilter(since=later)) == []
    assert store.list(HistoryFilter(until=earlier)) == []


def test_list_returns_20_by_default(store: SQLiteHistoryStore, db_path: Path) -> None:
    bulk_insert(db_path, [rec(f"r{i:02d}", i) for i in range(25)])
    assert ids(store.list(HistoryFilter())) == [f"r{i:02d}" for i in range(24, 4, -1)]
    assert len(store.list(HistoryFilter(limit=25))) == 25
    assert len(store.list(HistoryFilter(limit=100))) == 25


@pytest.mark.parametrize(
    "history_filter",
    [
        HistoryFilter(limit=-1),
        HistoryFilter(since=datetime(2024, 1, 1)),  # noqa: DTZ001 (naive on purpose)
        HistoryFilter(until=datetime(2024, 1, 1)),  # noqa: DTZ001 (naive on purpose)
        HistoryFilter(workflow_name=3),  # type: ignore[arg-type]
        "not a filter",
    ],
)
def test_invalid_filters_are_rejected(filled: SQLiteHistoryStore, history_filter: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        filled.list(history_filter)
    with pytest.raises(InvalidArgumentError):
        filled.list_page(history_filter)
    with pytest.raises(InvalidArgumentError):
        filled.get_stats(history_filter)


# --- stats ---------------------------------------------------------------------------------


def test_stats_count_by_status_and_ignore_the_limit(store: SQLiteHistoryStore) -> None:
    durations = {"completed": [10, 20], "success": [5], "failed": [4], "cancelled": [2]}
    records = [
        rec(f"{status}-{i}", i, status=status, duration_ms=duration)
        for status, values in durations.items()
        for i, duration in enumerate(values)
    ]
    records.append(rec("running-0", 9, status="running", duration_ms=0))
    for record in records:
        store.record(record)
    stats = store.get_stats(HistoryFilter(limit=1))
    assert stats.total_executions == 6
    assert stats.success_count == 3
    assert stats.failed_count == 1
    assert stats.cancelled_count == 1
    assert stats.avg_duration_ms == 41 // 6  # 6.83 truncated


def test_stats_follow_the_filter(filled: SQLiteHistoryStore) -> None:
    stats = filled.get_stats(
        HistoryFilter(workflow_name="build", since=BASE + timedelta(minutes=1))
    )
    assert (stats.total_executions, stats.success_count, stats.failed_count) == (3, 1, 2)
    assert filled.get_stats(HistoryFilter(status="cancelled")).cancelled_count == 1


def test_stats_of_nothing_are_zero(store: SQLiteHistoryStore) -> None:
    stats = store.get_stats(HistoryFilter())
    assert stats.total_executions == stats.avg_duration_ms == stats.success_count == 0


def test_average_is_the_mean_truncated(store: SQLiteHistoryStore) -> None:
    store.record(rec("a", duration_ms=1))
    store.record(rec("b", duration_ms=2))
    assert store.get_stats(HistoryFilter()).avg_duration_ms == 1


def test_average_is_exact_where_a_float_is_not(store: SQLiteHistoryStore) -> None:
    store.record(rec("a", duration_ms=2**53 + 1))
    store.record(rec("b", duration_ms=2**53 + 2))
    # (2**54 + 3) / 2 in floats rounds to 2**53 + 2.
    assert int(float(2**54 + 3) / 2) == 2**53 + 2
    assert store.get_stats(HistoryFilter()).avg_duration_ms == 2**53 + 1


def test_average_does_not_overflow(store: SQLiteHistoryStore) -> None:
    biggest = 2**63 - 1
    for name in "abc":
        store.record(rec(name, duration_ms=biggest))
    store.record(rec("d", duration_ms=biggest - 4))
    stats = store.get_stats(HistoryFilter())
    assert stats.total_executions == 4
    assert stats.avg_duration_ms == biggest - 1


# --- cleanup -------------------------------------------------------------------------------


def test_cleanup_deletes_strictly_older_records(db_path: Path) -> None:
    now = Timestamp(2024, 5, 10, 0, 0, tzinfo=UTC, nanosecond=500)
    cutoff = Timestamp(2024, 5, 9, 0, 0, tzinfo=UTC, nanosecond=500)
    with SQLiteHistoryStore(db_path, clock=lambda: now) as store:
        store.record(rec("old", completed_at=datetime(2024, 1, 1, tzinfo=UTC)))
        store.record(
            rec("just-older", completed_at=Timestamp(2024, 5, 9, tzinfo=UTC, nanosecond=499))
        )
        store.record(rec("at-cutoff", completed_at=cutoff))
        store.record(rec("newer", completed_at=now))
        assert store.cleanup(timedelta(days=1)) == 2
        assert ids(store.list(HistoryFilter())) == ["newer", "at-cutoff"]
        assert store.cleanup(timedelta(days=1)) == 0
        assert store.cleanup(timedelta(0)) == 1
        assert ids(store.list(HistoryFilter())) == ["newer"]


@pytest.mark.parametrize(
    "older_than", [timedelta(microseconds=-1), timedelta(days=-30), timedelta.max]
)
def test_cleanup_with_negative_or_huge_durations_deletes_nothing(
    db_path: Path, older_than: timedelta
) -> None:
    with SQLiteHistoryStore(db_path, clock=lambda: BASE) as store:
        store.record(rec("y1", completed_at=Timestamp(1, 1, 1, tzinfo=UTC, nanosecond=1)))
        store.record(rec("now", completed_at=BASE))
        store.record(rec("future", completed_at=BASE + timedelta(days=1)))
        assert store.cleanup(older_than) == 0
        assert len(store.list(HistoryFilter())) == 3


def test_cleanup_rejects_a_non_duration(store: SQLiteHistoryStore) -> None:
    with pytest.raises(InvalidArgumentError):
        store.cleanup(30)  # type: ignore[arg-type]


# --- query plans ---------------------------------------------------------------------------

SHAPES = {  # filter shape -> (filter, the index its queries must use)
    "none": (HistoryFilter(), "executions_by_time"),
    "name": (HistoryFilter(workflow_name="build"), "executions_by_name"),
    "status": (HistoryFilter(status="failed"), "executions_by_status"),
    "name+status": (
        HistoryFilter(workflow_name="build", status="failed"),
        "executions_by_name_status",
    ),
    "since": (HistoryFilter(since=BASE), "executions_by_time"),
    "until": (HistoryFilter(until=BASE), "executions_by_time"),
    "since+until": (
        HistoryFilter(since=BASE, until=BASE + timedelta(days=1)),
        "executions_by_time",
    ),
    "name+since": (HistoryFilter(workflow_name="build", since=BASE), "executions_by_name"),
    "status+until": (HistoryFilter(status="failed", until=BASE), "executions_by_status"),
    "all": (
        HistoryFilter(workflow_name="b", status="failed", since=BASE, until=BASE),
        "executions_by_name_status",
    ),
}
AFTER = (format_time(BASE), "some-id")


def plan(db_path: Path, sql: str, params: list[object]) -> list[str]:
    with raw(db_path) as conn:
        return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def assert_indexed(details: list[str], index: str, *, search: bool) -> None:
    assert len(details) == 1, details  # one step: no temporary B-tree for ORDER BY
    (detail,) = details
    assert "TEMP B-TREE" not in detail
    assert f"INDEX {index}" in detail, detail
    if search:
        assert detail.startswith("SEARCH executions USING"), detail


@pytest.mark.parametrize("shape", SHAPES)
def test_every_list_shape_uses_an_index_in_order(
    store: SQLiteHistoryStore, db_path: Path, shape: str
) -> None:
    assert store is not None
    history_filter, index = SHAPES[shape]
    first = plan(db_path, *list_query(history_filter, limit=20))
    assert_indexed(first, index, search=shape != "none")
    if shape == "none":  # walks the time index backwards and stops at the limit
        assert first == ["SCAN executions USING INDEX executions_by_time"]
    following = plan(db_path, *list_query(history_filter, limit=20, after=AFTER))
    assert_indexed(following, index, search=True)
    assert "(completed_at,id)<(?,?)" in following[0]  # seeks to the position


@pytest.mark.parametrize("grouped", [False, True], ids=["total", "grouped"])
@pytest.mark.parametrize("shape", SHAPES)
def test_every_stats_shape_uses_a_covering_index(
    store: SQLiteHistoryStore, db_path: Path, shape: str, grouped: bool
) -> None:
    assert store is not None
    history_filter, index = SHAPES[shape]
    details = plan(db_path, *stats_query(history_filter, grouped=grouped))
    # The matching entries of the filter's index, then (unless the index is in that order
    # already) one sort of them by key and status. The index covers the query, except for the
    # workflow name of a breakdown when the filter names none (a table read per row: a
    # covering index measured under 10 % faster, not worth a migration; docs/performance.md).
    assert_indexed(details[:1], index, search=shape != "none")
    needs_name = grouped and "name" not in index
    assert ("COVERING INDEX" in details[0]) != needs_name
    assert details[1:] in ([], ["USE TEMP B-TREE FOR GROUP BY"])


def test_the_plans_name_the_expected_indexes(store: SQLiteHistoryStore, db_path: Path) -> None:
    assert store is not None
    name_since = plan(db_path, *stats_query(SHAPES["name+since"][0]))
    assert name_since == [
        (
            "SEARCH executions USING COVERING INDEX executions_by_name "
            "(workflow_name=? AND completed_at>?)"
        ),
        "USE TEMP B-TREE FOR GROUP BY",
    ]
    both = plan(db_path, *list_query(SHAPES["name+status"][0], limit=5))
    assert both == [
        "SEARCH executions USING INDEX executions_by_name_status (workflow_name=? AND status=?)"
    ]


def test_list_query_rows_match_what_the_store_returns(filled: SQLiteHistoryStore) -> None:
    conn = filled._db._conn
    assert conn is not None
    sql, params = list_query(HistoryFilter(workflow_name="build"), limit=2)
    assert [row[0] for row in conn.execute(sql, params)] == ["g", "e"]


# --- pages ---------------------------------------------------------------------------------


def all_pages(
    store: SQLiteHistoryStore, history_filter: HistoryFilter, page_size: int
) -> list[list[ExecutionRecord]]:
    pages: list[list[ExecutionRecord]] = []
    token = ""
    while True:
        page = store.list_page(history_filter, page_size, token)
        pages.append(page.items)
        token = page.next_page_token
        if not token:
            return pages
        assert len(pages) < 1000, "paging does not end"


@pytest.fixture
def many(store: SQLiteHistoryStore, db_path: Path) -> SQLiteHistoryStore:
    """250 records, in groups of 5 sharing a completed_at, over two workflow names."""
    bulk_insert(
        db_path,
        [
            rec(
                f"r{i:03d}",
                i // 5,
                workflow_name="even" if i % 2 == 0 else "odd",
                status="failed" if i % 3 == 0 else "completed",
            )
            for i in range(250)
        ],
    )
    return store


@pytest.mark.parametrize("page_size", [1, 7, 50, 0])
def test_pages_concatenate_to_the_list(many: SQLiteHistoryStore, page_size: int) -> None:
    history_filter = HistoryFilter(limit=1000)
    pages = all_pages(many, history_filter, page_size)
    flat = [record for page in pages for record in page]
    assert flat == many.list(history_filter)
    assert len(flat) == 250
    assert len({record.id for record in flat}) == 250
    expected_size = page_size or 100
    assert all(len(page) == expected_size for page in pages[:-1])
    assert 0 < len(pages[-1]) <= expected_size  # no empty last page


def test_filtered_pages_concatenate_to_the_filtered_list(many: SQLiteHistoryStore) -> None:
    history_filter = HistoryFilter(
        workflow_name="odd",
        status="completed",
        since=BASE + timedelta(minutes=5),
        until=BASE + timedelta(minutes=40),
        limit=500,
    )
    flat = [r for page in all_pages(many, history_filter, 4) for r in page]
    assert flat == many.list(history_filter)
    assert len(flat) > 20


def test_a_deep_page_resumes_at_its_position(many: SQLiteHistoryStore) -> None:
    history_filter = HistoryFilter(limit=1000)
    token = ""
    for _ in range(40):
        token = many.list_page(history_filter, 5, token).next_page_token
    page = many.list_page(history_filter, 5, token)
    assert ids(page.items) == [f"r{i:03d}" for i in range(49, 44, -1)]


def test_pages_do_not_repeat_when_newer_records_arrive(filled: SQLiteHistoryStore) -> None:
    first = filled.list_page(HistoryFilter(), 3)
    filled.record(rec("z", 60))
    second = filled.list_page(HistoryFilter(), 3, first.next_page_token)
    assert ids(first.items) == ["g", "f", "e"]
    assert ids(second.items) == ["d", "c", "b"]


def test_the_filter_limit_caps_all_pages(filled: SQLiteHistoryStore) -> None:
    pages = all_pages(filled, HistoryFilter(limit=5), 2)
    assert [ids(page) for page in pages] == [["g", "f"], ["e", "d"], ["c"]]
    default = all_pages(filled, HistoryFilter(), 4)
    assert [len(page) for page in default] == [4, 3]


def test_the_default_limit_caps_pages_at_20(many: SQLiteHistoryStore) -> None:
    pages = all_pages(many, HistoryFilter(), 0)
    assert [len(page) for page in pages] == [20]
    assert [len(page) for page in all_pages(many, HistoryFilter(), 6)] == [6, 6, 6, 2]


def test_page_size_is_capped_at_1000(store: SQLiteHistoryStore, db_path: Path) -> None:
    bulk_insert(db_path, [rec(f"r{i:04d}", i) for i in range(1005)])
    page = store.list_page(HistoryFilter(limit=5000), 5000)
    assert len(page.items) == 1000
    assert page.next_page_token
    rest = store.list_page(HistoryFilter(limit=5000), 5000, page.next_page_token)
    assert ids(rest.items) == [f"r{i:04d}" for i in range(4, -1, -1)]
    assert rest.next_page_token == ""


def test_the_page_size_may_change_between_pages(filled: SQLiteHistoryStore) -> None:
    first = filled.list_page(HistoryFilter(), 2)
    second = filled.list_page(HistoryFilter(), 10, first.next_page_token)
    assert ids(first.items + second.items) == ["g", "f", "e", "d", "c", "b", "a"]
    assert second.next_page_token == ""


@pytest.mark.parametrize(
    "other",
    [
        HistoryFilter(workflow_name="build"),
        HistoryFilter(status="failed"),
        HistoryFilter(since=BASE),
        HistoryFilter(until=BASE + timedelta(hours=1)),
        HistoryFilter(limit=21),
    ],
)
def test_a_token_for_another_filter_is_rejected(
    filled: SQLiteHistoryStore, other: HistoryFilter
) -> None:
    token = filled.list_page(HistoryFilter(), 2).next_page_token
    with pytest.raises(InvalidArgumentError, match="page_token"):
        filled.list_page(other, 2, token)


def test_equivalent_filters_share_tokens(filled: SQLiteHistoryStore) -> None:
    token = filled.list_page(HistoryFilter(since=BASE), 2).next_page_token
    same = HistoryFilter(since=BASE.astimezone(timezone(timedelta(hours=5))), limit=20)
    assert ids(filled.list_page(same, 2, token).items) == ["e", "d"]


def retoken(token: str, **position: object) -> str:
    """``token`` with its position fields replaced (its filter binding kept)."""
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    payload["p"].update(position)
    raw_json = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw_json).decode().rstrip("=")


def test_a_retokened_token_still_works(filled: SQLiteHistoryStore) -> None:
    token = filled.list_page(HistoryFilter(), 2).next_page_token
    assert ids(filled.list_page(HistoryFilter(), 2, retoken(token)).items) == ["e", "d"]


@pytest.mark.parametrize(
    "position",
    [
        {"c": 5},
        {"c": None},
        {"c": "2024-05-01 12:00:00"},
        {"c": "2024-13-01T12:00:00.000000000Z"},
        {"i": 7},
        {"i": None},
        {"n": "2"},
        {"n": True},
        {"n": 0},
        {"n": -1},
        {"n": 20},
        {"n": 2.0},
    ],
)
def test_a_token_with_a_malformed_position_is_rejected(
    filled: SQLiteHistoryStore, position: dict[str, object]
) -> None:
    token = filled.list_page(HistoryFilter(), 2).next_page_token
    with pytest.raises(InvalidArgumentError, match="page_token"):
        filled.list_page(HistoryFilter(), 2, retoken(token, **position))


def test_a_token_outside_the_filter_range_is_rejected(filled: SQLiteHistoryStore) -> None:
    history_filter = HistoryFilter(until=BASE + timedelta(minutes=4))
    token = filled.list_page(history_filter, 2).next_page_token
    beyond = retoken(token, c=format_time(BASE + timedelta(minutes=5)))
    with pytest.raises(InvalidArgumentError, match="page_token"):
        filled.list_page(history_filter, 2, beyond)


@pytest.mark.parametrize(
    "token",
    ["garbage", "!!!", "e30", base64.urlsafe_b64encode(b"[1, 2]").decode(), "eyJ2IjoxfQ"],
)
def test_a_garbage_token_is_rejected(filled: SQLiteHistoryStore, token: str) -> None:
    with pytest.raises(InvalidArgumentError, match="page_token"):
        filled.list_page(HistoryFilter(), 2, token)


@pytest.mark.parametrize(("page_size", "token"), [(-1, ""), (True, ""), (2, 5), (2, None)])
def test_bad_page_arguments_are_rejected(
    filled: SQLiteHistoryStore, page_size: Any, token: Any
) -> None:
    with pytest.raises(InvalidArgumentError):
        filled.list_page(HistoryFilter(), page_size, token)


def test_an_empty_history_has_one_empty_page(store: SQLiteHistoryStore) -> None:
    page = store.list_page(HistoryFilter())
    assert page.items == []
    assert page.next_page_token == ""


# --- close ---------------------------------------------------------------------------------


def test_close_is_idempotent_and_later_calls_fail(db_path: Path) -> None:
    store = SQLiteHistoryStore(db_path)
    store.record(rec("r1"))
    store.close()
    store.close()
    calls: list[Callable[[], object]] = [
        lambda: store.record(rec("r2")),
        lambda: store.list(HistoryFilter()),
        lambda: store.list_page(HistoryFilter()),
        lambda: store.get_stats(HistoryFilter()),
        lambda: store.cleanup(timedelta(days=1)),
        lambda: store.cleanup(timedelta(days=-1)),
        lambda: store.list(HistoryFilter(limit=-1)),
    ]
    for call in calls:
        with pytest.raises(StoreClosedError):
            call()


def test_close_waits_for_calls_in_other_threads(db_path: Path) -> None:
    store = SQLiteHistoryStore(db_path)
    errors: list[BaseException] = []
    done = 0

    def work() -> None:
        nonlocal done
        try:
            for i in range(200):
                store.list(HistoryFilter(limit=i % 5))
                done += 1
        except StoreClosedError:
            pass
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    store.close()
    for thread in threads:
        thread.join()
    assert errors == []


# --- concurrency ---------------------------------------------------------------------------


def test_threads_recording_concurrently_lose_nothing(store: SQLiteHistoryStore) -> None:
    errors: list[BaseException] = []

    def work(thread_id: int) -> None:
        try:
            for i in range(30):
                store.record(rec(f"t{thread_id}-{i}", i))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.get_stats(HistoryFilter()).total_executions == 240


def test_two_stores_on_one_file_lose_nothing(db_path: Path) -> None:
    errors: list[BaseException] = []
    with SQLiteHistoryStore(db_path) as first, SQLiteHistoryStore(db_path) as second:

        def work(store: SQLiteHistoryStore, prefix: str) -> None:
            try:
                for i in range(50):
                    store.record(rec(f"{prefix}{i}", i))
                    store.list(HistoryFilter(limit=3))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [
            threading.Thread(target=work, args=(store, prefix))
            for store, prefix in [(first, "a"), (second, "b"), (first, "c"), (second, "d")]
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert first.get_stats(HistoryFilter()).total_executions == 200
        assert second.get_stats(HistoryFilter()).total_executions == 200


CHILD = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from wfstore.domain import ExecutionRecord
    from wfstored.storage.sqlite.history_store import SQLiteHistoryStore

    with SQLiteHistoryStore(sys.argv[1]) as store:
        print("ready", flush=True)
        sys.stdin.readline()
        base = datetime(2024, 5, 1, tzinfo=UTC)
        for i in range(100):
            store.record(ExecutionRecord(
                id=f"child-{i}", workflow_name="child", status="completed",
                completed_at=base + timedelta(seconds=i),
            ))
    print("done", flush=True)
    """
)


def test_another_process_recording_concurrently_loses_nothing(db_path: Path) -> None:
    with SQLiteHistoryStore(db_path) as store:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdin is not None
            assert child.stdout.readline().strip() == "ready"
            child.stdin.write("go\n")
            child.stdin.flush()
            for i in range(100):
                store.record(rec(f"parent-{i}", i))
            out, _ = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
        assert child.returncode == 0
        assert out.strip() == "done"
        assert store.get_stats(HistoryFilter()).total_executions == 200
        assert len(store.list(HistoryFilter(workflow_name="child", limit=1000))) == 100


def test_a_lock_held_too_long_is_unavailable_and_reads_still_work(
    store: SQLiteHistoryStore, db_path: Path
) -> None:
    store.record(rec("r1"))
    conn = store._db._conn
    assert conn is not None
    conn.execute("PRAGMA busy_timeout = 50")  # the real 5 s would slow the suite down
    with raw(db_path) as other:
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(UnavailableError, match="locked"):
                store.record(rec("r2"))
            with pytest.raises(UnavailableError, match="locked"):
                store.cleanup(timedelta(0))
            assert ids(store.list(HistoryFilter())) == ["r1"]  # WAL: readers do not wait
        finally:
            other.execute("ROLLBACK")
    store.record(rec("r2"))
    assert ids(store.list(HistoryFilter())) == ["r2", "r1"]


def test_a_writer_left_inside_a_transaction_is_replaced(store: SQLiteHistoryStore) -> None:
    store.record(rec("a"))
    writer = store._db._conn  # left inside a transaction, as a failed rollback would leave it
    assert writer is not None
    writer.execute("BEGIN")
    with pytest.raises(DataCorruptedError, match="within a transaction"):
        store.record(rec("b"))
    store.record(rec("b"))  # a fresh connection: the store did not stay broken
    assert ids(store.list(HistoryFilter())) == ["b", "a"]

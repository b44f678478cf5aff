"""How a time range is split: raw rows only at partial edge hours, hours, then whole days."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wfstore import HistoryFilter
from wfstore.timestamps import from_unix_nanos, to_unix_nanos
from wfstored import SQLiteHistoryStore
from wfstored.storage.shared.history_queries import index_for
from wfstored.storage.shared.history_rollups import (
    DAILY,
    HOURLY,
    Part,
    plan_parts,
    rollup_stats_statement,
)
from wfstored.storage.shared.history_schema import TABLE

DAY = datetime(2025, 6, 2, tzinfo=UTC)
NS = 1


def _nanos_later(moment: datetime, nanos: int) -> datetime:
    return from_unix_nanos(to_unix_nanos(moment) + nanos)


def test_no_range_reads_day_rows_only() -> None:
    assert plan_parts(None, None) == [Part(DAILY, None, None)]


def test_a_week_inside_hours_reads_two_raw_edges_hours_and_days() -> None:
    since = DAY + timedelta(hours=5, minutes=30)
    until = DAY + timedelta(days=7, hours=2, minutes=1)
    assert plan_parts(since, until) == [
        Part(TABLE, "2025-06-02T05:30:00.000000000Z", "2025-06-02T05:59:59.999999999Z"),
        Part(TABLE, "2025-06-09T02:00:00.000000000Z", "2025-06-09T02:01:00.000000000Z"),
        Part(HOURLY, "2025-06-02T06", "2025-06-02T23"),
        Part(HOURLY, "2025-06-09T00", "2025-06-09T01"),
        Part(DAILY, "2025-06-03", "2025-06-08"),
    ]


def test_exact_boundaries_need_no_raw_rows() -> None:
    until = _nanos_later(DAY + timedelta(days=2), -NS)  # the last nanosecond of a day
    assert plan_parts(DAY, until) == [Part(DAILY, "2025-06-02", "2025-06-03")]
    hours = plan_parts(DAY + timedelta(hours=3), _nanos_later(DAY + timedelta(hours=5), -NS))
    assert hours == [Part(HOURLY, "2025-06-02T03", "2025-06-02T04")]


def test_within_one_or_two_partial_hours_reads_raw_rows_only() -> None:
    since = DAY + timedelta(hours=3, minutes=10)
    assert plan_parts(since, since + timedelta(minutes=70)) == [
        Part(TABLE, "2025-06-02T03:10:00.000000000Z", "2025-06-02T04:20:00.000000000Z")
    ]
    assert plan_parts(since, since) == [
        Part(TABLE, "2025-06-02T03:10:00.000000000Z", "2025-06-02T03:10:00.000000000Z")
    ]


def test_until_before_since_is_empty() -> None:
    assert plan_parts(DAY, _nanos_later(DAY, -NS)) == []


def test_open_ends_reach_the_first_and_last_representable_days() -> None:
    assert plan_parts(DAY + timedelta(hours=23), None) == [
        Part(HOURLY, "2025-06-02T23", "2025-06-02T23"),
        Part(DAILY, "2025-06-03", "9999-12-31"),
    ]
    assert plan_parts(None, DAY) == [
        Part(TABLE, "2025-06-02T00:00:00.000000000Z", "2025-06-02T00:00:00.000000000Z"),
        Part(DAILY, "0001-01-01", "2025-06-01"),
    ]
    last = datetime(9999, 12, 31, 23, 30, tzinfo=UTC)
    assert plan_parts(last, None) == [Part(TABLE, "9999-12-31T23:30:00.000000000Z", None)]


def test_sqlite_reads_no_table_whole_for_a_named_range(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    SQLiteHistoryStore(path).close()
    since = DAY - timedelta(days=7, minutes=3)
    shapes = [
        HistoryFilter(workflow_name="deploy", since=since),
        HistoryFilter(workflow_name="deploy", status="failed", since=since, until=DAY),
        HistoryFilter(workflow_name="deploy"),
        HistoryFilter(since=since),
    ]
    with closing(sqlite3.connect(path)) as conn:
        for shape in shapes:
            statement = rollup_stats_statement(shape, raw_hint=f" INDEXED BY {index_for(shape)}")
            assert statement is not None
            plan = [
                row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement[0]}", statement[1])
            ]
            assert not [step for step in plan if step.startswith("SCAN")], (shape, plan)

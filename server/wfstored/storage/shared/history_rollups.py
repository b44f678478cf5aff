"""History roll-ups: runs, duration sums and bounds per workflow name, status, day and hour.

Two tables hold, per ``(workflow_name, bucket, status)``, how many records there are (``runs``),
the sums of the high and low 32 bits of their durations (two sums that cannot overflow), and
their smallest and largest duration. The bucket is the leading text of ``completed_at``: its
day ``YYYY-MM-DD`` in :data:`DAILY`, its hour ``YYYY-MM-DDTHH`` in :data:`HOURLY`. Triggers,
which each backend writes in its own dialect, keep them equal to the rows in the writer's
own transaction, whoever writes (daemon, embedded program, ``sqlite3`` or ``psql``).

Statistics read them (:func:`rollup_stats_statement`): whole days from day rows, whole hours
at the edges from hour rows, and raw rows only for the two partial hours at ``since`` and
``until`` (inclusive bounds), so their cost does not grow with the number of records matched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from wfstore.domain import HistoryFilter
from wfstore.timestamps import to_unix_nanos

from wfstored.storage.shared.history_schema import TABLE, ColumnKind
from wfstored.storage.shared.history_stats import (
    DURATION_LOW_BITS,
    DURATION_LOW_MASK,
    StatsCollector,
)
from wfstored.storage.shared.record_rows import Row
from wfstored.storage.shared.time_text import format_time

__all__ = [
    "BUCKET_LENGTH",
    "DAILY",
    "HOURLY",
    "ROLLUPS",
    "ROLLUP_COLUMNS",
    "Part",
    "backfill_statements",
    "collect_rollup_stats",
    "plan_parts",
    "rollup_create_statements",
    "rollup_stats_statement",
    "scan_statement",
]

DAILY: Final = "executions_daily"
"""The roll-up per workflow name, status and day (bucket ``YYYY-MM-DD``)."""
HOURLY: Final = "executions_hourly"
"""The roll-up per workflow name, status and hour (bucket ``YYYY-MM-DDTHH``)."""
ROLLUPS: Final = (HOURLY, DAILY)
"""Both roll-ups, the finer first (day rows are maintained from hour rows)."""
BUCKET_LENGTH: Final = {DAILY: 10, HOURLY: 13}
"""How many leading characters of ``completed_at`` name a roll-up's bucket."""
ROLLUP_COLUMNS: Final = (
    "workflow_name",
    "bucket",
    "status",
    "runs",
    "sum_high",
    "sum_low",
    "min_ms",
    "max_ms",
)
"""The columns of a roll-up; the key is the first three."""
_KEY: Final = "workflow_name, bucket, status"
_HOUR_NANOS: Final = 3600 * 1_000_000_000
_FIRST_NANOS: Final = to_unix_nanos(datetime(1, 1, 1, tzinfo=UTC))
_LAST_NANOS: Final = to_unix_nanos(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)) + 999_999_999
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def rollup_create_statements(
    types: Mapping[ColumnKind, str], *, table_suffix: str = ""
) -> tuple[str, ...]:
    """Return the DDL of both roll-ups and their bucket indexes (``IF NOT EXISTS``).

    ``table_suffix`` follows each table's definition (SQLite's ``WITHOUT ROWID``).
    """
    text, count = types["text"], types["int64"]
    statements: list[str] = []
    for table in ROLLUPS:
        columns = ", ".join(
            f"{name} {text if n < 3 else count} NOT NULL" for n, name in enumerate(ROLLUP_COLUMNS)
        )
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {table} ({columns}, PRIMARY KEY ({_KEY})){table_suffix}"
        )
        statements.append(f"CREATE INDEX IF NOT EXISTS {table}_by_bucket ON {table} (bucket)")
    return tuple(statements)


def scan_statement(table: str) -> str:
    """Return the SELECT computing a roll-up's rows from the history table (a full scan)."""
    length = BUCKET_LENGTH[table]
    return (
        f"SELECT workflow_name, substr(completed_at, 1, {length}), status, count(*),"  # noqa: S608 (constants)
        f" sum(duration_ms >> {DURATION_LOW_BITS}), sum(duration_ms & {DURATION_LOW_MASK}),"
        f" min(duration_ms), max(duration_ms) FROM {TABLE} GROUP BY 1, 2, 3"
    )


def backfill_statements() -> tuple[str, ...]:
    """Return the statements that rebuild both roll-ups from the rows (run in one transaction)."""
    columns = ", ".join(ROLLUP_COLUMNS)
    return (
        f"DELETE FROM {HOURLY}",  # noqa: S608 (constants)
        f"DELETE FROM {DAILY}",  # noqa: S608 (constants)
        f"INSERT INTO {HOURLY} ({columns}) {scan_statement(HOURLY)}",
        (
            f"INSERT INTO {DAILY} ({columns}) SELECT workflow_name, substr(bucket, 1, 10),"  # noqa: S608 (constants)
            " status, sum(runs), sum(sum_high), sum(sum_low), min(min_ms), max(max_ms)"
            f" FROM {HOURLY} GROUP BY 1, 2, 3"
        ),
    )


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of a time range: a table and inclusive bounds (None: unbounded).

    For a roll-up the bounds are buckets; for the history table, ``completed_at`` texts.
    """

    table: str
    low: str | None
    high: str | None


def _hour_text(hour: int) -> str:
    """Return the bucket text of an hour counted from the Unix epoch."""
    return format_time(_EPOCH + timedelta(hours=hour))[:13]


def plan_parts(since: datetime | None, until: datetime | None) -> list[Part]:
    """Split ``[since, until]`` into raw edges, whole hours and whole days; [] if empty."""
    if since is None and until is None:
        return [Part(DAILY, None, None)]
    low = _FIRST_NANOS if since is None else to_unix_nanos(since)
    high = _LAST_NANOS if until is None else to_unix_nanos(until)
    if high < low:
        return []
    low_text = None if since is None else format_time(since)
    high_text = None if until is None else format_time(until)
    # The whole hours in the range, [first, last], counted from the epoch.
    first = -(-low // _HOUR_NANOS)
    last = (high + 1) // _HOUR_NANOS - 1
    if first > last:
        return [Part(TABLE, low_text, high_text)]
    parts: list[Part] = []
    if low_text is not None and low != first * _HOUR_NANOS:
        parts.append(Part(TABLE, low_text, f"{low_text[:13]}:59:59.999999999Z"))
    if high_text is not None and high != (last + 1) * _HOUR_NANOS - 1:
        parts.append(Part(TABLE, f"{high_text[:13]}:00:00.000000000Z", high_text))
    # The whole days within the whole hours, [first_day, last_day].
    first_day = -(-first // 24)
    last_day = (last + 1) // 24 - 1
    if first_day > last_day:
        parts.append(Part(HOURLY, _hour_text(first), _hour_text(last)))
        return parts
    if first < first_day * 24:
        parts.append(Part(HOURLY, _hour_text(first), _hour_text(first_day * 24 - 1)))
    if last > last_day * 24 + 23:
        parts.append(Part(HOURLY, _hour_text(last_day * 24 + 24), _hour_text(last)))
    parts.append(Part(DAILY, _hour_text(first_day * 24)[:10], _hour_text(last_day * 24)[:10]))
    return parts


def rollup_stats_statement(
    history_filter: HistoryFilter,
    *,
    grouped: bool = False,
    placeholder: str = "?",
    raw_hint: str = "",
) -> tuple[str, list[object]] | None:
    """Return the SQL and parameters of a filter's aggregates from the roll-ups; None if empty.

    Rows ``(key, status, runs, sum of high bits, sum of low bits, smallest, largest)``, several
    per key and status (one per part), which :func:`collect_rollup_stats` adds up. The key is
    the workflow name if ``grouped``, else NULL. ``raw_hint`` follows the history table's name
    in the edge scans (SQLite's ``INDEXED BY``).
    """
    parts = plan_parts(history_filter.since, history_filter.until)
    if not parts:
        return None
    key = "workflow_name" if grouped else "NULL"
    selects: list[str] = []
    params: list[object] = []
    for part in parts:
        clauses: list[str] = []
        if history_filter.workflow_name:
            clauses.append(f"workflow_name = {placeholder}")
            params.append(history_filter.workflow_name)
        if history_filter.status:
            clauses.append(f"status = {placeholder}")
            params.append(history_filter.status)
        column = "completed_at" if part.table == TABLE else "bucket"
        if part.low is not None:
            clauses.append(f"{column} >= {placeholder}")
            params.append(part.low)
        if part.high is not None:
            clauses.append(f"{column} <= {placeholder}")
            params.append(part.high)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        if part.table == TABLE:
            figures = (
                f"count(*), sum(duration_ms >> {DURATION_LOW_BITS}),"
                f" sum(duration_ms & {DURATION_LOW_MASK}), min(duration_ms), max(duration_ms)"
            )
            source = f"{TABLE}{raw_hint}"
        else:
            figures = "sum(runs), sum(sum_high), sum(sum_low), min(min_ms), max(max_ms)"
            source = part.table
        selects.append(
            f"SELECT {key}, status, {figures} FROM {source}{where} GROUP BY 1, 2"  # noqa: S608 (constants and placeholders only)
        )
    return " UNION ALL ".join(selects), params


def collect_rollup_stats(rows: list[Row], collector: StatsCollector) -> None:
    """Feed the rows of :func:`rollup_stats_statement` to ``collector`` (no percentiles)."""
    for key, status, runs, high, low, minimum, maximum in rows:
        collector.add_status(
            key, status, int(runs), (int(high), int(low)), (int(minimum), int(maximum))
        )

"""The history roll-ups in PostgreSQL: tables, plpgsql triggers, and the migration that adds them.

Statement-level triggers with transition tables, set-based: a statement's rows are summed per
bucket in one query and applied with one ``INSERT ... ON CONFLICT DO UPDATE`` (or ``UPDATE``)
per roll-up, so a batch of a thousand records, or a retention batch of a thousand deletions,
costs a handful of statements whatever the number of buckets.

Locks. Every writer takes the day rows it needs first, in ``(workflow_name, status, day)``
order, and only then the hour rows of those days. Whoever changes an hour row therefore holds
its day row already, so writers never wait on hour rows, only on day rows, and take those in
one order: the store sorts each group of records by name, status and time before inserting
it, so that successive statements of one transaction keep that order too. Concurrent
batches from several daemons queue on a hot day row but do not deadlock (another tool that
writes rows in another order can; PostgreSQL then aborts one of the two, and the store runs
its transaction again).

A removal makes an hour read its bounds again from its rows when it removed one of them, and
every day it touched read them from its hours.
"""

# Every statement here is built from constants only (table names, bit widths, OLD/NEW).
# ruff: noqa: S608

from __future__ import annotations

from typing import Final

from wfstored.storage.shared.history_rollups import (
    BUCKET_LENGTH,
    DAILY,
    HOURLY,
    ROLLUP_COLUMNS,
    backfill_statements,
    rollup_create_statements,
)
from wfstored.storage.shared.history_schema import TABLE, ColumnKind
from wfstored.storage.shared.history_stats import DURATION_LOW_BITS, DURATION_LOW_MASK

__all__ = ["ROLLUP_MIGRATION"]

_TYPES: Final[dict[ColumnKind, str]] = {
    "text": 'TEXT COLLATE "C"',
    "int32": "INTEGER",
    "int64": "BIGINT",
}
_COLUMNS: Final = ", ".join(ROLLUP_COLUMNS)
_KEY: Final = "t.workflow_name = g.w AND t.bucket = g.b AND t.status = g.s"


def _sums(rows: str, table: str) -> str:
    """Return the per-bucket sums of a transition table for one roll-up, in lock order."""
    return (
        f"SELECT workflow_name AS w, substr(completed_at, 1, {BUCKET_LENGTH[table]}) AS b,"
        f" status AS s, count(*) AS n, sum(duration_ms >> {DURATION_LOW_BITS})::bigint AS hi,"
        f" sum(duration_ms & {DURATION_LOW_MASK})::bigint AS lo,"
        f" min(duration_ms) AS mn, max(duration_ms) AS mx FROM {rows} GROUP BY 1, 2, 3"
    )


def _span(rows: str, table: str) -> str:
    """Bound ``t.bucket`` to the buckets of a transition table's records.

    Redundant with the key join, but it lets the planner seek the bucket index rather than
    hash-join a whole roll-up (it cannot estimate a transition table).
    """
    length = BUCKET_LENGTH[table]
    return (
        f"t.bucket >= (SELECT min(substr(completed_at, 1, {length})) FROM {rows})"
        f" AND t.bucket <= (SELECT max(substr(completed_at, 1, {length})) FROM {rows})"
    )


def _lock_days(rows: str) -> str:
    """Lock the stored day rows of a transition table's records, in lock order."""
    return (
        f"PERFORM 1 FROM {DAILY} AS t JOIN (SELECT DISTINCT workflow_name AS w,"
        f" substr(completed_at, 1, 10) AS b, status AS s FROM {rows}) AS g ON {_KEY}"
        f" WHERE {_span(rows, DAILY)}"
        " ORDER BY t.workflow_name, t.status, t.bucket FOR UPDATE OF t;"
    )


def _add(rows: str) -> str:
    """Count a transition table's records: days first, then hours, each in lock order."""
    return "".join(
        f"""
    INSERT INTO {table} AS t ({_COLUMNS})
        SELECT w, b, s, n, hi, lo, mn, mx FROM ({_sums(rows, table)}) AS g ORDER BY w, s, b
        ON CONFLICT (workflow_name, bucket, status) DO UPDATE SET runs = t.runs + excluded.runs,
        sum_high = t.sum_high + excluded.sum_high, sum_low = t.sum_low + excluded.sum_low,
        min_ms = least(t.min_ms, excluded.min_ms), max_ms = greatest(t.max_ms, excluded.max_ms);"""
        for table in (DAILY, HOURLY)
    )


_HOUR_BOUNDS: Final = (
    f"SELECT {{fn}}(e.duration_ms) FROM {TABLE} AS e"
    " WHERE e.workflow_name = g.w AND e.status = g.s"
    " AND e.completed_at >= g.b || ':00:00.000000000Z'"
    " AND e.completed_at <= g.b || ':59:59.999999999Z'"
)
_DAY_BOUNDS: Final = (
    f"SELECT {{fn}}(h.{{column}}) FROM {HOURLY} AS h"
    " WHERE h.workflow_name = g.w AND h.status = g.s"
    " AND h.bucket >= g.b || 'T00' AND h.bucket <= g.b || 'T23'"
)


def _remove(rows: str) -> str:
    """Uncount a transition table's records: lock their days, then hours, then days."""
    lowest = _HOUR_BOUNDS.format(fn="min")
    highest = _HOUR_BOUNDS.format(fn="max")
    day_lowest = _DAY_BOUNDS.format(fn="min", column="min_ms")
    day_highest = _DAY_BOUNDS.format(fn="max", column="max_ms")
    keys = {
        table: (
            f"SELECT DISTINCT workflow_name, substr(completed_at, 1, {BUCKET_LENGTH[table]}),"
            f" status FROM {rows}"
        )
        for table in (HOURLY, DAILY)
    }
    return f"""
    {_lock_days(rows)}
    UPDATE {HOURLY} AS t SET runs = t.runs - g.n, sum_high = t.sum_high - g.hi,
        sum_low = t.sum_low - g.lo,
        min_ms = CASE WHEN g.mn <= t.min_ms THEN coalesce(({lowest}), 0) ELSE t.min_ms END,
        max_ms = CASE WHEN g.mx >= t.max_ms THEN coalesce(({highest}), 0) ELSE t.max_ms END
        FROM ({_sums(rows, HOURLY)}) AS g WHERE {_KEY} AND {_span(rows, HOURLY)};
    DELETE FROM {HOURLY} AS t WHERE t.runs <= 0 AND {_span(rows, HOURLY)}
        AND (t.workflow_name, t.bucket, t.status) IN ({keys[HOURLY]});
    UPDATE {DAILY} AS t SET runs = t.runs - g.n, sum_high = t.sum_high - g.hi,
        sum_low = t.sum_low - g.lo,
        min_ms = coalesce(({day_lowest}), 0), max_ms = coalesce(({day_highest}), 0)
        FROM ({_sums(rows, DAILY)}) AS g WHERE {_KEY} AND {_span(rows, DAILY)};
    DELETE FROM {DAILY} AS t WHERE t.runs <= 0 AND {_span(rows, DAILY)}
        AND (t.workflow_name, t.bucket, t.status) IN ({keys[DAILY]});"""


def _trigger_function(name: str, body: str) -> str:
    """Return a statement-level trigger function running ``body``."""
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{body}
    RETURN NULL;
END $$"""


def _trigger(event: str, function: str, transition: str) -> tuple[str, str]:
    name = f"{TABLE}_rollup_{event.lower()}"
    return (
        f"DROP TRIGGER IF EXISTS {name} ON {TABLE}",
        (
            f"CREATE TRIGGER {name} AFTER {event} ON {TABLE} REFERENCING {transition}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        ),
    )


ROLLUP_MIGRATION: Final = (
    # Room on every page, so that most updates of a bucket row are HOT (no index entries).
    *rollup_create_statements(_TYPES, table_suffix=" WITH (fillfactor = 70)"),
    _trigger_function("wfstore_rollup_inserted", _add("new_rows")),
    _trigger_function("wfstore_rollup_deleted", _remove("old_rows")),
    # An update locks the days of both versions before it changes either.
    _trigger_function(
        "wfstore_rollup_updated",
        f"\n    {_lock_days('(SELECT * FROM old_rows UNION ALL SELECT * FROM new_rows) AS v')}"
        + _remove("old_rows")
        + _add("new_rows"),
    ),
    *_trigger("INSERT", "wfstore_rollup_inserted", "NEW TABLE AS new_rows"),
    *_trigger("DELETE", "wfstore_rollup_deleted", "OLD TABLE AS old_rows"),
    *_trigger("UPDATE", "wfstore_rollup_updated", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    *backfill_statements(),
)
"""Schema version 5: the roll-up tables, their triggers, and the roll-ups filled from the rows."""

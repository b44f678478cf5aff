"""The SQL the PostgreSQL history store runs (the planner picks the index for each shape).

:func:`list_query` and :func:`stats_query` are public so that tests can ``EXPLAIN`` exactly
what the store runs.
"""

from __future__ import annotations

from typing import Final

from wfstore.domain import HistoryFilter

from wfstored.storage.shared.history_queries import Position, listing_statement, where_clause
from wfstored.storage.shared.history_schema import SELECT_COLUMNS, TABLE, insert_statement
from wfstored.storage.shared.history_stats import (
    DURATION_LOW_BITS,
    DURATION_LOW_MASK,
    PERCENTILES,
    StatsCollector,
)
from wfstored.storage.shared.record_rows import Row

__all__ = [
    "COPY_TO_STAGING",
    "CREATE_STAGING",
    "DELETE_OLDER_BATCH",
    "INSERT_RETURNING",
    "MERGE_STAGING",
    "SELECT_BY_IDS",
    "collect_stats",
    "list_query",
    "stats_query",
]

INSERT_RETURNING: Final = insert_statement("%s") + " RETURNING id"
"""Insert one row unless its id is stored already, returning the id if it was inserted."""
STAGING: Final = "wfstore_staging"
"""A session's temporary table that large batches are copied into (the merge empties it)."""
CREATE_STAGING: Final = f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} (LIKE {TABLE})"
"""Create this session's staging table (once per connection)."""
COPY_TO_STAGING: Final = f"COPY {STAGING} ({SELECT_COLUMNS}) FROM STDIN"
"""Copy rows into the staging table."""
MERGE_STAGING: Final = (
    f"WITH staged AS (DELETE FROM {STAGING} RETURNING {SELECT_COLUMNS})"  # noqa: S608
    f" INSERT INTO {TABLE} ({SELECT_COLUMNS}) SELECT {SELECT_COLUMNS} FROM staged"
    " ON CONFLICT (id) DO NOTHING RETURNING id"
)
"""Move the staged rows into the table (emptying the staging table), skipping stored ids;
return the ids inserted."""
SELECT_BY_IDS: Final = f"SELECT {SELECT_COLUMNS} FROM {TABLE} WHERE id = ANY(%s)"  # noqa: S608
"""Read the rows stored under a list of ids."""
DELETE_OLDER_BATCH: Final = (
    f"DELETE FROM {TABLE} WHERE id IN (SELECT id FROM {TABLE}"  # noqa: S608 (constants)
    " WHERE completed_at < %s ORDER BY completed_at LIMIT %s)"
)
"""Delete at most a number of the rows completed before a time, the oldest first."""
_RANKS: Final = ", ".join(f"sorted[({p} * n + 99) / 100]" for p in PERCENTILES)


def list_query(
    history_filter: HistoryFilter, *, limit: int, after: Position | None = None
) -> tuple[str, list[object]]:
    """Return the SQL and parameters listing matching records, newest first.

    ``after`` is the stored ``(completed_at, id)`` of the last record already returned.
    """
    return listing_statement(history_filter, limit=limit, after=after, placeholder="%s")


def stats_query(
    history_filter: HistoryFilter, *, grouped: bool = False
) -> tuple[str, list[object]]:
    """Return the SQL and parameters of the aggregates over every matching record.

    One statement, so one snapshot. Rows ``('status', key, status, count, sum of the high 32
    bits of the durations, sum of their low 32 bits, smallest, largest)`` per key and status,
    and ``('rank', key, NULL, count, p50, p95, p99, NULL)`` per key. The key is the workflow
    name if ``grouped`` (plus a rank row with key NULL for the total), else NULL. Percentiles
    pick the nearest rank from the sorted array with integer arithmetic: ``percentile_disc``
    would agree (tests prove it) but computes its rank in floating point.
    """
    where, params = where_clause(history_filter, None, "%s")
    key = "workflow_name" if grouped else "NULL::text"
    ranked_by = "GROUPING SETS ((k), ())" if grouped else "k"
    sql = (
        "WITH matching AS NOT MATERIALIZED"  # noqa: S608 (constants and placeholders only)
        f" (SELECT {key} AS k, status AS s, duration_ms AS d FROM {TABLE}{where}),"
        " ranked AS (SELECT k, count(*) AS n, array_agg(d ORDER BY d) AS sorted"
        f" FROM matching GROUP BY {ranked_by})"
        " SELECT 'status', k, s, count(*),"
        f" sum(d >> {DURATION_LOW_BITS}), sum(d & {DURATION_LOW_MASK}), min(d), max(d)"
        " FROM matching GROUP BY k, s"
        f" UNION ALL SELECT 'rank', k, NULL, n, {_RANKS}, NULL FROM ranked WHERE n > 0"
    )
    return sql, params


def collect_stats(rows: list[Row], collector: StatsCollector) -> None:
    """Feed the rows of :func:`stats_query` to ``collector``."""
    for kind, key, status, count, first, second, third, fourth in rows:
        if kind == "status":
            collector.add_status(
                key, status, int(count), (int(first), int(second)), (int(third), int(fourth))
            )
        else:
            collector.set_percentiles(key, (int(first), int(second), int(third)))

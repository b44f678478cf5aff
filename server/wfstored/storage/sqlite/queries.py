"""The SQL the SQLite history store runs, each listing pinned to its index.

Every filter shape is pinned to the index built for it with ``INDEXED BY``, so the plan never
depends on statistics. :func:`list_query` and :func:`stats_query` are public so that tests can
``EXPLAIN QUERY PLAN`` exactly what the store runs.
"""

from __future__ import annotations

import json
from typing import Final

from wfstore.domain import HistoryFilter

from wfstored.storage.shared.history_queries import (
    Position,
    index_for,
    listing_statement,
    where_clause,
)
from wfstored.storage.shared.history_schema import SELECT_COLUMNS, TABLE, insert_statement
from wfstored.storage.shared.history_stats import (
    DURATION_LOW_BITS,
    DURATION_LOW_MASK,
    StatsCollector,
    percentiles_of,
)
from wfstored.storage.shared.record_rows import Row

__all__ = [
    "DELETE_OLDER_BATCH",
    "INSERT",
    "SELECT_BY_ID",
    "collect_stats",
    "list_query",
    "stats_query",
]

INSERT: Final = insert_statement("?")
"""Insert one row unless its id is stored already."""
SELECT_BY_ID: Final = f"SELECT {SELECT_COLUMNS} FROM {TABLE} WHERE id = ?"  # noqa: S608 (constants)
"""Read the row stored under an id."""
DELETE_OLDER_BATCH: Final = (
    f"DELETE FROM {TABLE} WHERE id IN (SELECT id FROM {TABLE}"  # noqa: S608 (constants)
    " WHERE completed_at < ? ORDER BY completed_at LIMIT ?)"
)
"""Delete at most a number of the rows completed before a time, the oldest first."""


def list_query(
    history_filter: HistoryFilter, *, limit: int, after: Position | None = None
) -> tuple[str, list[object]]:
    """Return the SQL and parameters listing matching records, newest first.

    ``after`` is the stored ``(completed_at, id)`` of the last record already returned; rows
    come back in the column order of the table. The filter's own limit is not applied: pass
    the number of rows wanted as ``limit``.
    """
    hint = f" INDEXED BY {index_for(history_filter)}"
    return listing_statement(history_filter, limit=limit, after=after, table_hint=hint)


def stats_query(
    history_filter: HistoryFilter, *, grouped: bool = False
) -> tuple[str, list[object]]:
    """Return the SQL and parameters of the aggregates over every matching record.

    One row per key and status: (key, status, count, sum of the high 32 bits of the
    durations, sum of their low 32 bits, smallest, largest, every duration as comma-separated
    text). The key is the workflow name if ``grouped``, else NULL. SQLite has no percentile
    function: the durations come back as text, the cheapest exact way measured (see
    docs/performance.md), and :func:`collect_stats` sorts them.
    """
    where, params = where_clause(history_filter)
    index = index_for(history_filter)
    key = "workflow_name" if grouped else "NULL"
    sql = (
        f"SELECT {key}, status, COUNT(*),"  # noqa: S608 (constants and placeholders only)
        f" SUM(duration_ms >> {DURATION_LOW_BITS}), SUM(duration_ms & {DURATION_LOW_MASK}),"
        " MIN(duration_ms), MAX(duration_ms), group_concat(duration_ms)"
        f" FROM {TABLE} INDEXED BY {index}{where} GROUP BY 1, 2"
    )
    return sql, params


def collect_stats(rows: list[Row], collector: StatsCollector) -> None:
    """Feed the rows of :func:`stats_query` to ``collector``, percentiles included."""
    durations: dict[str | None, list[int]] = {}
    for key, status, count, high, low, minimum, maximum, text in rows:
        collector.add_status(key, status, count, (high, low), (minimum, maximum))
        # json's C parser: faster than int() per item, and no list of strings in between.
        parsed: list[int] = json.loads(f"[{text}]")
        if key in durations:
            durations[key].extend(parsed)
        else:
            durations[key] = parsed
    everything: list[int] = []
    for key, values in durations.items():
        values.sort()
        collector.set_percentiles(key, percentiles_of(values))
        if key is not None:
            everything.extend(values)
    if everything:
        everything.sort()  # sorted runs: merged, not sorted from scratch
        collector.set_percentiles(None, percentiles_of(everything))

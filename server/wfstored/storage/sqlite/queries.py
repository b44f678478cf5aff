"""The SQL the SQLite history store runs, each listing pinned to its index.

Every filter shape is pinned to the index built for it with ``INDEXED BY``, so the plan never
depends on statistics. :func:`list_query` and :func:`stats_query` are public so that tests can
``EXPLAIN QUERY PLAN`` exactly what the store runs.
"""

from __future__ import annotations

from typing import Final

from wfstore.domain import HistoryFilter

from wfstored.storage.shared.history_queries import (
    DURATION_LOW_BITS,
    DURATION_LOW_MASK,
    SUCCESS_STATUSES,
    Position,
    index_for,
    listing_statement,
    where_clause,
)
from wfstored.storage.shared.history_schema import SELECT_COLUMNS, TABLE, insert_statement

__all__ = ["DELETE_OLDER", "INSERT", "SELECT_BY_ID", "list_query", "stats_query"]

INSERT: Final = insert_statement("?")
"""Insert one row unless its id is stored already."""
SELECT_BY_ID: Final = f"SELECT {SELECT_COLUMNS} FROM {TABLE} WHERE id = ?"  # noqa: S608 (constants)
"""Read the row stored under an id."""
DELETE_OLDER: Final = f"DELETE FROM {TABLE} WHERE completed_at < ?"  # noqa: S608 (constants)
"""Delete the rows completed before a time."""
_SUCCESSES: Final = ", ".join(f"'{status}'" for status in SUCCESS_STATUSES)


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


def stats_query(history_filter: HistoryFilter) -> tuple[str, list[object]]:
    """Return the SQL and parameters of the aggregates over every matching record.

    The row is (count, successes, failures, cancellations, sum of the high 32 bits of the
    durations, sum of their low 32 bits): two sums that cannot overflow SQLite's 64-bit
    integers, from which the exact total is rebuilt in Python.
    """
    where, params = where_clause(history_filter)
    index = index_for(history_filter)
    sql = (
        "SELECT COUNT(*),"  # noqa: S608 (constants and placeholders only)
        f" COALESCE(SUM(status IN ({_SUCCESSES})), 0),"
        " COALESCE(SUM(status = 'failed'), 0),"
        " COALESCE(SUM(status = 'cancelled'), 0),"
        f" COALESCE(SUM(duration_ms >> {DURATION_LOW_BITS}), 0),"
        f" COALESCE(SUM(duration_ms & {DURATION_LOW_MASK}), 0)"
        f" FROM {TABLE} INDEXED BY {index}{where}"
    )
    return sql, params

"""The SQL the PostgreSQL history store runs (the planner picks the index for each shape).

:func:`list_query` and :func:`stats_query` are public so that tests can ``EXPLAIN`` exactly
what the store runs.
"""

from __future__ import annotations

from typing import Final

from wfstore.domain import HistoryFilter

from wfstored.storage.shared.history_queries import (
    DURATION_LOW_BITS,
    DURATION_LOW_MASK,
    SUCCESS_STATUSES,
    Position,
    listing_statement,
    where_clause,
)
from wfstored.storage.shared.history_schema import SELECT_COLUMNS, TABLE, insert_statement

__all__ = [
    "COPY_TO_STAGING",
    "CREATE_STAGING",
    "DELETE_OLDER",
    "INSERT_RETURNING",
    "MERGE_STAGING",
    "SELECT_BY_IDS",
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
DELETE_OLDER: Final = f"DELETE FROM {TABLE} WHERE completed_at < %s"  # noqa: S608 (constants)
"""Delete the rows completed before a time."""
_SUCCESSES: Final = ", ".join(f"'{status}'" for status in SUCCESS_STATUSES)


def list_query(
    history_filter: HistoryFilter, *, limit: int, after: Position | None = None
) -> tuple[str, list[object]]:
    """Return the SQL and parameters listing matching records, newest first.

    ``after`` is the stored ``(completed_at, id)`` of the last record already returned.
    """
    return listing_statement(history_filter, limit=limit, after=after, placeholder="%s")


def stats_query(history_filter: HistoryFilter) -> tuple[str, list[object]]:
    """Return the SQL and parameters of the aggregates over every matching record.

    The row is (count, successes, failures, cancellations, sum of the high 32 bits of the
    durations, sum of their low 32 bits), as every backend computes it.
    """
    where, params = where_clause(history_filter, None, "%s")
    sql = (
        "SELECT COUNT(*),"  # noqa: S608 (constants and placeholders only)
        f" COUNT(*) FILTER (WHERE status IN ({_SUCCESSES})),"
        " COUNT(*) FILTER (WHERE status = 'failed'),"
        " COUNT(*) FILTER (WHERE status = 'cancelled'),"
        f" COALESCE(SUM(duration_ms >> {DURATION_LOW_BITS}), 0),"
        f" COALESCE(SUM(duration_ms & {DURATION_LOW_MASK}), 0)"
        f" FROM {TABLE}{where}"
    )
    return sql, params

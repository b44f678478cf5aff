"""How much a PostgreSQL store holds: one bounded query for its count and its tables' size."""

from __future__ import annotations

from typing import Final

from wfstore.deadlines import deadline_after

from wfstored.storage.postgres.database import PostgresDatabase
from wfstored.storage.postgres.schema import CHANGES_TABLE, STATE_TABLE, WATCH_TABLE
from wfstored.storage.shared.history_schema import TABLE
from wfstored.storage.shared.store_info import Deadline

__all__ = ["COUNT_SQL", "STATE_COUNT_SQL", "table_figures"]

COUNT_SQL: Final = f"SELECT (SELECT count(*) FROM {TABLE}), pg_total_relation_size('{TABLE}')"  # noqa: S608 (constants)
"""History records, and the bytes of their table with its indexes and TOAST."""
STATE_COUNT_SQL: Final = (
    f"SELECT (SELECT count(*) FROM {STATE_TABLE} WHERE document IS NOT NULL),"  # noqa: S608 (constants)
    f" pg_total_relation_size('{STATE_TABLE}') + pg_total_relation_size('{CHANGES_TABLE}')"
    f" + pg_total_relation_size('{WATCH_TABLE}')"
)
"""Stored states (a deleted id keeps a row without a document), and the bytes of the state
table, its change log and the watch table."""


def table_figures(db: PostgresDatabase, deadline: Deadline, sql: str) -> tuple[int, int]:
    """Run ``sql`` (one row: count, bytes) with statements bounded by ``deadline``."""
    with deadline_after(deadline.left()):
        ((count, size),) = db.fetch("describing the store", sql, [])
    return int(count), int(size)  # type: ignore[call-overload]

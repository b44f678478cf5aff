"""The history schema in SQLite: the shared table in SQLite's types, versioned by user_version.

Version 2 adds the roll-ups (:mod:`wfstored.storage.shared.history_rollups`) and the triggers
that keep them: ``AFTER INSERT``, ``AFTER DELETE`` and ``AFTER UPDATE`` of the columns they
read, so every writer (``sqlite3`` included) keeps them exact in its own transaction. A
removed duration equal to an hour's bound makes that hour read its rows again (through
``executions_by_name_status``), and a day's bounds are read again from its hours. Opening a
version 1 file creates them and fills them from the rows, in one transaction.

``INSERT OR REPLACE`` by another tool deletes the row it replaces without firing delete
triggers unless that connection sets ``PRAGMA recursive_triggers = ON``; wfstored never
replaces rows.
"""

# Every statement here is built from constants only (table names, bit widths, OLD/NEW).
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from wfstored.storage.shared.history_rollups import (
    BUCKET_LENGTH,
    DAILY,
    HOURLY,
    ROLLUP_COLUMNS,
    backfill_statements,
    rollup_create_statements,
)
from wfstored.storage.shared.history_schema import TABLE, ColumnKind, create_statements
from wfstored.storage.shared.history_stats import DURATION_LOW_BITS, DURATION_LOW_MASK

__all__ = ["BACKFILL_STATEMENTS", "ROLLUP_STATEMENTS", "SCHEMA_STATEMENTS", "SCHEMA_VERSION"]

SCHEMA_VERSION: Final = 2
"""The ``PRAGMA user_version`` of the schema this backend creates and reads (1: no roll-ups)."""
_TYPES: Final[Mapping[ColumnKind, str]] = {"text": "TEXT", "int32": "INTEGER", "int64": "INTEGER"}
_COLUMNS: Final = ", ".join(ROLLUP_COLUMNS)


def _bucket(row: str, table: str) -> str:
    return f"substr({row}.completed_at, 1, {BUCKET_LENGTH[table]})"


def _key(row: str, table: str) -> str:
    return (
        f"workflow_name = {row}.workflow_name AND bucket = {_bucket(row, table)}"
        f" AND status = {row}.status"
    )


def _add(row: str) -> str:
    """Count ``row`` (NEW) in its hour and its day."""
    duration = f"{row}.duration_ms"
    return "".join(
        f"INSERT INTO {table} ({_COLUMNS}) VALUES ({row}.workflow_name, {_bucket(row, table)},"
        f" {row}.status, 1, {duration} >> {DURATION_LOW_BITS},"
        f" {duration} & {DURATION_LOW_MASK}, {duration}, {duration})"
        " ON CONFLICT (workflow_name, bucket, status) DO UPDATE SET runs = runs + 1,"
        " sum_high = sum_high + excluded.sum_high, sum_low = sum_low + excluded.sum_low,"
        " min_ms = min(min_ms, excluded.min_ms), max_ms = max(max_ms, excluded.max_ms);\n"
        for table in (HOURLY, DAILY)
    )


def _remove(row: str) -> str:
    """Uncount ``row`` (OLD) from its hour, then from its day (whose bounds its hours give)."""
    duration = f"{row}.duration_ms"
    hour = _bucket(row, HOURLY)
    day = _bucket(row, DAILY)
    rescan = {
        HOURLY: (
            f"SELECT {{fn}}(duration_ms) FROM {TABLE} WHERE workflow_name = {row}.workflow_name"
            f" AND status = {row}.status AND completed_at BETWEEN {hour} || ':00:00.000000000Z'"
            f" AND {hour} || ':59:59.999999999Z'"
        ),
        DAILY: (
            f"SELECT {{fn}}(h.{{column}}) FROM {HOURLY} AS h"
            f" WHERE h.workflow_name = {row}.workflow_name AND h.status = {row}.status"
            f" AND h.bucket BETWEEN {day} || 'T00' AND {day} || 'T23'"
        ),
    }
    statements = []
    for table in (HOURLY, DAILY):
        lowest = rescan[table].format(fn="min", column="min_ms")
        highest = rescan[table].format(fn="max", column="max_ms")
        statements.append(
            f"DELETE FROM {table} WHERE {_key(row, table)} AND runs = 1;\n"
            f"UPDATE {table} SET runs = runs - 1,"
            f" sum_high = sum_high - ({duration} >> {DURATION_LOW_BITS}),"
            f" sum_low = sum_low - ({duration} & {DURATION_LOW_MASK}),"
            f" min_ms = CASE WHEN {duration} <= min_ms THEN ({lowest}) ELSE min_ms END,"
            f" max_ms = CASE WHEN {duration} >= max_ms THEN ({highest}) ELSE max_ms END"
            f" WHERE {_key(row, table)};\n"
        )
    return "".join(statements)


_WATCHED: Final = "workflow_name, status, completed_at, duration_ms"
ROLLUP_STATEMENTS: Final = (
    *rollup_create_statements(_TYPES, table_suffix=" WITHOUT ROWID"),
    (
        f"CREATE TRIGGER IF NOT EXISTS {TABLE}_rollup_insert AFTER INSERT ON {TABLE}"
        f" BEGIN\n{_add('NEW')}END"
    ),
    (
        f"CREATE TRIGGER IF NOT EXISTS {TABLE}_rollup_delete AFTER DELETE ON {TABLE}"
        f" BEGIN\n{_remove('OLD')}END"
    ),
    (
        f"CREATE TRIGGER IF NOT EXISTS {TABLE}_rollup_update AFTER UPDATE OF {_WATCHED} ON {TABLE}"
        f" BEGIN\n{_remove('OLD')}{_add('NEW')}END"
    ),
)
"""The roll-up tables and the triggers that keep them."""
SCHEMA_STATEMENTS: Final = (
    *create_statements(_TYPES, if_not_exists=True),
    *ROLLUP_STATEMENTS,
)
"""The DDL of a new history database (SQLite's INTEGER holds 64 bits)."""
BACKFILL_STATEMENTS: Final = backfill_statements()
"""Fill the roll-ups from the rows (upgrading a version 1 database)."""

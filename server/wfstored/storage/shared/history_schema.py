"""The history table, described once for every backend: columns, key and indexes.

Backends render it in their own dialect with :func:`create_statements` (passing their names
for the column kinds) and :func:`insert_statement` (passing their placeholder), so that the
SQLite store, a PostgreSQL store and the benchmark's peer tables cannot drift apart.

Each index leads with the equality columns of one filter shape, then ``(completed_at, id)``:
the listing order, so no listing sorts and keyset pages seek straight to their position. The
trailing columns make every index covering for the statistics query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "INDEXES",
    "INDEX_BY_NAME",
    "INDEX_BY_NAME_STATUS",
    "INDEX_BY_STATUS",
    "INDEX_BY_TIME",
    "SELECT_COLUMNS",
    "TABLE",
    "Column",
    "ColumnKind",
    "Index",
    "create_statements",
    "insert_statement",
]

ColumnKind = Literal["text", "int32", "int64"]
"""What a column holds; each backend names its own type for each kind."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the history table."""

    name: str
    kind: ColumnKind
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Index:
    """One secondary index of the history table."""

    name: str
    columns: tuple[str, ...]


TABLE: Final = "executions"
"""The name of the history table."""
COLUMNS: Final = (
    Column("id", "text"),
    Column("workflow_id", "text"),
    Column("workflow_name", "text"),
    Column("status", "text"),
    Column("exit_code", "int32"),
    Column("started_at", "text", nullable=True),
    Column("completed_at", "text"),
    Column("duration_ms", "int64"),
    Column("error_message", "text"),
)
"""The columns, in the order of a row (``id`` is the primary key)."""
COLUMN_NAMES: Final = tuple(column.name for column in COLUMNS)
"""The column names, in the order of a row."""
SELECT_COLUMNS: Final = ", ".join(COLUMN_NAMES)
"""The column list that selects a whole row, in order."""

INDEX_BY_TIME: Final = "executions_by_time"
"""For filters with neither a workflow name nor a status."""
INDEX_BY_NAME: Final = "executions_by_name"
"""For filters with a workflow name only."""
INDEX_BY_STATUS: Final = "executions_by_status"
"""For filters with a status only."""
INDEX_BY_NAME_STATUS: Final = "executions_by_name_status"
"""For filters with both a workflow name and a status."""
INDEXES: Final = (
    Index(INDEX_BY_TIME, ("completed_at", "id", "status", "duration_ms")),
    Index(INDEX_BY_NAME, ("workflow_name", "completed_at", "id", "status", "duration_ms")),
    Index(INDEX_BY_STATUS, ("status", "completed_at", "id", "duration_ms")),
    Index(INDEX_BY_NAME_STATUS, ("workflow_name", "status", "completed_at", "id", "duration_ms")),
)
"""The secondary indexes, one per filter shape."""


def create_statements(
    types: Mapping[ColumnKind, str], *, if_not_exists: bool = True
) -> tuple[str, ...]:
    """Return the DDL that creates the table and its indexes, with ``types`` for each kind."""
    guard = " IF NOT EXISTS" if if_not_exists else ""
    columns = ",\n    ".join(
        f"{c.name} {types[c.kind]}{'' if c.nullable else ' NOT NULL'}"
        f"{' PRIMARY KEY' if c.name == 'id' else ''}"
        for c in COLUMNS
    )
    table = f"CREATE TABLE{guard} {TABLE} (\n    {columns}\n)"
    indexes = tuple(
        f"CREATE INDEX{guard} {index.name} ON {TABLE} ({', '.join(index.columns)})"
        for index in INDEXES
    )
    return (table, *indexes)


def insert_statement(placeholder: str, *, skip_existing: bool = True) -> str:
    """Return the INSERT of one whole row, with ``placeholder`` (``?``, ``%s``) per column.

    With ``skip_existing``, a row whose id is stored already is left alone (``ON CONFLICT (id)
    DO NOTHING``, which SQLite and PostgreSQL both understand); the caller compares contents.
    """
    values = ", ".join(placeholder for _ in COLUMNS)
    conflict = " ON CONFLICT (id) DO NOTHING" if skip_existing else ""
    return f"INSERT INTO {TABLE} ({SELECT_COLUMNS}) VALUES ({values}){conflict}"  # noqa: S608 (constants only)

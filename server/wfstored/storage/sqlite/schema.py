"""The history schema in SQLite: the shared table in SQLite's types, versioned by user_version."""

from __future__ import annotations

from typing import Final

from wfstored.storage.shared.history_schema import create_statements

__all__ = ["SCHEMA_STATEMENTS", "SCHEMA_VERSION"]

SCHEMA_VERSION: Final = 1
"""The ``PRAGMA user_version`` of the schema this backend creates and reads."""
SCHEMA_STATEMENTS: Final = create_statements(
    {"text": "TEXT", "int32": "INTEGER", "int64": "INTEGER"}, if_not_exists=True
)
"""The DDL of a new history database (SQLite's INTEGER holds 64 bits)."""

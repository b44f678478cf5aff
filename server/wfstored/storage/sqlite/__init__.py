"""The SQLite backend: execution history in one database file, in WAL mode.

:mod:`~wfstored.storage.sqlite.history_store` (the store),
:mod:`~wfstored.storage.sqlite.database` (connections and the file),
:mod:`~wfstored.storage.sqlite.queries` (the SQL, pinned to indexes),
:mod:`~wfstored.storage.sqlite.schema` and :mod:`~wfstored.storage.sqlite.errors`.
"""

from wfstored.storage.sqlite.history_store import SQLiteHistoryStore

__all__ = ["SQLiteHistoryStore"]

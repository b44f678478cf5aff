"""The storage layer: the adapters that implement wfstore's ports, one folder per backend.

- :mod:`~wfstored.storage.files`: execution state as awf's JSON files, one per workflow.
- :mod:`~wfstored.storage.sqlite`: execution history in one SQLite database.
- :mod:`~wfstored.storage.shared`: what every backend shares, written once: the history
  schema, row codec and time text, filters and keyset pages, group commit, page tokens,
  private files and OS error mapping.
- :mod:`~wfstored.storage.factory`: opens the stores a configuration names, by URL.

Nothing here imports gRPC: the adapters work embedded, with no daemon.
"""

from wfstored.storage.factory import (
    StoreURLError,
    open_history_store,
    open_state_store,
    parse_history_url,
    parse_state_url,
)
from wfstored.storage.files import JSONStateStore
from wfstored.storage.sqlite import SQLiteHistoryStore

__all__ = [
    "JSONStateStore",
    "SQLiteHistoryStore",
    "StoreURLError",
    "open_history_store",
    "open_state_store",
    "parse_history_url",
    "parse_state_url",
]

"""wfstored: the wfstore daemon and the storage adapters it serves, usable embedded.

:class:`JSONStore` keeps execution state as one awf-compatible JSON file per workflow id;
:class:`SQLiteHistoryStore` keeps execution history in one SQLite database. Both implement the
ports of :mod:`wfstore` and can be used in-process with no daemon. :func:`main` runs the daemon.
"""

from wfstored._json_store import JSONStore
from wfstored._main import main
from wfstored._sqlite_history import SQLiteHistoryStore

__all__ = ["JSONStore", "SQLiteHistoryStore", "main"]

"""wfstored: the wfstore daemon and the storage adapters it serves, usable embedded.

:class:`JSONStateStore` keeps execution state as one awf-compatible JSON file per workflow id;
:class:`SQLiteHistoryStore` keeps execution history in one SQLite database. Both implement the
ports of :mod:`wfstore` and can be used in-process with no daemon (and no gRPC loaded);
:func:`open_state_store` and :func:`open_history_store` open them by URL. :func:`main` runs the
daemon.

The layers are folders: :mod:`wfstored.storage` (adapters, one folder per backend),
:mod:`wfstored.rpc` (gRPC only) and :mod:`wfstored.daemon` (process life); see
docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from wfstored.storage import (
    JSONStateStore,
    SQLiteHistoryStore,
    StoreURLError,
    open_history_store,
    open_state_store,
)
from wfstored.storage.files import JSONStore

__all__ = [
    "JSONStateStore",
    "JSONStore",
    "SQLiteHistoryStore",
    "StoreURLError",
    "main",
    "open_history_store",
    "open_state_store",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the daemon (see :func:`wfstored.daemon.main.main`); imports gRPC only when called."""
    from wfstored.daemon.main import main as run  # noqa: PLC0415 (embedded use needs no gRPC)

    return run(argv)

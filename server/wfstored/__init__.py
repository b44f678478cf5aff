"""wfstored: the wfstore daemon and the storage adapters it serves, usable embedded.

:class:`JSONStateStore` keeps execution state as one awf-compatible JSON file per workflow id;
:class:`SQLiteHistoryStore` keeps execution history in one SQLite database. Both implement the
ports of :mod:`wfstore` and can be used in-process with no daemon (and no gRPC loaded);
:class:`PostgresStateStore` and :class:`PostgresHistoryStore` keep both in a PostgreSQL database
that any number of daemons share (``pip install 'wfstore[postgres]'``; psycopg is imported
only when they are used). :func:`open_state_store` and :func:`open_history_store` open any of
them by URL. :func:`main` runs the daemon.

The layers are folders: :mod:`wfstored.storage` (adapters, one folder per backend),
:mod:`wfstored.rpc` (gRPC only) and :mod:`wfstored.daemon` (process life); see
docs/architecture.md.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from wfstored.storage import (
    JSONStateStore,
    SQLiteHistoryStore,
    StoreURLError,
    open_history_store,
    open_state_store,
)
from wfstored.storage.files import JSONStore

if TYPE_CHECKING:
    from wfstored.storage.postgres import PostgresHistoryStore, PostgresStateStore

__all__ = [
    "JSONStateStore",
    "JSONStore",
    "PostgresHistoryStore",
    "PostgresStateStore",
    "SQLiteHistoryStore",
    "StoreURLError",
    "main",
    "open_history_store",
    "open_state_store",
]
_OPTIONAL = {
    "PostgresHistoryStore": "wfstored.storage.postgres",
    "PostgresStateStore": "wfstored.storage.postgres",
}


def __getattr__(name: str) -> Any:  # noqa: ANN401 (whatever the name is bound to)
    """Import the PostgreSQL stores (which need ``wfstore[postgres]``) when first used."""
    module = _OPTIONAL.get(name)
    if module is None:
        raise AttributeError(f"module 'wfstored' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the daemon (see :func:`wfstored.daemon.main.main`); imports gRPC only when called."""
    from wfstored.daemon.main import main as run  # noqa: PLC0415 (embedded use needs no gRPC)

    return run(argv)

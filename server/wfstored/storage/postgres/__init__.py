"""The PostgreSQL backend: stores any number of daemons share (needs ``wfstore[postgres]``).

:mod:`~wfstored.storage.postgres.state_store` and
:mod:`~wfstored.storage.postgres.history_store` (the stores),
:mod:`~wfstored.storage.postgres.database` (the pool, transactions, retries),
:mod:`~wfstored.storage.postgres.schema` (versioned migrations),
:mod:`~wfstored.storage.postgres.queries`, :mod:`~wfstored.storage.postgres.errors` and
:mod:`~wfstored.storage.postgres.nul_escape`. Importing this package imports psycopg.
"""

from wfstored.storage.postgres.history_store import PostgresHistoryStore
from wfstored.storage.postgres.state_store import PostgresStateStore

__all__ = ["PostgresHistoryStore", "PostgresStateStore"]

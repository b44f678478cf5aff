"""wfstored on PostgreSQL for the benchmark: a database in the peer's cluster, seeded, served.

:func:`start_pg_backend` makes a database beside the peer's own (same cluster, same settings),
fills it as :func:`~scripts.bench._data.seed_data_dir` fills a data directory (the 100
benchmark states and a modest history), and starts a wfstored whose ``--state-store`` and
``--history-store`` are that database. :func:`copy_history` bulk-loads rows with ``COPY``,
for the seed and for the scale phase's million rows.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from wfstore import StateStore
from wfstored.storage.postgres.schema import open_migrated
from wfstored.storage.shared.history_schema import SELECT_COLUMNS, TABLE
from wfstored.storage.shared.record_rows import Row

from scripts.bench._data import seed_history_rows
from scripts.bench._payloads import STATE_IDS, make_state
from scripts.bench._peers import Peer
from scripts.bench._servers import Server, start_wfstored

_COPY = f"COPY {TABLE} ({SELECT_COLUMNS}) FROM STDIN"
_FILL_THREADS = 8


def database_url(peer: Peer, database: str) -> str:
    """Return the libpq URL of ``database`` in the peer's cluster, over its Unix socket."""
    params = dict(part.split("=", 1) for part in peer.targets["unix"].split())
    return f"postgresql://{params['user']}@/{database}?host={params['host']}&port={params['port']}"


def create_database(peer: Peer, database: str) -> str:
    """Create ``database`` in the peer's cluster with wfstored's schema; return its URL."""
    with psycopg.connect(peer.targets["unix"], autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    url = database_url(peer, database)
    open_migrated(url, pool_size=1, connect_timeout=10).close()
    return url


def copy_history(url: str, rows: Iterable[Row]) -> int:
    """Load ``rows`` into the history table with one ``COPY`` and VACUUM it; return the count.

    The table must be fresh (COPY has no conflict rule); the generated rows hold no NUL, so
    nothing needs the adapter's escaping. VACUUM sets the visibility map, as autovacuum soon
    would on a live table: without it, index-only scans read the heap too (the scale phase's
    hot 7-day GetStats took 24 ms instead of 12).
    """
    total = 0
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction(), conn.cursor() as cursor, cursor.copy(_COPY) as copy:
            for row in rows:
                copy.write_row(row)
                total += 1
        conn.execute(f"VACUUM ANALYZE {TABLE}")
    return total


def save_states(store: StateStore, workflow_ids: Sequence[str]) -> None:
    """Save the benchmark state under each id, from a few threads at once."""
    with ThreadPoolExecutor(_FILL_THREADS) as pool:
        list(pool.map(lambda wid: store.save(make_state(wid)), workflow_ids))


def delete_states(store: StateStore, workflow_ids: Sequence[str]) -> None:
    """Delete ``workflow_ids`` (a missing one is no error), from a few threads."""
    with ThreadPoolExecutor(_FILL_THREADS) as pool:
        list(pool.map(store.delete, workflow_ids))


@dataclass
class PgBackend:
    """wfstored serving one PostgreSQL database, and a state store on it for fixtures."""

    url: str
    daemon: Server
    state: StateStore
    seconds: dict[str, float] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop the daemon and close the fixture store."""
        self.daemon.stop()
        self.state.close()


def start_pg_backend(peer: Peer, work: Path, *, database: str = "wfstore") -> PgBackend:
    """Create and seed ``database`` in the peer's cluster; start wfstored on it over ``work``."""
    from wfstored import PostgresStateStore  # noqa: PLC0415 (needs wfstore[postgres])

    began = time.perf_counter()
    url = create_database(peer, database)
    copy_history(url, seed_history_rows())
    state = PostgresStateStore(url, pool_size=_FILL_THREADS)
    save_states(state, STATE_IDS)
    seeded = time.perf_counter() - began
    stores = ("--state-store", url, "--history-store", url)
    work.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        daemon = start_wfstored(work / "data", work / "d.sock", work / "d.log", *stores)
    except BaseException:
        state.close()
        raise
    return PgBackend(url, daemon, state, {"seed": seeded})


__all__ = [
    "PgBackend",
    "copy_history",
    "create_database",
    "database_url",
    "delete_states",
    "save_states",
    "start_pg_backend",
]

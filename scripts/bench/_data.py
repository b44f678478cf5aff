"""Build data directories fast: history rows by bulk insert, state files by copying bytes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from pathlib import Path

from wfstored import SQLiteHistoryStore
from wfstored.storage.shared.history_schema import insert_statement
from wfstored.storage.shared.record_rows import Row

from scripts.bench._payloads import (
    LIST_NAME,
    RUN_NOW,
    SEED_NAMES,
    STATE_IDS,
    StateFileWriter,
    history_rows,
)

_INSERT = insert_statement("?", skip_existing=False)  # a fresh table: no conflicts
_CHUNK = 50_000


def bulk_insert_history(path: Path, rows: Iterable[Row]) -> int:
    """Create ``path`` with the daemon's schema, then insert ``rows`` with plain sqlite3.

    The schema comes from opening a ``SQLiteHistoryStore`` once. The rows go in with
    ``executemany`` in large transactions, unsynced (a crash would only lose the benchmark's
    own fixture). Returns how many rows were inserted.
    """
    SQLiteHistoryStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    total = 0
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB: index pages stay in memory
        iterator = iter(rows)
        while chunk := list(islice(iterator, _CHUNK)):
            conn.execute("BEGIN")
            conn.executemany(_INSERT, chunk)
            conn.execute("COMMIT")
            total += len(chunk)
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return total


def seed_data_dir(data_dir: Path, *, history: int = 10_000, now: datetime = RUN_NOW) -> None:
    """Make a daemon data directory with the 100 benchmark states and a modest history.

    The history is :func:`seed_history_rows`.
    """
    state_dir = data_dir / "state"
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    StateFileWriter(state_dir).write(STATE_IDS)
    bulk_insert_history(data_dir / "history.db", seed_history_rows(history, now=now))


def seed_history_rows(count: int = 10_000, *, now: datetime = RUN_NOW) -> Iterator[Row]:
    """Yield the seed history: ``count`` runs over 30 days; :data:`LIST_NAME` about a fifth."""
    weights = [5.0 if name == LIST_NAME else 3.0 for name in SEED_NAMES]
    return history_rows(count, SEED_NAMES, weights, days=30, now=now, prefix="seed")


def write_state_files(state_dir: Path, ids: Sequence[str]) -> None:
    """Write one benchmark state file per id into ``state_dir`` (created 0700)."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    writer = StateFileWriter(state_dir)
    for start in range(0, len(ids), _CHUNK):
        writer.write(ids[start : start + _CHUNK])

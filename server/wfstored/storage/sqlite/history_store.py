"""A HistoryStore in one SQLite database file (the daemon's ``history.db``).

One table, ``executions``, holds one row per finished run (see
:mod:`wfstored.storage.shared.history_schema`); times are nanosecond text, so text order is
time order. Concurrent ``record`` calls share one transaction (group commit). Listings are
keyset pages on ``(completed_at, id)``, each filter shape pinned to its index (see
:mod:`wfstored.storage.sqlite.queries`). The file itself, WAL mode and what happens when it is
removed or replaced while open are :mod:`wfstored.storage.sqlite.database`'s job. A full disk
gives :class:`~wfstore.errors.ResourceExhaustedError`.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from wfstore.domain import HistoryFilter, StoreInfo
from wfstore.errors import AlreadyExistsError, DataCorruptedError, StoreError, UnavailableError
from wfstore.timestamps import utc_now

from wfstored.storage.shared.history_queries import index_for
from wfstored.storage.shared.history_schema import TABLE
from wfstored.storage.shared.record_rows import RECORD_ID, Row
from wfstored.storage.shared.store_info import (
    DESCRIBE_SECONDS,
    Deadline,
    OutOfTimeError,
    measured,
)
from wfstored.storage.shared.table_history_store import TableHistoryStore
from wfstored.storage.sqlite.database import SQLiteDatabase
from wfstored.storage.sqlite.errors import is_undecodable_text
from wfstored.storage.sqlite.queries import (
    DELETE_OLDER_BATCH,
    INSERT,
    SELECT_BY_ID,
    collect_stats,
    list_query,
    stats_query,
)

__all__ = ["SQLiteHistoryStore"]


class SQLiteHistoryStore(TableHistoryStore):
    """A :class:`~wfstore.HistoryStore` in one SQLite database file.

    Thread-safe: writes go through one connection with group commit (concurrent writers share
    a transaction), and each thread reads on a connection of its own. Several processes may
    open the same file.
    """

    list_query = staticmethod(list_query)
    stats_query = staticmethod(stats_query)
    collect_stats = staticmethod(collect_stats)
    # Statistics with percentiles sort every matching duration here, in Python (SQLite has no
    # percentile function): on 4 threads of their own, a daemon's memory stays bounded under
    # many concurrent GetStats, and its throughput rises (docs/performance.md).
    stats_threads = 4

    def _raw_hint(self, history_filter: HistoryFilter) -> str:
        return f" INDEXED BY {index_for(history_filter)}"

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        """Open (creating if needed) the database at ``path``; ``clock`` gives "now".

        Missing parent directories are created with mode 0700 and a new file with mode 0600.
        Raises ``OSError`` if the file cannot be created, :class:`UnavailableError` if it is
        locked or unreadable and :class:`DataCorruptedError` if it is not a history database.
        """
        self._db: SQLiteDatabase
        super().__init__(SQLiteDatabase(Path(path)), clock)

    def describe(self, timeout: float = DESCRIBE_SECONDS) -> StoreInfo:
        """Return the database file, its record count and its bytes (with its WAL and index).

        Counts on a read-only connection of its own, interrupted after ``timeout`` seconds.
        Never raises: a failure is the returned :class:`~wfstore.StoreInfo`'s ``error``.
        """
        info = StoreInfo(role="history", backend="sqlite", location=self._db.name)
        return measured(info, self._measure, timeout)

    def _measure(self, deadline: Deadline) -> tuple[int, int]:
        path = Path(self._db.name)
        size = sum(
            p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
        )
        deadline.check("the files sized")
        uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=deadline.left(), check_same_thread=False)
        try:
            conn.set_progress_handler(lambda: int(deadline.left() <= 0), 1000)
            (count,) = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()  # noqa: S608 (a constant)
        except sqlite3.OperationalError as exc:
            if deadline.left() <= 0:
                raise OutOfTimeError(f"not counted within {deadline.seconds:g}s") from None
            raise UnavailableError(f"history database {self._db.name}: {exc}") from None
        finally:
            conn.close()
        return int(count), size

    def _delete_batch(self, cutoff: str, limit: int) -> int:
        def delete(conn: sqlite3.Connection) -> int:
            return conn.execute(DELETE_OLDER_BATCH, (cutoff, limit)).rowcount

        return self._db.write("cleaning up", delete)

    def _commit_units(self, units: Sequence[tuple[Row, ...]]) -> list[BaseException | None]:
        """Insert every unit in one transaction; a unit with a conflict is skipped whole.

        Each unit is the rows of one ``record`` (one row) or ``record_batch`` call. Rows whose
        id is already stored with identical content are no-ops. Returns one outcome per unit.
        """

        def insert_all(conn: sqlite3.Connection) -> list[BaseException | None]:
            outcomes: list[BaseException | None] = []
            for unit in units:
                if len(unit) == 1:
                    outcomes.append(_insert_row(conn, unit[0]))
                    continue
                conn.execute("SAVEPOINT unit")
                conflict = next(filter(None, (_insert_row(conn, row) for row in unit)), None)
                if conflict is not None:
                    conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
                outcomes.append(conflict)
            return outcomes

        return self._db.write("recording", insert_all)


def _insert_row(conn: sqlite3.Connection, row: Row) -> StoreError | None:
    """Insert ``row``; return the conflict if its id is stored with other content.

    A stored row whose text is not UTF-8 cannot be compared: that is reported for this row
    only, so that the other records committed in the same group are unaffected.
    """
    if conn.execute(INSERT, row).rowcount == 1:
        return None
    record_id = row[RECORD_ID]
    try:
        existing = conn.execute(SELECT_BY_ID, (record_id,)).fetchone()
    except sqlite3.OperationalError as exc:
        if not is_undecodable_text(exc):
            raise
        return DataCorruptedError(
            f"history record {record_id!r} is already stored, with text that is not UTF-8"
        )
    if existing is not None and tuple(existing) != row:
        return AlreadyExistsError(
            f"history record {record_id!r} already exists with different content"
        )
    return None

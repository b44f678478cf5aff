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
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Self

from wfstore.domain import ExecutionRecord, HistoryFilter, HistoryStats, Page
from wfstore.errors import AlreadyExistsError, DataCorruptedError, StoreError
from wfstore.timestamps import utc_now
from wfstore.validation import (
    check_duration,
    check_page_size,
    check_record,
    check_records,
    filter_or_default,
)

from wfstored.storage.shared.group_commit import GroupCommitter
from wfstored.storage.shared.history_queries import (
    DEFAULT_LIST_LIMIT,
    plan_page,
    stats_from_sums,
)
from wfstored.storage.shared.record_rows import RECORD_ID, Row, record_row, row_record
from wfstored.storage.shared.time_text import cutoff_text
from wfstored.storage.sqlite.database import SQLiteDatabase
from wfstored.storage.sqlite.errors import is_undecodable_text
from wfstored.storage.sqlite.queries import (
    DELETE_OLDER,
    INSERT,
    SELECT_BY_ID,
    list_query,
    stats_query,
)

__all__ = ["SQLiteHistoryStore"]


class SQLiteHistoryStore:
    """A :class:`~wfstore.HistoryStore` in one SQLite database file.

    Thread-safe: writes go through one connection with group commit (concurrent writers share
    a transaction), and each thread reads on a connection of its own. Several processes may
    open the same file.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        """Open (creating if needed) the database at ``path``; ``clock`` gives "now".

        Missing parent directories are created with mode 0700 and a new file with mode 0600.
        Raises ``OSError`` if the file cannot be created, :class:`UnavailableError` if it is
        locked or unreadable and :class:`DataCorruptedError` if it is not a history database.
        """
        self._clock = clock
        self._committer = GroupCommitter(self._commit_units)
        self._db = SQLiteDatabase(Path(path))

    def _decode(self, row: Row) -> ExecutionRecord:
        return row_record(row, self._db.name)

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

    def record(self, record: ExecutionRecord) -> None:
        """Store ``record``; the same id again with identical content is a no-op.

        Concurrent calls share one transaction (group commit); each returns only once its
        record is committed. Raises :class:`AlreadyExistsError` if the id is stored with
        different content.
        """
        self._db.check_open()
        check_record(record)
        self._committer.submit((record_row(record),))

    def record_batch(self, records: Sequence[ExecutionRecord]) -> None:
        """Store all of ``records`` in one transaction, or none of them.

        Records already stored with identical content are no-ops. Raises
        :class:`AlreadyExistsError`, and stores nothing, if any id is stored (or repeated in
        the batch) with different content.
        """
        self._db.check_open()
        check_records(records)
        if records:
            self._committer.submit(tuple(record_row(record) for record in records))

    def list(self, history_filter: HistoryFilter | None = None) -> list[ExecutionRecord]:
        """Return up to ``history_filter.limit`` (0: 20) matching records, newest first.

        ``None`` (or no argument) means no filter: the 20 newest records.
        """
        self._db.check_open()
        applied = filter_or_default(history_filter)
        sql, params = list_query(applied, limit=applied.limit or DEFAULT_LIST_LIMIT)
        return [self._decode(row) for row in self._db.fetch("listing", sql, params)]

    def list_page(
        self,
        history_filter: HistoryFilter | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[ExecutionRecord]:
        """Return one page of what ``list`` returns, starting where ``page_token`` left off.

        ``page_size`` 0 means 100; larger than 1000 means 1000. The filter's limit caps the
        records over all pages. A token works only with the filter it was issued for.
        """
        self._db.check_open()
        applied = filter_or_default(history_filter)
        check_page_size(page_size)
        plan = plan_page(applied, page_size, page_token)
        sql, params = list_query(applied, limit=plan.fetch, after=plan.after)
        return plan.page(self._db.fetch("listing", sql, params), self._decode)

    def get_stats(self, history_filter: HistoryFilter | None = None) -> HistoryStats:
        """Return aggregates over every matching record (the filter's limit is ignored).

        ``None`` (or no argument) means every record. ``success_count`` counts status
        ``success`` and ``completed``; ``avg_duration_ms`` is the exact mean truncated toward
        zero, 0 when nothing matches.
        """
        self._db.check_open()
        sql, params = stats_query(filter_or_default(history_filter))
        rows = self._db.fetch("computing stats", sql, params)
        return stats_from_sums(rows[0])

    def cleanup(self, older_than: timedelta) -> int:
        """Delete records completed strictly before ``clock() - older_than``; return how many.

        A negative ``older_than`` deletes nothing, as does a cutoff before year 1.
        """
        self._db.check_open()
        check_duration("older_than", older_than)
        cutoff = cutoff_text(self._clock(), older_than)
        if cutoff is None:
            return 0

        def delete(conn: sqlite3.Connection) -> int:
            return conn.execute(DELETE_OLDER, (cutoff,)).rowcount

        return self._db.write("cleaning up", delete)

    def close(self) -> None:
        """Close the database; idempotent. Later calls raise :class:`StoreClosedError`."""
        self._db.close()

    def __enter__(self) -> Self:
        """Return the store itself, to be closed when the ``with`` block ends."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the store."""
        self.close()


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

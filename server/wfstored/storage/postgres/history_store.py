"""A HistoryStore in a PostgreSQL database, shared by any number of daemons and programs.

The table, rows, time text, filters, keyset pages and statistics are the ones every history
backend shares (:mod:`wfstored.storage.shared`), so pages, ordering, ids and errors are the
same as on SQLite. Concurrent ``record`` calls in one process share a transaction (group
commit); a batch is one transaction. Small groups go in with one pipelined ``executemany``,
large ones by ``COPY`` into a temporary table merged with one ``INSERT ... SELECT`` (see
:data:`COPY_FROM_ROWS`). Text holding NUL is stored escaped (see
:mod:`wfstored.storage.postgres.nul_escape`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Final

import psycopg
from wfstore.domain import HistoryFilter, StoreInfo
from wfstore.errors import AlreadyExistsError
from wfstore.timestamps import utc_now

from wfstored.storage.postgres.database import DEFAULT_POOL_SIZE, PostgresDatabase
from wfstored.storage.postgres.figures import COUNT_SQL, table_figures
from wfstored.storage.postgres.nul_escape import escape_text, unescape_text
from wfstored.storage.postgres.queries import (
    COPY_TO_STAGING,
    CREATE_STAGING,
    DELETE_OLDER_BATCH,
    INSERT_RETURNING,
    MERGE_STAGING,
    SELECT_BY_IDS,
    collect_stats,
    list_query,
    stats_query,
)
from wfstored.storage.postgres.schema import open_migrated
from wfstored.storage.shared.history_schema import COLUMN_NAMES
from wfstored.storage.shared.record_rows import COMPLETED_AT, RECORD_ID, Row
from wfstored.storage.shared.store_info import DESCRIBE_SECONDS, measured
from wfstored.storage.shared.table_history_store import BatchDeleter, TableHistoryStore

__all__ = ["RETENTION_LOCK_KEY", "PostgresHistoryStore"]

RETENTION_LOCK_KEY: Final = 0x7766_7374_6F72_6531
"""The advisory lock a retention round holds, so that one daemon per database runs it."""


class PostgresHistoryStore(TableHistoryStore):
    """A :class:`~wfstore.HistoryStore` in a PostgreSQL database; thread-safe.

    ``url`` is a libpq URL or connection string (``postgresql://user@host/db``, several hosts
    and ``target_session_attrs=read-write`` included). The schema is created or migrated when
    the store opens.
    """

    list_query = staticmethod(list_query)
    stats_query = staticmethod(stats_query)
    collect_stats = staticmethod(collect_stats)
    placeholder = "%s"

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        pool_size: int = DEFAULT_POOL_SIZE,
        connect_timeout: float = 10.0,
    ) -> None:
        """Connect (waiting up to ``connect_timeout`` s) and bring the schema up to date.

        Raises :class:`~wfstore.errors.UnavailableError` if the database cannot be reached.
        """
        self._db: PostgresDatabase
        super().__init__(open_migrated(url, pool_size, connect_timeout), clock)

    def ping(self) -> None:
        """Return if the database answers now; raise UnavailableError if it does not."""
        self._db.ping()

    def describe(self, timeout: float = DESCRIBE_SECONDS) -> StoreInfo:
        """Return the URL (no password), the record count and the table's size with indexes.

        Every statement is bounded by ``timeout`` seconds. Never raises: a failure is the
        returned :class:`~wfstore.StoreInfo`'s ``error``.
        """
        info = StoreInfo(role="history", backend="postgres", location=self._db.name)
        return measured(
            info, lambda deadline: table_figures(self._db, deadline, COUNT_SQL), timeout
        )

    def _delete_batch(self, cutoff: str, limit: int) -> int:
        def delete(conn: psycopg.Connection) -> int:
            return conn.execute(DELETE_OLDER_BATCH, (cutoff, limit)).rowcount

        return self._db.transaction("cleaning up", delete)

    @contextmanager
    def _cleanup_turn(self) -> Iterator[BatchDeleter | None]:
        """Hold the database's retention lock for the round, or yield None if another has it.

        The lock is a session-level advisory lock on :data:`RETENTION_LOCK_KEY`, taken with
        ``pg_try_advisory_lock`` on a pooled connection kept for the round; each batch is a
        transaction of its own on that connection. A daemon that dies mid-round loses its
        session, and the lock with it.
        """
        with self._db.advisory_lock("cleaning up", RETENTION_LOCK_KEY) as conn:
            if conn is None:
                yield None
                return

            def delete(cutoff: str, limit: int) -> int:
                with conn.transaction():
                    return conn.execute(DELETE_OLDER_BATCH, (cutoff, limit)).rowcount

            yield delete

    def _stored_row(self, row: Row) -> Row:
        return tuple(escape_text(value) if isinstance(value, str) else value for value in row)

    def _read_row(self, row: Row) -> Row:
        return tuple(unescape_text(value) if isinstance(value, str) else value for value in row)

    def _read_text(self, stored: str) -> str:
        return unescape_text(stored)

    def _stored_filter(self, history_filter: HistoryFilter) -> HistoryFilter:
        name = escape_text(history_filter.workflow_name)
        status = escape_text(history_filter.status)
        if name == history_filter.workflow_name and status == history_filter.status:
            return history_filter
        return dataclasses.replace(history_filter, workflow_name=name, status=status)

    def _commit_units(self, units: Sequence[tuple[Row, ...]]) -> list[BaseException | None]:
        """Insert every unit in one transaction; a unit with a conflict is left out whole.

        All rows go in one pipelined ``executemany`` (one round trip, not one per row), and
        the rows it did not insert are compared with what is stored in one more query. In the
        rare group where a batch of several records conflicts, that attempt is rolled back and
        the units go in one at a time, each batch under a savepoint.
        """

        def insert_all(conn: psycopg.Connection) -> list[BaseException | None]:
            with conn.transaction() as fast:
                outcomes = _insert_units(conn, units)
                if all(o is None for u, o in zip(units, outcomes, strict=True) if len(u) > 1):
                    return outcomes
                raise psycopg.Rollback(fast)
            return [_insert_unit(conn, unit) for unit in units]

        return self._db.transaction("recording", insert_all)


_NAME: Final = COLUMN_NAMES.index("workflow_name")
_STATUS: Final = COLUMN_NAMES.index("status")
COPY_FROM_ROWS: Final = 64
"""Groups of at least this many rows go in by COPY (measured faster from about here on)."""


def _insert_rows(conn: psycopg.Connection, rows: Sequence[Row]) -> list[bool]:
    """Insert ``rows`` in roll-up lock order; return, row by row, whether it was inserted.

    Sorted by workflow name, status and time, the rows lock their roll-up buckets in the
    order every writer takes them (:mod:`wfstored.storage.postgres.rollups`), so concurrent
    groups never deadlock.
    """
    order = sorted(range(len(rows)), key=lambda n: _lock_order(rows[n]))
    inserted = _insert_sorted(conn, [rows[n] for n in order])
    result = [False] * len(rows)
    for position, done in zip(order, inserted, strict=True):
        result[position] = done
    return result


def _lock_order(row: Row) -> tuple[str, str, str]:
    """Return a row's place in the roll-up lock order: name, status, time (byte order)."""
    return (str(row[_NAME]), str(row[_STATUS]), str(row[COMPLETED_AT]))


def _insert_sorted(conn: psycopg.Connection, rows: Sequence[Row]) -> list[bool]:
    """Insert ``rows`` in their order; return, row by row, whether it was inserted.

    One row: a plain ``INSERT``. Up to :data:`COPY_FROM_ROWS`: one pipelined ``executemany``.
    More: ``COPY`` into the session's staging table, then one ``INSERT ... SELECT``.
    """
    if len(rows) == 1:  # one round trip either way; a plain execute costs less
        return [conn.execute(INSERT_RETURNING, rows[0]).fetchone() is not None]
    if len(rows) >= COPY_FROM_ROWS:
        return _copy_rows(conn, rows)
    inserted: list[bool] = []
    with conn.cursor() as cursor:
        cursor.executemany(INSERT_RETURNING, rows, returning=True)
        while True:
            inserted.append(cursor.fetchone() is not None)
            if not cursor.nextset():
                break
    return inserted


def _copy_rows(conn: psycopg.Connection, rows: Sequence[Row]) -> list[bool]:
    """Insert ``rows`` by COPY and one merge; return, row by row, whether it was inserted.

    An id that occurs more than once in ``rows`` counts as not inserted at every position,
    whichever copy the merge kept, so that each is compared with what is stored.
    """
    # Every time: created in a transaction that rolled back, the table is gone again.
    conn.execute(CREATE_STAGING)
    with conn.cursor() as cursor, cursor.copy(COPY_TO_STAGING) as copy:
        for row in rows:
            copy.write_row(row)
    inserted = {str(row[0]) for row in conn.execute(MERGE_STAGING).fetchall()}
    occurrences = Counter(row[RECORD_ID] for row in rows)
    return [row[RECORD_ID] in inserted and occurrences[row[RECORD_ID]] == 1 for row in rows]


def _conflicts(conn: psycopg.Connection, rows: Sequence[Row]) -> set[int]:
    """Insert ``rows``; return the positions of those whose id is stored with other content."""
    inserted = _insert_rows(conn, rows)
    skipped = [n for n, done in enumerate(inserted) if not done]
    if not skipped:
        return set()
    ids = list({rows[n][RECORD_ID] for n in skipped})
    stored = {
        str(row[RECORD_ID]): tuple(row) for row in conn.execute(SELECT_BY_IDS, (ids,)).fetchall()
    }
    return {n for n in skipped if stored.get(rows[n][RECORD_ID], rows[n]) != rows[n]}


def _conflict_error(row: Row) -> AlreadyExistsError:
    record_id = unescape_text(row[RECORD_ID])
    return AlreadyExistsError(f"history record {record_id!r} already exists with different content")


def _insert_units(
    conn: psycopg.Connection, units: Sequence[tuple[Row, ...]]
) -> list[BaseException | None]:
    """Insert every unit's rows at once; return each unit's conflict (None: stored)."""
    rows = [row for unit in units for row in unit]
    conflicts = _conflicts(conn, rows)
    outcomes: list[BaseException | None] = []
    start = 0
    for unit in units:
        clash = next((n for n in range(start, start + len(unit)) if n in conflicts), None)
        outcomes.append(None if clash is None else _conflict_error(rows[clash]))
        start += len(unit)
    return outcomes


def _insert_unit(conn: psycopg.Connection, unit: tuple[Row, ...]) -> BaseException | None:
    """Insert one unit, all or nothing (a savepoint); return its conflict, or None."""
    with conn.transaction() as savepoint:
        conflicts = _conflicts(conn, unit)
        if conflicts:
            error = _conflict_error(unit[min(conflicts)])
            raise psycopg.Rollback(savepoint)
    return error if conflicts else None

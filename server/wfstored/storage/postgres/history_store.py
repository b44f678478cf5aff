"""A HistoryStore in a PostgreSQL database, shared by any number of daemons and programs.

The table, rows, time text, filters, keyset pages and statistics are the ones every history
backend shares (:mod:`wfstored.storage.shared`), so pages, ordering, ids and errors are the
same as on SQLite. Concurrent ``record`` calls in one process share a transaction (group
commit); a batch is one transaction. Text holding NUL is stored escaped (see
:mod:`wfstored.storage.postgres.nul_escape`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

import psycopg
from wfstore.domain import ExecutionRecord, HistoryFilter, HistoryStats, Page
from wfstore.errors import AlreadyExistsError, StoreError
from wfstore.timestamps import utc_now
from wfstore.validation import (
    check_duration,
    check_page_size,
    check_record,
    check_records,
    filter_or_default,
)

from wfstored.storage.postgres.database import DEFAULT_POOL_SIZE, PostgresDatabase
from wfstored.storage.postgres.nul_escape import escape_text, unescape_text
from wfstored.storage.postgres.queries import (
    DELETE_OLDER,
    INSERT,
    SELECT_BY_ID,
    list_query,
    stats_query,
)
from wfstored.storage.postgres.schema import migrate
from wfstored.storage.shared.group_commit import GroupCommitter
from wfstored.storage.shared.history_queries import (
    DEFAULT_LIST_LIMIT,
    plan_page,
    stats_from_sums,
)
from wfstored.storage.shared.record_rows import RECORD_ID, Row, record_row, row_record
from wfstored.storage.shared.time_text import cutoff_text

__all__ = ["PostgresHistoryStore"]


class PostgresHistoryStore:
    """A :class:`~wfstore.HistoryStore` in a PostgreSQL database; thread-safe.

    ``url`` is a libpq URL or connection string (``postgresql://user@host/db``, several hosts
    and ``target_session_attrs=read-write`` included). The schema is created or migrated when
    the store opens.
    """

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
        self._clock = clock
        self._committer = GroupCommitter(self._commit_units)
        self._db = PostgresDatabase(url, pool_size=pool_size, connect_timeout=connect_timeout)
        try:
            self._db.transaction("migrating", lambda conn: migrate(conn, self._db.name))
        except BaseException:
            self._db.close()
            raise

    def _decode(self, row: Row) -> ExecutionRecord:
        return row_record(_unescaped(row), self._db.name)

    def _commit_units(self, units: Sequence[tuple[Row, ...]]) -> list[BaseException | None]:
        """Insert every unit in one transaction; a unit with a conflict is skipped whole."""

        def insert_all(conn: psycopg.Connection) -> list[BaseException | None]:
            outcomes: list[BaseException | None] = []
            for unit in units:
                if len(unit) == 1:
                    outcomes.append(_insert_row(conn, unit[0]))
                    continue
                with conn.transaction() as savepoint:
                    conflict = next(filter(None, (_insert_row(conn, row) for row in unit)), None)
                    if conflict is not None:
                        raise psycopg.Rollback(savepoint)
                outcomes.append(conflict)
            return outcomes

        return self._db.transaction("recording", insert_all)

    def record(self, record: ExecutionRecord) -> None:
        """Store ``record``; the same id again with identical content is a no-op.

        Concurrent calls share one transaction (group commit). Raises
        :class:`AlreadyExistsError` if the id is stored with different content.
        """
        self._db.check_open()
        check_record(record)
        self._committer.submit((_escaped(record_row(record)),))

    def record_batch(self, records: Sequence[ExecutionRecord]) -> None:
        """Store all of ``records`` in one transaction, or none of them."""
        self._db.check_open()
        check_records(records)
        if records:
            self._committer.submit(tuple(_escaped(record_row(record)) for record in records))

    def list(self, history_filter: HistoryFilter | None = None) -> list[ExecutionRecord]:
        """Return up to ``history_filter.limit`` (0: 20) matching records, newest first."""
        self._db.check_open()
        applied = filter_or_default(history_filter)
        sql, params = list_query(_stored(applied), limit=applied.limit or DEFAULT_LIST_LIMIT)
        return [self._decode(row) for row in self._db.fetch("listing", sql, params)]

    def list_page(
        self,
        history_filter: HistoryFilter | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[ExecutionRecord]:
        """Return one page of what ``list`` returns, starting where ``page_token`` left off."""
        self._db.check_open()
        applied = filter_or_default(history_filter)
        check_page_size(page_size)
        plan = plan_page(applied, page_size, page_token)
        sql, params = list_query(_stored(applied), limit=plan.fetch, after=plan.after)
        return plan.page(self._db.fetch("listing", sql, params), self._decode)

    def get_stats(self, history_filter: HistoryFilter | None = None) -> HistoryStats:
        """Return aggregates over every matching record (the filter's limit is ignored)."""
        self._db.check_open()
        sql, params = stats_query(_stored(filter_or_default(history_filter)))
        row = self._db.fetch("computing stats", sql, params)[0]
        return stats_from_sums([int(value) for value in row])  # type: ignore[call-overload]

    def cleanup(self, older_than: timedelta) -> int:
        """Delete records completed strictly before ``clock() - older_than``; return how many."""
        self._db.check_open()
        check_duration("older_than", older_than)
        cutoff = cutoff_text(self._clock(), older_than)
        if cutoff is None:
            return 0

        def delete(conn: psycopg.Connection) -> int:
            return conn.execute(DELETE_OLDER, (cutoff,)).rowcount

        return self._db.transaction("cleaning up", delete)

    def ping(self) -> None:
        """Return if the database answers now; raise UnavailableError if it does not."""
        self._db.ping()

    def close(self) -> None:
        """Close the pool; idempotent. Later calls raise :class:`StoreClosedError`."""
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


def _escaped(row: Row) -> Row:
    return tuple(escape_text(value) if isinstance(value, str) else value for value in row)


def _unescaped(row: Sequence[object]) -> Row:
    return tuple(unescape_text(value) if isinstance(value, str) else value for value in row)


def _stored(history_filter: HistoryFilter) -> HistoryFilter:
    """Return the filter with its text as stored (NUL escaped), for the query's parameters."""
    name, status = escape_text(history_filter.workflow_name), escape_text(history_filter.status)
    if name == history_filter.workflow_name and status == history_filter.status:
        return history_filter
    return dataclasses.replace(history_filter, workflow_name=name, status=status)


def _insert_row(conn: psycopg.Connection, row: Row) -> StoreError | None:
    """Insert ``row``; return the conflict if its id is stored with other content."""
    if conn.execute(INSERT, row).rowcount == 1:
        return None
    existing = conn.execute(SELECT_BY_ID, (row[RECORD_ID],)).fetchone()
    if existing is not None and tuple(existing) != row:
        record_id = unescape_text(row[RECORD_ID])
        return AlreadyExistsError(
            f"history record {record_id!r} already exists with different content"
        )
    return None

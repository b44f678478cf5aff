"""The HistoryStore every SQL backend is: validation, group commit, pages and stats, once.

:class:`TableHistoryStore` implements the port over the shared table (rows, time text, keyset
pages, statistics, cleanup cutoff); a backend subclasses it and supplies only what its
database does differently: how a group of rows is committed, how a query is run, its SQL for
listing, statistics and cleanup, and how text is stored (PostgreSQL escapes NUL).
"""

from __future__ import annotations

import contextvars
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from wfstore.domain import (
    ExecutionRecord,
    HistoryFilter,
    HistoryGrouping,
    HistoryStats,
    Page,
    StatsBreakdown,
)
from wfstore.validation import (
    check_duration,
    check_grouping,
    check_page_size,
    check_record,
    check_records,
    filter_or_default,
)

from wfstored.storage.shared.closing import ClosingStore
from wfstored.storage.shared.group_commit import BatchSizes, GroupCommitter
from wfstored.storage.shared.history_queries import DEFAULT_LIST_LIMIT, Position, plan_page
from wfstored.storage.shared.history_rollups import collect_rollup_stats, rollup_stats_statement
from wfstored.storage.shared.history_stats import StatsCollector
from wfstored.storage.shared.pruning import (
    BATCH_ROWS,
    BatchDeleter,
    PruneResult,
    delete_in_batches,
)
from wfstored.storage.shared.record_fields import RecordFields, fields_of_row, row_of_fields
from wfstored.storage.shared.record_rows import Row, record_row, row_record
from wfstored.storage.shared.time_text import cutoff_text

__all__ = [
    "BatchDeleter",
    "HistoryDatabase",
    "QueryBuilder",
    "StatsQueryBuilder",
    "StatsReader",
    "TableHistoryStore",
]


class HistoryDatabase(Protocol):
    """What the store needs of a backend's database object."""

    name: str
    """The database as messages name it (a path, or a URL without its password)."""

    def check_open(self) -> None:
        """Raise StoreClosedError once the database is closed."""
        ...

    def fetch(self, action: str, sql: str, params: list[object]) -> list[Row]:
        """Run a read-only query and return its rows, as stored."""
        ...

    def close(self) -> None:
        """Close every connection; idempotent."""
        ...


class QueryBuilder(Protocol):
    """Builds the SQL listing matching rows newest first, from a keyset position."""

    def __call__(
        self, history_filter: HistoryFilter, *, limit: int, after: Position | None = None
    ) -> tuple[str, list[object]]:
        """Return the SQL and its parameters."""
        ...


class StatsQueryBuilder(Protocol):
    """Builds the one statement of a filter's statistics, per workflow name if ``grouped``."""

    def __call__(
        self, history_filter: HistoryFilter, *, grouped: bool = False
    ) -> tuple[str, list[object]]:
        """Return the SQL and its parameters."""
        ...


ItemT = TypeVar("ItemT")

StatsReader = Callable[[list[Row], StatsCollector], None]
"""Feeds the rows of the backend's statistics statement to a collector."""


class TableHistoryStore(ClosingStore, ABC):
    """A :class:`~wfstore.HistoryStore` on the shared ``executions`` table of some database.

    A backend passes its database object and sets its SQL builders as the class attributes
    ``list_query`` and ``stats_query`` (and ``collect_stats``, which reads the latter's rows);
    it writes only how rows are committed and deleted.
    """

    list_query: QueryBuilder
    """The backend's listing SQL (a ``staticmethod``)."""
    stats_query: StatsQueryBuilder
    """The backend's statistics SQL (a ``staticmethod``)."""
    collect_stats: StatsReader
    """Reads the rows of ``stats_query`` into a collector (a ``staticmethod``)."""
    placeholder: str = "?"
    """The backend's parameter placeholder (``?``, ``%s``)."""
    stats_threads: int | None = None
    """Statistics are computed on this many threads of the store's own (None: on the caller's
    thread). A backend whose statistics hold every matching duration in this process sets it:
    their large buffers then stay in a few threads' malloc arenas, so the memory a process
    keeps is bounded by this number of calls, not by its number of serving threads."""

    def __init__(self, database: HistoryDatabase, clock: Callable[[], datetime]) -> None:
        """Serve the port on ``database``; take "now" from ``clock``; share commits."""
        self._db = database
        self._clock = clock
        self._committer = GroupCommitter(self._commit_units)
        self._stats_pool: ThreadPoolExecutor | None = None
        if self.stats_threads is not None:
            self._stats_pool = ThreadPoolExecutor(
                self.stats_threads, thread_name_prefix="wfstore-stats"
            )

    @property
    def database_name(self) -> str:
        """The database as messages name it (a path, or a URL without its password)."""
        return self._db.name

    @property
    def commit_batch_sizes(self) -> BatchSizes:
        """How many writes each of the store's transactions carried (group commit), so far."""
        return self._committer.batch_sizes

    def close(self) -> None:
        """Release the store's resources; idempotent. Later calls raise StoreClosedError."""
        self._db.close()
        if self._stats_pool is not None:
            self._stats_pool.shutdown(wait=False, cancel_futures=True)

    # --- What a backend supplies ---------------------------------------------------------------

    @abstractmethod
    def _commit_units(self, units: Sequence[tuple[Row, ...]]) -> list[BaseException | None]:
        """Store every unit (the rows of one call) in one transaction; one outcome per unit.

        A unit whose id is stored with other content is left out whole, its outcome the
        AlreadyExistsError its caller raises; identical rows already stored are no-ops.
        """

    @abstractmethod
    def _delete_batch(self, cutoff: str, limit: int) -> int:
        """Delete at most ``limit`` rows completed before ``cutoff`` in one transaction.

        The oldest go first; returns how many were deleted.
        """

    @contextmanager
    def _cleanup_turn(self) -> Iterator[BatchDeleter | None]:
        """Yield how a retention round deletes a batch, or None if another process runs it.

        By default every process may run a round (on one SQLite file a second round finds
        little left); a shared database backend takes a lock here.
        """
        yield self._delete_batch

    def _stored_row(self, row: Row) -> Row:
        """Return ``row`` as the database stores it (as it is, unless a backend escapes text)."""
        return row

    def _stored_filter(self, history_filter: HistoryFilter) -> HistoryFilter:
        """Return the filter with its text as the database stores text."""
        return history_filter

    def _read_text(self, stored: str) -> str:
        """Return the text that the database stores as ``stored`` (as it is, unless escaped)."""
        return stored

    # --- The port ------------------------------------------------------------------------------

    def record(self, record: ExecutionRecord) -> None:
        """Store ``record``; the same id again with identical content is a no-op.

        Concurrent calls share one transaction (group commit); each returns only once its
        record is committed. Raises :class:`AlreadyExistsError` if the id is stored with
        different content.
        """
        self._db.check_open()
        check_record(record)
        self._committer.submit((self._stored_row(record_row(record)),))

    def record_fields(self, fields: RecordFields) -> bool:
        """Store a record given as its wire-shaped fields, as ``record`` would; True if stored.

        The RPC layer's Record comes here first (see
        :mod:`wfstored.storage.shared.record_fields`). Returns False, having done nothing,
        when the fields are anything but plainly valid: the caller then decodes them into an
        :class:`ExecutionRecord` and calls ``record``, which raises the error they deserve.
        """
        row = row_of_fields(fields)
        if row is None:
            return False
        self._db.check_open()
        self._committer.submit((self._stored_row(row),))
        return True

    def record_batch(self, records: Sequence[ExecutionRecord]) -> None:
        """Store all of ``records`` in one transaction, or none of them.

        Records already stored with identical content are no-ops. Raises
        :class:`AlreadyExistsError`, and stores nothing, if any id is stored (or repeated in
        the batch) with different content.
        """
        self._db.check_open()
        check_records(records)
        if records:
            self._committer.submit(tuple(self._stored_row(record_row(r)) for r in records))

    def list(self, history_filter: HistoryFilter | None = None) -> list[ExecutionRecord]:
        """Return up to ``history_filter.limit`` (0: 20) matching records, newest first.

        ``None`` (or no argument) means no filter: the 20 newest records.
        """
        self._db.check_open()
        applied = filter_or_default(history_filter)
        limit = applied.limit or DEFAULT_LIST_LIMIT
        sql, params = self.list_query(self._stored_filter(applied), limit=limit)
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
        return self._page(history_filter, page_size, page_token, self._decode)

    def list_page_fields(
        self,
        history_filter: HistoryFilter | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[RecordFields]:
        """Return the page ``list_page`` returns, each record as its wire-shaped fields.

        The RPC layer's List builds its reply from these directly (see
        :mod:`wfstored.storage.shared.record_fields`); the same arguments give the same
        records, token and errors as ``list_page``.
        """
        return self._page(history_filter, page_size, page_token, self._fields)

    def _page(
        self,
        history_filter: HistoryFilter | None,
        page_size: int,
        page_token: str,
        decode: Callable[[Row], ItemT],
    ) -> Page[ItemT]:
        self._db.check_open()
        applied = filter_or_default(history_filter)
        check_page_size(page_size)
        plan = plan_page(applied, page_size, page_token)
        sql, params = self.list_query(
            self._stored_filter(applied), limit=plan.fetch, after=plan.after
        )
        return plan.page(self._db.fetch("listing", sql, params), decode)

    def get_stats(
        self, history_filter: HistoryFilter | None = None, *, percentiles: bool = False
    ) -> HistoryStats:
        """Return aggregates over every matching record (the filter's limit is ignored).

        ``None`` (or no argument) means every record. ``success_count`` counts status
        ``success`` and ``completed``; ``avg_duration_ms`` is the exact mean truncated toward
        zero; all 0 when nothing matches. Without ``percentiles`` the figures come from the
        roll-ups (a cost that does not grow with the records matched) and p50/p95/p99 are 0;
        with it, from one pass over the matching rows, percentiles exact (nearest rank).
        """
        return self._stats(history_filter, grouped=False, percentiles=percentiles).total()

    def get_stats_breakdown(
        self,
        history_filter: HistoryFilter | None = None,
        *,
        group_by: HistoryGrouping = HistoryGrouping.WORKFLOW_NAME,
        percentiles: bool = False,
    ) -> StatsBreakdown:
        """Return the figures of ``get_stats`` over every matching record and per group.

        Groups are ordered by key (byte order of its UTF-8) and add up to the total; all of
        it comes from one statement, so from one snapshot.
        """
        self._db.check_open()
        check_grouping(group_by)
        return self._stats(history_filter, grouped=True, percentiles=percentiles).breakdown()

    def _stats(
        self, history_filter: HistoryFilter | None, *, grouped: bool, percentiles: bool
    ) -> StatsCollector:
        """Run the statistics statement (on the stats threads, if any); return what it found."""
        self._db.check_open()
        applied = self._stored_filter(filter_or_default(history_filter))
        if not percentiles:
            return self._collect_rollups(applied, grouped=grouped)
        sql, params = self.stats_query(applied, grouped=grouped)
        if self._stats_pool is None:
            return self._collect(sql, params)
        run = contextvars.copy_context().run
        try:
            work = self._stats_pool.submit(run, self._collect, sql, params)
        except RuntimeError:  # shut down: closed since the check above
            self._db.check_open()
            raise
        try:
            return work.result()
        except CancelledError:  # closed while it waited for a thread
            self._db.check_open()
            raise

    def _collect(self, sql: str, params: Sequence[object]) -> StatsCollector:
        collector = StatsCollector(self._read_text)
        self.collect_stats(self._db.fetch("computing stats", sql, [*params]), collector)
        return collector

    def _collect_rollups(self, applied: HistoryFilter, *, grouped: bool) -> StatsCollector:
        """Return the figures (no percentiles) of a filter as the roll-ups give them."""
        collector = StatsCollector(self._read_text)
        statement = rollup_stats_statement(
            applied,
            grouped=grouped,
            placeholder=self.placeholder,
            raw_hint=self._raw_hint(applied),
        )
        if statement is not None:
            rows = self._db.fetch("computing stats", *statement)
            collect_rollup_stats(rows, collector)
        return collector

    def _raw_hint(self, history_filter: HistoryFilter) -> str:
        """Return what follows the history table's name in a statement (an index hint)."""
        del history_filter
        return ""

    def cleanup(self, older_than: timedelta) -> int:
        """Delete records completed strictly before ``clock() - older_than``; return how many.

        A negative ``older_than`` deletes nothing, as does a cutoff before year 1.
        """
        self._db.check_open()
        check_duration("older_than", older_than)
        cutoff = cutoff_text(self._clock(), older_than)
        return 0 if cutoff is None else delete_in_batches(self._delete_batch, cutoff)[0]

    def prune(
        self,
        older_than: timedelta,
        *,
        batch_size: int = BATCH_ROWS,
        pause: float = 0.0,
        stop: threading.Event | None = None,
    ) -> PruneResult | None:
        """Run one retention round: delete what ``cleanup`` would, in bounded batches.

        Returns None, having deleted nothing, when another process sharing the database is
        running a round now. ``pause`` s pass between batches; ``stop`` ends the round early.
        """
        self._db.check_open()
        check_duration("older_than", older_than)
        now = self._clock()
        cutoff = cutoff_text(now, older_than)
        with self._cleanup_turn() as delete:
            if delete is None:
                return None
            if cutoff is None:
                return PruneResult(removed=0, cutoff=now - older_than, batches=0, complete=True)
            removed, batches, complete = delete_in_batches(
                delete, cutoff, batch_size=batch_size, pause=pause, stop=stop
            )
        return PruneResult(
            removed=removed, cutoff=now - older_than, batches=batches, complete=complete
        )

    def _read_row(self, row: Row) -> Row:
        """Return ``row`` as the record holds it (as it is, unless a backend escapes text)."""
        return row

    def _decode(self, row: Row) -> ExecutionRecord:
        """Return the record a row holds."""
        return row_record(self._read_row(row), self._db.name)

    def _fields(self, row: Row) -> RecordFields:
        """Return the fields of the record a row holds."""
        return fields_of_row(self._read_row(row), self._db.name)

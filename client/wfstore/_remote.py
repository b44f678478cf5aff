"""The two ports implemented over the wire: what ``Client.state`` and ``Client.history`` are."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from datetime import timedelta

from wfstore import _operations as ops
from wfstore._invoker import Invoker
from wfstore._watch import RemoteWatch, _Resume, wait_for
from wfstore.domain import (
    ExecutionContext,
    ExecutionRecord,
    HistoryFilter,
    HistoryGrouping,
    HistoryStats,
    Page,
    StatsBreakdown,
    StoredState,
)
from wfstore.errors import StoreClosedError

__all__ = ["Handle", "RemoteHistoryStore", "RemoteStateStore"]


class Handle:
    """A client-side handle that can be closed without touching the daemon."""

    _what = "store"

    def __init__(self) -> None:
        """Start open."""
        self._closed = False

    def close(self) -> None:
        """End this handle only; the daemon and other handles are unaffected. Idempotent."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"this client's {self._what} handle is closed")


class RemoteStateStore(Handle):
    """A :class:`~wfstore.StateStore` served by a wfstored daemon."""

    _what = "state"

    def __init__(self, invoker: Invoker) -> None:
        """Run calls through ``invoker``."""
        super().__init__()
        self._invoker = invoker
        self._watches: weakref.WeakSet[RemoteWatch] = weakref.WeakSet()

    def watch(
        self,
        prefix: str = "",
        *,
        workflow_id: str | None = None,
        resume_token: str | None = None,
        include_state: bool = True,
    ) -> RemoteWatch:
        """Watch the saves and deletes of ids starting with ``prefix`` (or of one id).

        Returns once the daemon has answered (within the client's timeout): a bad argument or
        an expired token raises here. The watch then resumes by itself, from its last token,
        when its stream breaks (a daemon restarting, or another daemon behind the same
        address); it ends when closed or when the client closes. See
        :meth:`wfstore.StateStore.watch`.
        """
        self._check_open()
        resume = _Resume(
            prefix,
            workflow_id,
            resume_token,
            include_state=include_state,
            retry=self._invoker.retry,
        )
        watch = RemoteWatch(self._invoker, resume, self._invoker.timeout)
        self._watches.add(watch)
        return watch

    def wait_for(
        self,
        workflow_id: str,
        predicate: Callable[[ExecutionContext], bool],
        timeout: float,
    ) -> StoredState:
        """Return the state of ``workflow_id`` once ``predicate(state)`` is true.

        Checks the stored state first, then every new version as it is saved. Raises
        :class:`~wfstore.errors.DeadlineExceededError` if that does not happen within
        ``timeout`` seconds. For example, ``wait_for(run_id, lambda s: s.status ==
        ExecutionStatus.COMPLETED, 60)``.
        """
        watch = self.watch(workflow_id=workflow_id)
        return wait_for(self.get, watch, workflow_id, predicate, timeout)

    def close(self) -> None:
        """End this handle and its watches; the daemon and other handles are unaffected."""
        super().close()
        for watch in list(self._watches):
            watch.close()

    def save(self, state: ExecutionContext, *, expected_version: int | None = None) -> int:
        """Store ``state`` durably under its workflow id; return its new version.

        ``expected_version`` None replaces whatever is stored; 0 saves only if nothing is
        stored; ``v`` only if the stored version is ``v``; otherwise ConflictError. A
        conditional save is not retried on UNAVAILABLE (its outcome is then unknown).
        """
        self._check_open()
        op = ops.SAVE if expected_version is None else ops.SAVE_IF
        return self._invoker.call(op, state, expected_version)

    def load(self, workflow_id: str) -> ExecutionContext | None:
        """Return the state stored under ``workflow_id``, or ``None`` if there is none."""
        self._check_open()
        return self._invoker.call(ops.LOAD, workflow_id)

    def get(self, workflow_id: str) -> StoredState | None:
        """Return the state stored under ``workflow_id`` with its version, or ``None``."""
        self._check_open()
        return self._invoker.call(ops.GET, workflow_id)

    def delete(self, workflow_id: str, *, expected_version: int | None = None) -> None:
        """Delete the state stored under ``workflow_id``; a missing id is not an error.

        With ``expected_version``, only if the stored version is that one (a missing id is a
        conflict too); otherwise ConflictError. Not retried on UNAVAILABLE when conditional.
        """
        self._check_open()
        op = ops.DELETE if expected_version is None else ops.DELETE_IF
        self._invoker.call(op, workflow_id, expected_version)

    def list(self) -> list[str]:
        """Return every workflow id that has a stored state, sorted (follows all pages)."""
        page = self.list_page()
        ids = list(page.items)
        while page.next_page_token:
            page = self.list_page(page_token=page.next_page_token)
            ids.extend(page.items)
        return ids

    def list_page(self, page_size: int = 0, page_token: str = "") -> Page[str]:
        """Return one page of sorted workflow ids, starting where ``page_token`` left off."""
        self._check_open()
        return self._invoker.call(ops.LIST_STATES, page_size, page_token)


class RemoteHistoryStore(Handle):
    """A :class:`~wfstore.HistoryStore` served by a wfstored daemon."""

    _what = "history"

    def __init__(self, invoker: Invoker) -> None:
        """Run calls through ``invoker``."""
        super().__init__()
        self._invoker = invoker

    def record(self, record: ExecutionRecord) -> None:
        """Store ``record``; the same id with identical content again is a no-op (retry-safe)."""
        self._check_open()
        self._invoker.call(ops.RECORD, record)

    def record_batch(self, records: Sequence[ExecutionRecord]) -> None:
        """Store all of ``records`` (at most 10000) in one transaction, or none of them."""
        self._check_open()
        self._invoker.call(ops.RECORD_BATCH, records)

    def list(self, history_filter: HistoryFilter | None = None) -> list[ExecutionRecord]:
        """Return up to ``history_filter.limit`` (0: 20) matching records, newest first.

        ``None`` (or no argument) means no filter: the 20 newest records.
        """
        page = self.list_page(history_filter)
        records = list(page.items)
        while page.next_page_token:
            page = self.list_page(history_filter, page_token=page.next_page_token)
            records.extend(page.items)
        return records

    def list_page(
        self,
        history_filter: HistoryFilter | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[ExecutionRecord]:
        """Return one page of what ``list`` returns, starting where ``page_token`` left off."""
        self._check_open()
        return self._invoker.call(ops.LIST_HISTORY, history_filter, page_size, page_token)

    def get_stats(
        self, history_filter: HistoryFilter | None = None, *, percentiles: bool = False
    ) -> HistoryStats:
        """Return aggregates over every matching record (the filter's limit is ignored).

        ``None`` (or no argument) means every record. p50/p95/p99 are computed only with
        ``percentiles`` (a pass over the matching durations); without it they are 0.
        """
        self._check_open()
        return self._invoker.call(ops.GET_STATS, history_filter, percentiles)

    def get_stats_breakdown(
        self,
        history_filter: HistoryFilter | None = None,
        *,
        group_by: HistoryGrouping = HistoryGrouping.WORKFLOW_NAME,
        percentiles: bool = False,
    ) -> StatsBreakdown:
        """Return the figures of ``get_stats`` over every matching record and per group.

        Groups are ordered by key (byte order of its UTF-8) and add up to the total.
        """
        self._check_open()
        return self._invoker.call(ops.GET_STATS_BREAKDOWN, history_filter, group_by, percentiles)

    def cleanup(self, older_than: timedelta) -> int:
        """Delete records completed before ``now - older_than``; return how many.

        Not retried on UNAVAILABLE: a retry could report 0 for records the first try deleted.
        """
        self._check_open()
        return self._invoker.call(ops.CLEANUP, older_than)

"""The two ports every store implements: embedded adapters and the client alike.

Part of the kernel that the client and the daemon share: public and stable within the
``wfstore`` distribution. Application code imports them from :mod:`wfstore`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from wfstore.domain import (
    ExecutionContext,
    ExecutionRecord,
    HistoryFilter,
    HistoryGrouping,
    HistoryStats,
    Page,
    StateEvent,
    StatsBreakdown,
    StoredState,
)

__all__ = ["HistoryStore", "StateStore", "StateWatch"]


class StateWatch(Protocol):
    """A stream of changes to stored states; iterate it, and close it when done.

    Iterating blocks until the next change; bookmarks only advance :attr:`resume_token`.
    The iterator ends when the watch or its store is closed.
    """

    @property
    def resume_token(self) -> str:
        """Where this watch is: watch again with it to go on after the last change seen."""
        ...

    def poll(self, timeout: float) -> list[StateEvent]:
        """Return the changes that arrive within ``timeout`` seconds (perhaps none)."""
        ...

    def __iter__(self) -> Iterator[StateEvent]:
        """Return the watch itself."""
        ...

    def __next__(self) -> StateEvent:
        """Block until the next change and return it; StopIteration once closed."""
        ...

    def close(self) -> None:
        """Stop watching; idempotent."""
        ...

    def __enter__(self) -> Self:
        """Return the watch itself."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the watch."""
        ...


@runtime_checkable
class StateStore(Protocol):
    """Keeps one execution state per workflow id."""

    def save(self, state: ExecutionContext, *, expected_version: int | None = None) -> int:
        """Store ``state`` durably under its workflow id; return its new version.

        ``expected_version`` None replaces whatever is stored; 0 saves only if nothing is
        stored; ``v`` only if the stored version is ``v``. Otherwise nothing changes and
        :class:`~wfstore.errors.ConflictError` is raised.
        """
        ...

    def load(self, workflow_id: str) -> ExecutionContext | None:
        """Return the state stored under ``workflow_id``, or ``None`` if there is none."""
        ...

    def get(self, workflow_id: str) -> StoredState | None:
        """Return the state stored under ``workflow_id`` with its version, or ``None``."""
        ...

    def delete(self, workflow_id: str, *, expected_version: int | None = None) -> None:
        """Delete the state stored under ``workflow_id``; a missing id is not an error.

        With ``expected_version``, delete only if the stored version is that one (a missing
        id is then a conflict too); otherwise raise :class:`~wfstore.errors.ConflictError`.
        """
        ...

    def list(self) -> list[str]:
        """Return every workflow id that has a stored state, sorted."""
        ...

    def list_page(self, page_size: int = 0, page_token: str = "") -> Page[str]:
        """Return one page of sorted workflow ids, starting where ``page_token`` left off."""
        ...

    def watch(
        self,
        prefix: str = "",
        *,
        workflow_id: str | None = None,
        resume_token: str | None = None,
        include_state: bool = True,
    ) -> StateWatch:
        """Watch the changes to ids starting with ``prefix`` (or to ``workflow_id`` alone).

        Without ``resume_token``, from now on; with one, from just after the change it was
        taken from: nothing missed, nothing twice, each id's changes in version order. A
        token too old raises :class:`~wfstore.errors.WatchExpiredError` on first use.
        """
        ...

    def close(self) -> None:
        """Release the store's resources; idempotent. Later calls raise StoreClosedError."""
        ...


@runtime_checkable
class HistoryStore(Protocol):
    """Keeps one record per finished workflow run."""

    def record(self, record: ExecutionRecord) -> None:
        """Store ``record``; storing the same id again with identical content is a no-op."""
        ...

    def record_batch(self, records: Sequence[ExecutionRecord]) -> None:
        """Store all of ``records`` (at most 10000) in one transaction, or none of them."""
        ...

    def list(self, history_filter: HistoryFilter | None = None) -> list[ExecutionRecord]:
        """Return up to ``history_filter.limit`` (0: 20) matching records, newest first.

        ``None`` (or no argument) means no filter: the 20 newest records.
        """
        ...

    def list_page(
        self,
        history_filter: HistoryFilter | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[ExecutionRecord]:
        """Return one page of what ``list`` returns, starting where ``page_token`` left off."""
        ...

    def get_stats(
        self, history_filter: HistoryFilter | None = None, *, percentiles: bool = False
    ) -> HistoryStats:
        """Return aggregates over every matching record (the filter's limit is ignored).

        ``None`` (or no argument) means every record. p50/p95/p99 are computed only with
        ``percentiles`` (a pass over the matching durations); without it they are 0.
        """
        ...

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
        ...

    def cleanup(self, older_than: timedelta) -> int:
        """Delete records completed before ``now - older_than``; return how many."""
        ...

    def close(self) -> None:
        """Release the store's resources; idempotent. Later calls raise StoreClosedError."""
        ...

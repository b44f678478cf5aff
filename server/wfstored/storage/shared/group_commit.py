"""Group commit: concurrent writers share one transaction, and each waits for its own outcome.

The first writer to arrive becomes the leader: it takes every write queued so far, commits
them together, hands each writer its outcome and steps down; writers that arrived meanwhile
elect the next leader among themselves. A lone writer commits at once, with no thread hop;
under load one fsync serves many writes. No writer returns before its write is committed.

Each committer tallies its batches in a :class:`BatchSizes` (how many transactions, how many
writes, and a histogram of writes per transaction) that a monitoring layer may read; it costs a
few integer additions per transaction.
"""

from __future__ import annotations

import bisect
import copy
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["BATCH_SIZE_BOUNDS", "BatchSizes", "GroupCommitter"]

ItemT = TypeVar("ItemT")

BATCH_SIZE_BOUNDS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
"""The upper bounds of the batch-size histogram's buckets (the largest is ``max_batch``)."""


class BatchSizes:
    """How many writes each transaction of one committer carried, tallied as it runs.

    Only the committer's current leader writes it (one at a time), so it needs no lock; a
    reader may see one batch half-counted, never a count going down.
    """

    __slots__ = ("batches", "buckets", "writes")

    def __init__(self) -> None:
        """Start with nothing counted."""
        self.batches = 0
        """Transactions committed (or attempted: a failed commit counts too)."""
        self.writes = 0
        """Writes (``submit`` calls) those transactions carried."""
        self.buckets = [0] * (len(BATCH_SIZE_BOUNDS) + 1)
        """Batches per size bucket: ``buckets[i]`` counts sizes in (bound[i-1], bound[i]]."""

    def add(self, size: int) -> None:
        """Count one batch of ``size`` writes."""
        self.batches += 1
        self.writes += size
        self.buckets[bisect.bisect_left(BATCH_SIZE_BOUNDS, size)] += 1


@dataclass(slots=True)
class _Pending(Generic[ItemT]):
    item: ItemT
    done: bool = False
    error: BaseException | None = field(default=None)


class GroupCommitter(Generic[ItemT]):
    """Runs ``commit(items)`` for batches of concurrently submitted items.

    ``commit`` returns one outcome per item, in order: ``None`` for success or the exception
    that item's submitter must raise. If ``commit`` itself raises, every item in the batch
    fails with that exception.
    """

    def __init__(
        self,
        commit: Callable[[Sequence[ItemT]], Sequence[BaseException | None]],
        *,
        max_batch: int = 512,
    ) -> None:
        """Commit with ``commit``, at most ``max_batch`` items at a time."""
        self._commit = commit
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Pending[ItemT]] = []
        self._leading = False
        self.batch_sizes = BatchSizes()
        """The sizes of the batches committed so far."""

    def submit(self, item: ItemT) -> None:
        """Return once ``item`` is committed; raise the exception its commit produced."""
        pending = _Pending(item)
        with self._cond:
            self._queue.append(pending)
            while self._leading and not pending.done:
                self._cond.wait()
            if pending.done:
                _raise_if_failed(pending)
                return
            self._leading = True
        try:
            while not pending.done:  # a long queue may need several batches to reach ours
                with self._cond:
                    batch = self._queue[: self._max_batch]
                    del self._queue[: self._max_batch]
                self._run(batch)
                with self._cond:
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._leading = False
                self._cond.notify_all()
        _raise_if_failed(pending)

    def _run(self, batch: list[_Pending[ItemT]]) -> None:
        fatal: BaseException | None = None
        self.batch_sizes.add(len(batch))
        try:
            outcomes: Sequence[BaseException | None] = self._commit([p.item for p in batch])
        except BaseException as exc:  # noqa: BLE001 (every writer in the batch gets its own copy)
            outcomes = [copy.copy(exc) for _ in batch]
            fatal = None if isinstance(exc, Exception) else exc
        for pending, outcome in zip(batch, outcomes, strict=True):
            pending.error = outcome
            pending.done = True
        if fatal is not None:
            raise fatal


def _raise_if_failed(pending: _Pending[ItemT]) -> None:
    if pending.error is not None:
        raise pending.error

"""Group commit: concurrent writers share one transaction, and each waits for its own outcome.

The first writer to arrive becomes the leader: it commits its own write and every write queued
so far together, wakes each of their writers with its outcome, and hands the lead to the first
writer that queued meanwhile, if any (whose own write heads the next batch). Each waiting
writer is woken once, a lone writer commits at once on its own thread, and under load one
fsync serves many writes. No writer returns before its write is committed.

Each committer tallies its batches in a :class:`BatchSizes` (how many transactions, how many
writes, and a histogram of writes per transaction) that a monitoring layer may read; it costs a
few integer additions per transaction.
"""

from __future__ import annotations

import bisect
import copy
import threading
from collections import deque
from collections.abc import Callable, Sequence
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


class _Pending(Generic[ItemT]):
    """One submitted item, and how its submitter learns what became of it."""

    __slots__ = ("done", "error", "item", "leads", "wake")

    def __init__(self, item: ItemT) -> None:
        self.item = item
        self.done = False
        self.error: BaseException | None = None
        self.leads = False
        """Handed the lead: its submitter commits the next batch."""
        self.wake: threading.Lock | None = None
        """Held while its submitter waits; released once: when done, or made the leader."""


class GroupCommitter(Generic[ItemT]):
    """Runs ``commit(items)`` for batches of concurrently submitted items.

    ``commit`` returns one outcome per item, in order: ``None`` for success or the exception
    that item's submitter must raise. If ``commit`` itself raises, every item in the batch
    fails with that exception.

    Each waiting submitter is woken exactly once: when its item is done, or when the leader
    hands it the lead (its own item then heads the next batch). A submitter that finds no
    leader commits at once on its own thread.
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
        self._lock = threading.Lock()  # guards the queue and the lead
        self._queue: deque[_Pending[ItemT]] = deque()
        self._leading = False
        self.batch_sizes = BatchSizes()
        """The sizes of the batches committed so far."""

    def submit(self, item: ItemT) -> None:
        """Return once ``item`` is committed; raise the exception its commit produced."""
        pending = _Pending(item)
        with self._lock:
            if self._leading:
                wake = pending.wake = threading.Lock()
                wake.acquire()
                self._queue.append(pending)
            else:
                self._leading = True
                wake = None
        if wake is not None:
            try:
                wake.acquire()  # released once: done, or handed the lead
            except BaseException:  # interrupted (a signal in the main thread)
                self._abandon(pending)
                raise
        if not pending.done:
            self._lead(pending)
        if pending.error is not None:
            raise pending.error

    def _lead(self, first: _Pending[ItemT]) -> None:
        """Commit ``first`` and what queued before it, wake their submitters, pass the lead."""
        with self._lock:
            batch = [first]
            queue = self._queue
            while queue and len(batch) < self._max_batch:
                batch.append(queue.popleft())
        try:
            self._run(batch)
        finally:
            for pending in batch:
                pending.done = True  # even if the commit raised something fatal
                if pending.wake is not None and pending is not first:
                    pending.wake.release()
            with self._lock:
                self._pass_lead()

    def _pass_lead(self) -> None:
        """Hand the lead to the first queued submitter, or step down; hold the lock."""
        if self._queue:
            successor = self._queue.popleft()
            successor.leads = True
            assert successor.wake is not None  # noqa: S101 (every queued one waits)
            successor.wake.release()  # it leads next, its own item first
        else:
            self._leading = False

    def _abandon(self, pending: _Pending[ItemT]) -> None:
        """Forget a submitter that stopped waiting; pass on the lead if it was handed it.

        Its item is committed only if a batch has taken it already.
        """
        with self._lock:
            if pending in self._queue:
                self._queue.remove(pending)
            elif pending.leads and not pending.done:
                self._pass_lead()

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
        if fatal is not None:
            raise fatal

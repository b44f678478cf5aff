"""Deleting old history in bounded batches: each its own short transaction, writers between.

One ``DELETE`` of every old row would hold the write lock (SQLite) or a long transaction
(PostgreSQL) for as long as it takes; batches of at most :data:`BATCH_ROWS` rows, the oldest
first, each committed on its own, let writers in between them. Both the Cleanup call and the
daemon's retention rounds delete this way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

__all__ = ["BATCH_ROWS", "BatchDeleter", "PruneResult", "delete_in_batches"]

BATCH_ROWS: Final = 1000
"""The most rows one batch (one transaction) deletes."""

BatchDeleter = Callable[[str, int], int]
"""Deletes at most ``limit`` rows completed before the time text ``cutoff``; returns how many."""


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What one retention round did."""

    removed: int
    """Records deleted."""
    cutoff: datetime
    """Records completed before this were to go."""
    batches: int
    """Transactions committed."""
    complete: bool
    """False if the round stopped early (shutdown) with old records left."""


def delete_in_batches(
    delete: BatchDeleter,
    cutoff: str,
    *,
    batch_size: int = BATCH_ROWS,
    pause: float = 0.0,
    stop: threading.Event | None = None,
) -> tuple[int, int, bool]:
    """Delete every row before ``cutoff``, ``batch_size`` at a time; pause between batches.

    Returns the rows removed, the batches run and whether it finished (``stop`` set ends it
    after the batch in progress).
    """
    if batch_size < 1:
        msg = f"batch_size must be at least 1, not {batch_size}"
        raise ValueError(msg)
    removed = batches = 0
    while True:
        count = delete(cutoff, batch_size)
        removed += count
        batches += 1
        if count < batch_size:
            return removed, batches, True
        if stop is not None and stop.is_set():
            return removed, batches, False
        if pause > 0:
            if stop is not None:
                stop.wait(pause)
            else:
                threading.Event().wait(pause)

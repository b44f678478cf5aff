"""What the watch benchmark records, and how a Save is matched with the events it caused.

Every time is read with :func:`now_ns`, ``CLOCK_MONOTONIC``: on Linux it is one clock for the
whole machine, so the instant a saver process took before a Save and the instant a watcher in
another process got its event can be subtracted.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from scripts.bench._report import percentile


def now_ns() -> int:
    """Return ``CLOCK_MONOTONIC`` in nanoseconds: the same clock in every process of a machine."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


class SaveMark(NamedTuple):
    """One Save: the id and the version it returned, when it started and when it returned."""

    workflow_id: str
    version: int
    start_ns: int
    end_ns: int


class Received(NamedTuple):
    """One event as one watcher got it: the watcher's index, the change, and when."""

    watcher: int
    workflow_id: str
    version: int
    at_ns: int


@dataclass
class Matched:
    """The latencies of one cell: Save start to event, per event and per Save."""

    latencies_ms: list[float] = field(default_factory=list)
    """Event receive time minus Save start time, for every (watcher, counted Save) pair."""
    last_ms: list[float] = field(default_factory=list)
    """Per counted Save seen by every watcher, the latency of the last watcher to see it."""
    median_ms: list[float] = field(default_factory=list)
    """Per counted Save seen by some watcher, in Save order, the median over its watchers."""
    missed: int = 0
    """(watcher, counted Save) pairs with no event."""
    unexpected: int = 0
    """Events for no Save of the cell, or a second event for the same Save and watcher."""


def match(
    saves: Sequence[SaveMark], received: Iterable[Received], watchers: int, *, warmup: int = 0
) -> Matched:
    """Pair every Save with each watcher's event for it (same id and version).

    The first ``warmup`` saves are not counted; their events are expected, and dropped.
    """
    seen: dict[tuple[str, int], dict[int, int]] = {
        (mark.workflow_id, mark.version): {} for mark in saves
    }
    out = Matched()
    for event in received:
        by_watcher = seen.get((event.workflow_id, event.version))
        if by_watcher is None or event.watcher in by_watcher:
            out.unexpected += 1
            continue
        by_watcher[event.watcher] = event.at_ns
    for mark in saves[warmup:]:
        arrivals = seen[(mark.workflow_id, mark.version)]
        out.missed += watchers - len(arrivals)
        latencies = [(at - mark.start_ns) / 1e6 for at in arrivals.values()]
        out.latencies_ms += latencies
        if latencies:
            out.median_ms.append(statistics.median(latencies))
        if latencies and len(arrivals) == watchers:
            out.last_ms.append(max(latencies))
    return out


def drift(median_ms: Sequence[float]) -> tuple[float, float]:
    """Return the median latency over the first and over the last tenth of the Saves.

    A last figure far above the first says the watchers fell behind the Saves (a backlog
    grew): the cell's percentiles then depend on how many Saves it ran.
    """
    if not median_ms:
        return float("nan"), float("nan")
    tenth = max(1, len(median_ms) // 10)
    return statistics.median(median_ms[:tenth]), statistics.median(median_ms[-tenth:])


def summary(values_ms: Sequence[float]) -> dict[str, Any]:
    """Return count, p50, p99, mean and max (ms) of ``values_ms``; NaN when there are none."""
    ordered = sorted(values_ms)
    return {
        "n": len(ordered),
        "p50_ms": percentile(ordered, 0.50),
        "p99_ms": percentile(ordered, 0.99),
        "mean_ms": statistics.fmean(ordered) if ordered else float("nan"),
        "max_ms": ordered[-1] if ordered else float("nan"),
    }


__all__ = ["Matched", "Received", "SaveMark", "drift", "match", "now_ns", "summary"]

"""Statistics every history backend reports the same way: exact, per status and per group.

A backend's statistics query returns aggregate rows per ``(key, status)`` (count, the two
halves of the duration sum, minimum, maximum) and the percentiles per key, however it gets
them; :class:`StatsCollector` turns those rows into a :class:`~wfstore.StatsBreakdown`. The
key ``None`` stands for every matching record (the total); other keys are group keys.

Percentiles follow the nearest-rank rule of history.proto: the p-th percentile of N durations
is the ``ceil(p / 100 * N)``-th smallest (:func:`nearest_rank`, in integer arithmetic).
Durations are summed as their high and low 32 bits, two sums that cannot overflow a 64-bit
integer, and the exact sum is rebuilt here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from wfstore.domain import HistoryStats, HistoryStatsGroup, StatsBreakdown

__all__ = [
    "DURATION_LOW_BITS",
    "DURATION_LOW_MASK",
    "PERCENTILES",
    "SUCCESS_STATUSES",
    "Percentiles",
    "StatsCollector",
    "nearest_rank",
    "percentiles_of",
]

SUCCESS_STATUSES: Final = ("success", "completed")
"""The statuses that ``success_count`` counts."""
DURATION_LOW_BITS: Final = 32
"""Durations are summed as their high and low 32 bits, two sums that cannot overflow."""
DURATION_LOW_MASK: Final = (1 << DURATION_LOW_BITS) - 1
"""The mask of the low half of a duration."""
PERCENTILES: Final = (50, 95, 99)
"""The percentiles reported, in the order of :data:`Percentiles`."""

Percentiles = tuple[int, int, int]
"""The p50, p95 and p99 of some durations."""


def nearest_rank(percent: int, count: int) -> int:
    """Return the 1-based rank of the ``percent``-th percentile of ``count`` values.

    ``ceil(percent / 100 * count)`` computed on integers, so no float rounding can move it.
    """
    return (percent * count + 99) // 100


def percentiles_of(ordered: Sequence[int]) -> Percentiles:
    """Return the nearest-rank p50, p95 and p99 of ``ordered`` (sorted, not empty)."""
    count = len(ordered)
    p50, p95, p99 = (ordered[nearest_rank(p, count) - 1] for p in PERCENTILES)
    return p50, p95, p99


@dataclass
class _Figures:
    """The figures of one key, accumulated row by row."""

    count: int = 0
    high: int = 0
    low: int = 0
    minimum: int | None = None
    maximum: int | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    percentiles: Percentiles = (0, 0, 0)

    def add(self, status: str, count: int, sums: tuple[int, int], bounds: tuple[int, int]) -> None:
        self.count += count
        self.high += sums[0]
        self.low += sums[1]
        self.minimum = bounds[0] if self.minimum is None else min(self.minimum, bounds[0])
        self.maximum = bounds[1] if self.maximum is None else max(self.maximum, bounds[1])
        self.statuses[status] = self.statuses.get(status, 0) + count

    def merge(self, other: _Figures) -> None:
        if other.minimum is None or other.maximum is None:
            return  # no records
        self.count += other.count
        self.high += other.high
        self.low += other.low
        self.minimum = other.minimum if self.minimum is None else min(self.minimum, other.minimum)
        self.maximum = other.maximum if self.maximum is None else max(self.maximum, other.maximum)
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count

    def stats(self) -> HistoryStats:
        if not self.count:
            return HistoryStats()
        duration_sum = (self.high << DURATION_LOW_BITS) + self.low
        average = abs(duration_sum) // self.count
        statuses = self.statuses
        p50, p95, p99 = self.percentiles
        return HistoryStats(
            total_executions=self.count,
            success_count=sum(statuses.get(status, 0) for status in SUCCESS_STATUSES),
            failed_count=statuses.get("failed", 0),
            cancelled_count=statuses.get("cancelled", 0),
            avg_duration_ms=-average if duration_sum < 0 else average,
            min_duration_ms=self.minimum or 0,
            max_duration_ms=self.maximum or 0,
            p50_duration_ms=p50,
            p95_duration_ms=p95,
            p99_duration_ms=p99,
            status_counts=dict(sorted(statuses.items())),
        )


class StatsCollector:
    """Builds the statistics of one query from its rows; key ``None`` is the total.

    ``read_text`` turns a key or status as the database stores it into the text it stands
    for (PostgreSQL escapes NUL). The total's counts, sums and bounds are those of the rows
    with key ``None`` if there are any, else those of every group added together; its
    percentiles must be given (they cannot be added up).
    """

    def __init__(self, read_text: Callable[[str], str] = str) -> None:
        """Collect rows whose text is read with ``read_text``."""
        self._read_text = read_text
        self._total = _Figures()
        self._groups: dict[str, _Figures] = {}

    def _text(self, stored: str | bytes) -> str:
        """Return stored text as it reads (bytes: not UTF-8, each bad byte as U+FFFD).

        Text that is not UTF-8 was written by another tool; it is still counted.
        """
        if isinstance(stored, bytes):
            return stored.decode("utf-8", "replace")
        return self._read_text(stored)

    def _figures(self, key: str | bytes | None) -> _Figures:
        if key is None:
            return self._total
        return self._groups.setdefault(self._text(key), _Figures())

    def add_status(
        self,
        key: str | bytes | None,
        status: str | bytes,
        count: int,
        sums: tuple[int, int],
        bounds: tuple[int, int],
    ) -> None:
        """Add the aggregates of the records of ``key`` with ``status``.

        ``sums`` are the sums of the high and low 32 bits of their durations, ``bounds``
        their smallest and largest duration.
        """
        self._figures(key).add(self._text(status), count, sums, bounds)

    def set_percentiles(self, key: str | None, percentiles: Percentiles) -> None:
        """Set the percentiles of the durations of ``key``'s records."""
        self._figures(key).percentiles = percentiles

    def total(self) -> HistoryStats:
        """Return the figures over every matching record."""
        if not self._total.count:
            merged = _Figures(percentiles=self._total.percentiles)
            for figures in self._groups.values():
                merged.merge(figures)
            return merged.stats()
        return self._total.stats()

    def breakdown(self) -> StatsBreakdown:
        """Return the total and the groups, ordered by key (byte order of its UTF-8)."""
        keys = sorted(self._groups, key=lambda key: key.encode("utf-8", "surrogatepass"))
        groups = [HistoryStatsGroup(key=key, stats=self._groups[key].stats()) for key in keys]
        return StatsBreakdown(total=self.total(), groups=groups)

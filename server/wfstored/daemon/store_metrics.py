"""What the stores hold and how they commit, read when Prometheus scrapes.

:class:`StoreCollector` is a custom ``prometheus_client`` collector. On a scrape it reports
each store's item count and size on disk from the store's ``describe()`` (stored states,
history records), at most once per ``cache_seconds`` however often it is scraped, since
counting reads the store; and the history store's group-commit batch sizes, which are
counters in memory (:class:`~wfstored.storage.shared.group_commit.BatchSizes`), read afresh.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from wfstore.domain import StoreInfo

from wfstored.storage.shared.group_commit import BATCH_SIZE_BOUNDS, BatchSizes

__all__ = ["DEFAULT_CACHE_SECONDS", "StoreCollector"]

DEFAULT_CACHE_SECONDS = 10.0
"""How long a store's counted figures are reused before a scrape counts them again."""


@dataclass(frozen=True, slots=True)
class _Counted:
    at: float
    figures: tuple[StoreInfo, ...]


class StoreCollector(Collector):
    """Reports the stores' figures and the history store's group-commit batch sizes."""

    def __init__(
        self,
        describers: Sequence[Callable[[], StoreInfo]],
        batch_sizes: BatchSizes | None,
        *,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Describe the stores with ``describers``; report ``batch_sizes`` if given."""
        self._describers = tuple(describers)
        self._batch_sizes = batch_sizes
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()  # one scrape counts; a concurrent one waits for it
        self._counted: _Counted | None = None

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families (called by the registry on every scrape)."""
        if self._describers:
            yield from self._store_families(self._figures())
        if self._batch_sizes is not None:
            yield _batch_family(self._batch_sizes)

    def _figures(self) -> tuple[StoreInfo, ...]:
        with self._lock:
            now = self._clock()
            if self._counted is None or now - self._counted.at >= self._cache_seconds:
                figures = tuple(describe() for describe in self._describers)
                self._counted = _Counted(now, figures)
            return self._counted.figures

    @staticmethod
    def _store_families(figures: Sequence[StoreInfo]) -> Iterator[Metric]:
        labels = ("role", "backend")
        items = GaugeMetricFamily(
            "wfstore_store_items",
            "What a store holds: stored states (role state) or history records (role history).",
            labels=labels,
        )
        size = GaugeMetricFamily(
            "wfstore_store_size_bytes",
            "Bytes a store takes on disk (files, SQLite database and WAL, or tables and indexes).",
            labels=labels,
        )
        known = GaugeMetricFamily(
            "wfstore_store_figures_known",
            "1 if the store could be counted at the last look, 0 if not (see the daemon's "
            "GetServerInfo for why).",
            labels=labels,
        )
        for store in figures:
            values = [store.role, store.backend]
            if store.item_count is not None:
                items.add_metric(values, store.item_count)
            if store.size_bytes is not None:
                size.add_metric(values, store.size_bytes)
            counted = store.item_count is not None and store.size_bytes is not None
            known.add_metric(values, 1.0 if counted else 0.0)
        yield from (items, size, known)


def _batch_family(sizes: BatchSizes) -> Metric:
    bounds = [str(float(bound)) for bound in BATCH_SIZE_BOUNDS]
    cumulative = list(itertools.accumulate(sizes.buckets))
    family = HistogramMetricFamily(
        "wfstore_history_commit_batch_writes",
        "Writes (Record or RecordBatch calls) per history transaction: group commit shares "
        "one transaction among concurrent writers.",
    )
    family.add_metric(
        [],
        [*zip(bounds, cumulative, strict=False), ("+Inf", cumulative[-1])],
        sum_value=sizes.writes,
    )
    return family

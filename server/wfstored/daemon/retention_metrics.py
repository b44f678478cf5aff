"""The retention rounds' counters as Prometheus metrics, read afresh on every scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from wfstored.daemon.retention import RetentionCounters

__all__ = ["RetentionCollector"]


class RetentionCollector(Collector):
    """Reports :class:`~wfstored.daemon.retention.RetentionCounters`."""

    def __init__(self, counters: RetentionCounters) -> None:
        """Report ``counters``."""
        self._counters = counters

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families (called by the registry on every scrape)."""
        figures = self._counters.figures()
        rounds = CounterMetricFamily(
            "wfstore_retention_rounds",
            "History retention rounds, by how they ended: removed (ran to the end), skipped "
            "(another daemon on the database ran it), failed.",
            labels=("result",),
        )
        rounds.add_metric(["removed"], figures.rounds)
        rounds.add_metric(["skipped"], figures.rounds_skipped)
        rounds.add_metric(["failed"], figures.rounds_failed)
        yield rounds
        yield CounterMetricFamily(
            "wfstore_retention_records_removed",
            "History records deleted by retention rounds.",
            value=figures.records_removed,
        )
        if figures.last_started is not None:
            yield GaugeMetricFamily(
                "wfstore_retention_last_round_timestamp_seconds",
                "When the last retention round began (Unix time).",
                value=figures.last_started.timestamp(),
            )
            yield GaugeMetricFamily(
                "wfstore_retention_last_round_duration_seconds",
                "How long the last retention round took.",
                value=figures.last_seconds,
            )
            yield GaugeMetricFamily(
                "wfstore_retention_last_round_removed",
                "History records the last retention round deleted.",
                value=figures.last_removed,
            )

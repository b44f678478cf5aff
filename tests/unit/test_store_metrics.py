"""The store collector: figures from real stores' describe(), counted at most once per period."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from wfstore import ExecutionContext
from wfstored import JSONStateStore, SQLiteHistoryStore
from wfstored.daemon.store_metrics import StoreCollector

from tests.support.factories import record


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[JSONStateStore, SQLiteHistoryStore]]:
    state = JSONStateStore(tmp_path / "state")
    history = SQLiteHistoryStore(tmp_path / "history.db")
    yield state, history
    history.close()
    state.close()


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[str, ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.values()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_figures_are_recounted_only_after_the_cache_period(
    stores: tuple[JSONStateStore, SQLiteHistoryStore],
) -> None:
    state, history = stores
    now = [100.0]
    registry = CollectorRegistry()
    registry.register(
        StoreCollector(
            [state.describe, history.describe],
            history.commit_batch_sizes,
            cache_seconds=10,
            clock=lambda: now[0],
        )
    )
    state.save(ExecutionContext.new("run-1", "deploy"))
    first = _samples(registry)
    assert first["wfstore_store_items", ("files", "state")] == 1
    assert first["wfstore_store_items", ("history", "sqlite")] == 0
    state.save(ExecutionContext.new("run-2", "deploy"))
    history.record(record("rec-1"))
    now[0] += 9.9  # within the period: the last count, but batch sizes are live
    cached = _samples(registry)
    assert cached["wfstore_store_items", ("files", "state")] == 1
    assert cached["wfstore_history_commit_batch_writes_count", ()] == 1
    now[0] += 0.1
    fresh = _samples(registry)
    assert fresh["wfstore_store_items", ("files", "state")] == 2
    assert fresh["wfstore_store_items", ("history", "sqlite")] == 1


def test_a_store_that_cannot_be_counted_is_reported_as_unknown(
    stores: tuple[JSONStateStore, SQLiteHistoryStore], tmp_path: Path
) -> None:
    state, _ = stores
    state.save(ExecutionContext.new("run-1", "deploy"))
    registry = CollectorRegistry()
    registry.register(StoreCollector([state.describe], None))
    shutil.rmtree(tmp_path / "state")  # gone from under the store
    samples = _samples(registry)
    assert samples["wfstore_store_figures_known", ("files", "state")] == 0
    assert ("wfstore_store_items", ("files", "state")) not in samples
    assert ("wfstore_history_commit_batch_writes_count", ()) not in samples

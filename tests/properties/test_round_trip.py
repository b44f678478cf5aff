"""Any valid state or record comes back exactly as saved, embedded and through the daemon."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

from domain_strategies import FIRST_NANOS, LAST_NANOS, contexts, records
from exactly import canonical, exact
from hypothesis import given, settings
from hypothesis import strategies as st
from property_stores import Stores
from wfstore import ExecutionContext, ExecutionRecord, HistoryFilter
from wfstore.timestamps import from_unix_nanos
from wfstored import JSONStateStore

STATE_EXAMPLES = 60
RECORD_EXAMPLES = 60
BATCH_EXAMPLES = 20
UNIQUE_PREFIX_BYTES = 8
_serial = itertools.count()


def _unique(record: ExecutionRecord) -> ExecutionRecord:
    """Give ``record`` an id no earlier example used, so examples never conflict."""
    return replace(record, id=f"{next(_serial):07d}:{record.id}")


def _stored(stores: Stores, record: ExecutionRecord) -> list[ExecutionRecord]:
    assert record.completed_at is not None
    moment = HistoryFilter(since=record.completed_at, until=record.completed_at, limit=10_000)
    return [r for r in stores.history.list(moment) if r.id == record.id]


@settings(max_examples=STATE_EXAMPLES)
@given(state=contexts)
def test_any_valid_state_comes_back_exactly(stores: Stores, state: ExecutionContext) -> None:
    stores.state.save(state)
    expected = exact(canonical(state))
    assert exact(stores.state.load(state.workflow_id)) == expected
    if stores.data_dir is None:
        return
    # The file itself, read by the embedded store, holds the same state whoever wrote it.
    reader = JSONStateStore(stores.data_dir / "state")
    try:
        assert exact(reader.load(state.workflow_id)) == expected
    finally:
        reader.close()


@settings(max_examples=RECORD_EXAMPLES)
@given(record=records(max_id_bytes=250 - UNIQUE_PREFIX_BYTES))
def test_any_valid_record_comes_back_exactly(stores: Stores, record: ExecutionRecord) -> None:
    record = _unique(record)
    stores.history.record(record)
    assert [exact(r) for r in _stored(stores, record)] == [exact(record)]
    stores.history.record(record)  # the same record again is a no-op
    assert len(_stored(stores, record)) == 1


@settings(max_examples=BATCH_EXAMPLES)
@given(batch=st.lists(records(max_id_bytes=250 - UNIQUE_PREFIX_BYTES), max_size=5))
def test_any_valid_batch_comes_back_exactly(stores: Stores, batch: list[ExecutionRecord]) -> None:
    batch = [_unique(record) for record in batch]
    stores.history.record_batch(batch)
    for record in batch:
        assert [exact(r) for r in _stored(stores, record)] == [exact(record)]


def test_the_edges_of_the_time_range_round_trip(stores: Stores) -> None:
    """The property above draws these often; this pins them whatever the seed."""
    first, last = from_unix_nanos(FIRST_NANOS), from_unix_nanos(LAST_NANOS)
    record = _unique(ExecutionRecord(id="edges", started_at=first, completed_at=last))
    stores.history.record(record)
    assert [exact(r) for r in _stored(stores, record)] == [exact(record)]
    assert last - first > timedelta(days=3_652_000)

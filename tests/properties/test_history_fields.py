"""The fields path of Record and List gives exactly what the domain path gives.

The daemon's HistoryServicer goes from message to row and row to message through
``RecordFields`` tuples (``wfstored.rpc.history_fields``, ``storage.shared.record_fields``);
``wfstore.wire`` with the domain types is the reference. Both are held to the same replies,
rows and errors over every kind of valid record, and over invalid messages too.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from domain_strategies import records
from hypothesis import given, settings
from hypothesis import strategies as st
from wfstore import ExecutionRecord, HistoryFilter, InvalidArgumentError, StoreClosedError, wire
from wfstore.v1 import history_pb2
from wfstore.validation import check_record
from wfstored import SQLiteHistoryStore
from wfstored.rpc.history_fields import FieldStore, fields_of_message, list_reply
from wfstored.storage.shared.record_fields import row_of_fields
from wfstored.storage.shared.record_rows import record_row
from wfstored.storage.shared.table_history_store import TableHistoryStore

EXAMPLES = 60
PREFIXED_ID_BYTES = 200
"""Room left in a record id for the prefix that keeps each example's ids apart."""
_serial = itertools.count()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TableHistoryStore]:
    """A SQLite store, or a PostgreSQL one (which escapes NUL in text), for the module."""
    if request.param == "sqlite":
        with SQLiteHistoryStore(tmp_path_factory.mktemp("fields") / "history.db") as sqlite:
            yield sqlite
        return
    cluster = request.getfixturevalue("postgres_cluster")  # skips without PostgreSQL
    from wfstored.storage.postgres import PostgresHistoryStore  # noqa: PLC0415 (optional)

    with PostgresHistoryStore(cluster.new_database()) as postgres:
        yield postgres


def _domain_reply(
    store: TableHistoryStore, history_filter: HistoryFilter, page_size: int, token: str
) -> history_pb2.HistoryServiceListResponse:
    page = store.list_page(history_filter, page_size, token)
    return history_pb2.HistoryServiceListResponse(
        records=[wire.record_to_proto(r) for r in page.items], next_page_token=page.next_page_token
    )


def test_the_sql_stores_offer_the_fields_hook(store: TableHistoryStore) -> None:
    assert isinstance(store, FieldStore)


@settings(max_examples=EXAMPLES)
@given(
    batch=st.lists(records(PREFIXED_ID_BYTES), min_size=1, max_size=5), page_size=st.integers(1, 3)
)
def test_listing_by_fields_replies_as_the_domain_path_does(
    store: TableHistoryStore, batch: list[ExecutionRecord], page_size: int
) -> None:
    name = f"fields-{next(_serial)}"  # this example's records, and only them, match
    stored = [replace(r, id=f"{name}:{n}:{r.id}", workflow_name=name) for n, r in enumerate(batch)]
    store.record_batch(stored)
    history_filter = HistoryFilter(workflow_name=name, limit=10)
    token, pages = "", 0
    while True:
        reply = list_reply(store.list_page_fields(history_filter, page_size, token))
        assert reply == _domain_reply(store, history_filter, page_size, token)
        pages += 1
        token = reply.next_page_token
        if not token:
            break
    assert pages == -(-len(stored) // page_size)


@settings(max_examples=EXAMPLES)
@given(record=records())
def test_recording_by_fields_stores_the_row_of_the_domain_path(record: ExecutionRecord) -> None:
    message = wire.record_to_proto(record)
    decoded = wire.record_from_proto(message)
    assert row_of_fields(fields_of_message(message)) == record_row(decoded)


@settings(max_examples=EXAMPLES)
@given(record=records(), again=st.booleans())
def test_a_recorded_message_reads_back_by_both_paths(
    store: TableHistoryStore, record: ExecutionRecord, *, again: bool
) -> None:
    unique = replace(record, id=f"rec-{next(_serial)}", workflow_name=f"rec-{next(_serial)}")
    message = wire.record_to_proto(unique)
    assert store.record_fields(fields_of_message(message)) is True
    if again:  # the same record again is a no-op, by either path
        assert store.record_fields(fields_of_message(message)) is True
        store.record(wire.record_from_proto(message))
    history_filter = HistoryFilter(workflow_name=unique.workflow_name)
    reply = list_reply(store.list_page_fields(history_filter, 0, ""))
    assert list(reply.records) == [message]
    assert reply == _domain_reply(store, history_filter, 0, "")


_times = st.one_of(
    st.none(),
    st.tuples(
        st.one_of(
            st.sampled_from([-62135596801, -62135596800, -62135596799, 253402300799, 253402300800]),
            st.integers(-(2**40), 2**40),
        ),
        st.one_of(st.sampled_from([-1, 0, 999_999_999, 1_000_000_000]), st.integers(0, 10**9)),
    ),
)


def _message(
    record_id: str,
    started: tuple[int, int] | None,
    completed: tuple[int, int] | None,
    duration: int,
    exit_code: int,
) -> history_pb2.ExecutionRecord:
    message = history_pb2.ExecutionRecord(
        id=record_id, workflow_name="w", duration_ms=duration, exit_code=exit_code
    )
    for field, value in (("started_at", started), ("completed_at", completed)):
        if value is not None:
            stamp = getattr(message, field)
            stamp.seconds, stamp.nanos = value
    return message


_messages = st.builds(
    _message,
    st.one_of(st.just(""), st.text(max_size=3), st.text(min_size=60, max_size=300)),
    _times,
    _times,
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**31), 2**31 - 1),
)


@settings(max_examples=300)
@given(message=_messages)
def test_the_fields_path_takes_only_what_the_domain_path_accepts(
    message: history_pb2.ExecutionRecord,
) -> None:
    """The fields path stores what is valid; the rest goes the way that words its error."""
    row = row_of_fields(fields_of_message(message))
    try:
        record = wire.record_from_proto(message)
        check_record(record)
    except InvalidArgumentError:
        assert row is None
        return
    assert row == record_row(record)


def test_a_closed_store_refuses_records_by_fields(tmp_path: Path) -> None:
    store = SQLiteHistoryStore(tmp_path / "history.db")
    store.close()
    with pytest.raises(StoreClosedError):
        store.record_fields(fields_of_message(_message("r", None, (1, 2), 0, 0)))

"""PostgreSQL's change log, read while writers commit out of order or roll back.

A sequence number drawn by a transaction still in progress is a gap to readers; the watch must
wait for it (never step over a change that is about to commit) and step over it once its
writer has rolled back. Writers here are plain SQL sessions, as psql would be: the trigger logs
them too, and polling finds them without a NOTIFY.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from wfstore import ExecutionContext
from wfstored.storage.postgres import PostgresStateStore

from tests.support.watching import take_events

_BUMP = "UPDATE workflow_states SET version = version + 1 WHERE workflow_id = %s RETURNING version"


def _state(workflow_id: str) -> ExecutionContext:
    return ExecutionContext(workflow_id=workflow_id, workflow_name="deploy")


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresStateStore]:
    opened = PostgresStateStore(postgres_url)
    yield opened
    opened.close()


def test_a_change_committed_late_is_delivered_before_the_ones_after_it(
    store: PostgresStateStore, postgres_url: str
) -> None:
    store.save(_state("slow"))
    watch = store.watch()
    with psycopg.connect(postgres_url) as slow:
        row = slow.execute(_BUMP, ("slow",)).fetchone()  # draws a number, does not commit
        assert row is not None
        fast = store.save(_state("fast"))
        assert watch.poll(1.2) == []  # "fast" waits behind the open gap
        slow.commit()
        events = take_events(watch, 2)
    assert [(e.workflow_id, e.version) for e in events] == [("slow", row[0]), ("fast", fast)]


def test_a_rolled_back_change_is_stepped_over(store: PostgresStateStore, postgres_url: str) -> None:
    store.save(_state("slow"))
    watch = store.watch()
    with psycopg.connect(postgres_url) as slow:
        slow.execute(_BUMP, ("slow",))
        fast = store.save(_state("fast"))
        slow.rollback()
    (event,) = take_events(watch, 1)
    assert (event.workflow_id, event.version) == ("fast", fast)
    assert watch.poll(0.6) == []


def test_an_unrelated_long_transaction_does_not_hold_events_back(
    store: PostgresStateStore, postgres_url: str
) -> None:
    with psycopg.connect(postgres_url) as unrelated:
        unrelated.execute("CREATE TABLE elsewhere (n INT)")
        unrelated.execute("INSERT INTO elsewhere VALUES (1)")  # has a transaction id, stays open
        store.save(_state("slow"))
        watch = store.watch()
        with psycopg.connect(postgres_url) as slow:
            slow.execute(_BUMP, ("slow",))
            fast = store.save(_state("fast"))
            slow.rollback()
        (event,) = take_events(watch, 1, timeout=3)
        assert event.version == fast
        unrelated.rollback()


def test_plain_sql_writers_are_seen_without_a_notify(
    store: PostgresStateStore, postgres_url: str
) -> None:
    store.save(_state("run-1"))
    watch = store.watch()
    with psycopg.connect(postgres_url, autocommit=True) as psql:
        row = psql.execute(_BUMP, ("run-1",)).fetchone()
        assert row is not None
        psql.execute(
            "UPDATE workflow_states SET document = NULL, version = version + 1"
            " WHERE workflow_id = 'run-1'"
        )
    events = take_events(watch, 2, timeout=3)
    assert [(e.kind, e.version) for e in events] == [("saved", row[0]), ("deleted", row[0] + 1)]

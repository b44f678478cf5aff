"""PostgreSQL's projected reads (the daemon's Load path): reused for the same row, never stale.

The row is read on every call; the value made from it is kept while its document and version
are the same. Writes by another store (another daemon) and by plain SQL are seen at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from wfstore import ExecutionContext, StoredState
from wfstored.storage.postgres import PostgresStateStore

made: list[int] = []


def project(stored: StoredState) -> tuple[str, int]:
    """Record each run; return the state's current step and its version."""
    made.append(stored.version)
    return (stored.state.current_step, stored.version)


def _state(workflow_id: str, step: str) -> ExecutionContext:
    return ExecutionContext(workflow_id=workflow_id, workflow_name="deploy", current_step=step)


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresStateStore]:
    made.clear()
    opened = PostgresStateStore(postgres_url)
    yield opened
    opened.close()


def test_the_same_row_is_projected_once(store: PostgresStateStore) -> None:
    version = store.save(_state("p-once", "a"))
    first = store.get_projected("p-once", project)
    assert first == ("a", version)
    assert store.get_projected("p-once", project) is first
    assert made == [version]
    assert store.get_projected("p-missing", project) is None


def test_writes_by_another_daemon_and_by_sql_are_seen_at_once(
    store: PostgresStateStore, postgres_url: str
) -> None:
    other = PostgresStateStore(postgres_url)
    try:
        other.save(_state("p-seen", "a"))
        assert store.get_projected("p-seen", project)[0] == "a"  # type: ignore[index]
        version = other.save(_state("p-seen", "b"))
        assert store.get_projected("p-seen", project) == ("b", version)
    finally:
        other.close()
    with psycopg.connect(postgres_url, autocommit=True) as sql:  # the document only, same version
        sql.execute(
            "UPDATE workflow_states SET document = jsonb_set(document, '{CurrentStep}', '\"c\"')"
            " WHERE workflow_id = 'p-seen'"
        )
    step, _ = store.get_projected("p-seen", project)  # type: ignore[misc]
    assert step == "c"
    assert store.get_projected("p-seen", lambda s: s) == store.get("p-seen")
    store.delete("p-seen")
    assert store.get_projected("p-seen", project) is None

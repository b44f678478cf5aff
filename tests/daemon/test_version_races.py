"""Two daemons on one backend, writers on both racing conditional saves: one winner per round.

The contract suite races threads of one process; here the writers reach the same state through
two wfstored processes sharing a data directory (the check and the write hold a ``flock``) or
a PostgreSQL database (one statement under the row's lock), and an embedded store races too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from wfstore import ConflictError, ExecutionContext, StateStore
from wfstored import JSONStateStore

from tests.support.daemon import start_daemon

pytestmark = pytest.mark.daemon

ROUNDS = 60
WRITERS_PER_STORE = 2


def _state(step: str) -> ExecutionContext:
    return ExecutionContext(workflow_id="contended", workflow_name="race", current_step=step)


def _round(stores: list[StateStore], expected: int, number: int) -> list[int | ConflictError]:
    """Every writer saves at once with ``expected``; return every outcome."""
    writers = [store for store in stores for _ in range(WRITERS_PER_STORE)]
    barrier = threading.Barrier(len(writers))
    outcomes: list[int | ConflictError] = []

    def write(index: int, store: StateStore) -> None:
        barrier.wait()
        try:
            outcomes.append(store.save(_state(f"{number}-{index}"), expected_version=expected))
        except ConflictError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=write, args=item) for item in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _race(stores: list[StateStore]) -> tuple[int, int]:
    """Run the rounds; return (rounds won by exactly one writer, conflicts seen)."""
    version = stores[0].save(_state("start"))
    conflicts = 0
    for number in range(ROUNDS):
        outcomes = _round(stores, version, number)
        won = [outcome for outcome in outcomes if isinstance(outcome, int)]
        assert len(won) == 1, outcomes
        lost = [outcome for outcome in outcomes if isinstance(outcome, ConflictError)]
        assert all(error.current_version == won[0] for error in lost), outcomes
        conflicts += len(lost)
        version = won[0]
        for store in stores:  # every side reads the winner's version now
            stored = store.get("contended")
            assert stored is not None
            assert stored.version == version
    return ROUNDS, conflicts


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def test_two_daemons_and_an_embedded_store_on_one_data_dir(
    tmp_path: Path, stack: ExitStack
) -> None:
    data = tmp_path / "data"
    first = start_daemon(data)
    stack.callback(first.stop)
    second = start_daemon(data, unix=False)
    stack.callback(second.stop)
    embedded = JSONStateStore(data / "state")
    stack.callback(embedded.close)
    stores: list[StateStore] = [
        stack.enter_context(first.client(timeout=20)).state,
        stack.enter_context(second.client(timeout=20)).state,
        embedded,
    ]
    rounds, conflicts = _race(stores)
    assert conflicts == rounds * (len(stores) * WRITERS_PER_STORE - 1)


@pytest.mark.postgres
def test_two_daemons_and_an_embedded_store_on_one_database(
    tmp_path: Path, postgres_url: str, stack: ExitStack
) -> None:
    from wfstored import PostgresStateStore  # noqa: PLC0415 (needs the postgres extra)

    stores_flag = ["--state-store", postgres_url]
    first = start_daemon(tmp_path / "a", extra=stores_flag)
    stack.callback(first.stop)
    second = start_daemon(tmp_path / "b", extra=stores_flag)
    stack.callback(second.stop)
    embedded = PostgresStateStore(postgres_url)
    stack.callback(embedded.close)
    stores: list[StateStore] = [
        stack.enter_context(first.client(timeout=20)).state,
        stack.enter_context(second.client(timeout=20)).state,
        embedded,
    ]
    rounds, conflicts = _race(stores)
    assert conflicts == rounds * (len(stores) * WRITERS_PER_STORE - 1)

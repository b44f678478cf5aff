"""Two daemons on one backend, writers on both racing conditional saves: one winner per round.

The contract suite races threads of one process; here the writers reach the same state through
two wfstored processes sharing a data directory (the check and the write hold a ``flock``) or
a PostgreSQL database (one statement under the row's lock), and an embedded store races too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from wfstore import ExecutionContext, StateStore
from wfstored import JSONStateStore

from tests.support.daemon import Daemon, start_daemon
from tests.support.races import WORKFLOW_ID, race_once

pytestmark = pytest.mark.daemon

ROUNDS = 60
WRITERS_PER_STORE = 2


def _race(stores: list[StateStore]) -> int:
    """Run the rounds, two writers per store; return how many conflicts the losers got."""
    version = stores[0].save(ExecutionContext(workflow_id=WORKFLOW_ID))
    conflicts = 0
    for number in range(ROUNDS):
        version, lost = race_once(stores * WRITERS_PER_STORE, version, str(number))
        conflicts += len(lost)
        for store in stores:  # every side reads the winner's version now
            stored = store.get(WORKFLOW_ID)
            assert stored is not None
            assert stored.version == version
    return conflicts


def _stores(stack: ExitStack, daemons: list[Daemon], embedded: StateStore) -> list[StateStore]:
    """The state stores of ``daemons`` (clients closed with ``stack``), then ``embedded``."""
    stack.callback(embedded.close)
    return [*(stack.enter_context(d.client(timeout=20)).state for d in daemons), embedded]


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
    stores = _stores(stack, [first, second], JSONStateStore(data / "state"))
    assert _race(stores) == ROUNDS * (len(stores) * WRITERS_PER_STORE - 1)


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
    stores = _stores(stack, [first, second], PostgresStateStore(postgres_url))
    assert _race(stores) == ROUNDS * (len(stores) * WRITERS_PER_STORE - 1)

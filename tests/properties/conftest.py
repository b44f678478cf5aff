"""Fixtures of the property-based suite: stores that live for a whole module.

Hypothesis runs many examples per test, so the stores (and the daemon) are made once per
module rather than once per example; every property is written to hold on a store that
already holds the data of earlier examples.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from property_stores import Stores
from wfstored import JSONStateStore, SQLiteHistoryStore

from tests.support.daemon import Daemon, serving
from tests.support.hypothesis_profiles import load_profile

load_profile()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One wfstored for the whole module."""
    with serving(tmp_path_factory.mktemp("daemon") / "data") as running:
        yield running


@pytest.fixture(scope="module", params=["embedded", "daemon", "postgres"])
def stores(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stores]:
    """The embedded adapters (files and SQLite, or PostgreSQL), or a client of a daemon."""
    if request.param == "embedded":
        data_dir = tmp_path_factory.mktemp("embedded")
        state = JSONStateStore(data_dir / "state")
        with SQLiteHistoryStore(data_dir / "history.db") as history:
            yield Stores("embedded", state, history, data_dir)
        state.close()
        return
    if request.param == "postgres":
        cluster = request.getfixturevalue("postgres_cluster")  # skips without PostgreSQL
        from wfstored.storage.postgres import (  # noqa: PLC0415 (optional)
            PostgresHistoryStore,
            PostgresStateStore,
        )

        url = cluster.new_database()
        with PostgresStateStore(url) as pg_state, PostgresHistoryStore(url) as pg_history:
            yield Stores("postgres", pg_state, pg_history, None)
        return
    daemon: Daemon = request.getfixturevalue("daemon")
    with daemon.client(timeout=30) as client:
        yield Stores("daemon", client.state, client.history, daemon.data_dir)

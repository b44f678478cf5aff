"""Fixtures of the property-based suite: stores that live for a whole module.

Hypothesis runs many examples per test, so the stores (and the daemon) are made once per
module rather than once per example; every property is written to hold on a store that
already holds the data of earlier examples.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from property_stores import Stores
from wfstore import StateStore
from wfstored import JSONStateStore, SQLiteHistoryStore

from tests.support.daemon import Daemon, serving, start_daemon
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


@pytest.fixture(params=["files", "postgres"])
def two_stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[StateStore, StateStore]]:
    """Clients of two daemons on one backend: one data directory, or one PostgreSQL database."""
    with ExitStack() as stack:
        if request.param == "files":
            extra: list[str] = []
            dirs = (tmp_path / "data", tmp_path / "data")
        else:
            url: str = request.getfixturevalue("postgres_url")
            extra = ["--state-store", url]
            dirs = (tmp_path / "a", tmp_path / "b")
        daemons = [start_daemon(dirs[0], extra=extra)]
        daemons.append(start_daemon(dirs[1], unix=False, extra=extra))
        for daemon in daemons:
            stack.callback(daemon.stop)
        first, second = (stack.enter_context(d.client(timeout=20)).state for d in daemons)
        yield first, second

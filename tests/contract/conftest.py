"""The implementations every contract test runs against: embedded, and through the daemon."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from daemon_process import Daemon, start_daemon
from wfstore import Client, HistoryStore, StateStore
from wfstored import JSONStore, SQLiteHistoryStore

IMPLEMENTATIONS = ["embedded", "daemon-tcp", "daemon-unix"]


@dataclass
class StateTarget:
    """A state store under test and the directory its files land in."""

    store: StateStore
    state_dir: Path
    daemon: Daemon | None


@dataclass
class HistoryTarget:
    """A history store under test and the database file behind it."""

    store: HistoryStore
    db_path: Path
    daemon: Daemon | None


@contextmanager
def _daemon_client(implementation: str, tmp_path: Path) -> Iterator[tuple[Daemon, Client]]:
    """A fresh daemon and a client on the transport ``daemon-tcp`` or ``daemon-unix`` names."""
    daemon = start_daemon(tmp_path / "data")
    client = daemon.client(implementation.removeprefix("daemon-"), timeout=10)
    try:
        yield daemon, client
    finally:
        client.close()
        assert daemon.stop() == 0, daemon.stderr()


@pytest.fixture(params=IMPLEMENTATIONS)
def state_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateTarget]:
    """A fresh, empty state store of each implementation."""
    if request.param == "embedded":
        store = JSONStore(tmp_path / "state")
        yield StateTarget(store, tmp_path / "state", None)
        store.close()
        return
    with _daemon_client(request.param, tmp_path) as (daemon, client):
        yield StateTarget(client.state, daemon.data_dir / "state", daemon)


@pytest.fixture(params=IMPLEMENTATIONS)
def history_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryTarget]:
    """A fresh, empty history store of each implementation."""
    if request.param == "embedded":
        store = SQLiteHistoryStore(tmp_path / "history.db")
        yield HistoryTarget(store, tmp_path / "history.db", None)
        store.close()
        return
    with _daemon_client(request.param, tmp_path) as (daemon, client):
        yield HistoryTarget(client.history, daemon.data_dir / "history.db", daemon)

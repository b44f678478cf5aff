"""The implementations every contract test runs against: embedded, and through the daemon."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from async_bridge import Blocking, LoopThread
from daemon_process import Daemon, start_daemon
from wfstore import HistoryStore, StateStore, aio
from wfstored import JSONStore, SQLiteHistoryStore

IMPLEMENTATIONS = ["embedded", "daemon-tcp", "daemon-unix", "daemon-aio"]


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
def _daemon_client(implementation: str, tmp_path: Path) -> Iterator[tuple[Daemon, Any]]:
    """A fresh daemon and a client: blocking over ``tcp`` or ``unix``, or asyncio (``aio``).

    The asyncio client runs on a loop in another thread, behind a blocking facade, so the same
    tests exercise it.
    """
    daemon = start_daemon(tmp_path / "data")
    transport = implementation.removeprefix("daemon-")
    try:
        if transport != "aio":
            with daemon.client(transport, timeout=10) as client:
                yield daemon, client
            return
        loop = LoopThread()

        async def connect() -> aio.Client:
            return aio.Client(daemon.tcp_target, timeout=10)

        async_client = loop.run(connect())
        try:
            yield (
                daemon,
                SimpleNamespace(
                    state=Blocking(async_client.state, loop),
                    history=Blocking(async_client.history, loop),
                ),
            )
        finally:
            loop.run(async_client.close())
            loop.close()
    finally:
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

"""The implementations every contract test runs against: embedded, and through the daemon.

``daemon-tls-token`` is the daemon with TLS on its TCP listener and a token file: the whole
suite then also proves that protection changes no behaviour.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from wfstore import HistoryStore, StateStore, aio
from wfstored import JSONStateStore, SQLiteHistoryStore

from tests.support.async_bridge import Blocking, LoopThread
from tests.support.daemon import Daemon, start_daemon, write_tls_files, write_token_file

IMPLEMENTATIONS = ["embedded", "daemon-tcp", "daemon-unix", "daemon-aio", "daemon-tls-token"]
_TOKEN = secrets.token_urlsafe(32)


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
    if implementation == "daemon-tls-token":
        tls_files = write_tls_files(tmp_path / "tls")
        token_file = write_token_file(tmp_path / "tokens", _TOKEN)
        daemon = start_daemon(
            tmp_path / "data",
            unix=False,
            extra=[*tls_files.server_flags(), "--auth-token-file", str(token_file)],
            tls=tls_files.client_tls(),
            client_options={"token": _TOKEN},
        )
        transport = "tcp"
    else:
        daemon = start_daemon(tmp_path / "data")
        transport = implementation.removeprefix("daemon-")
    try:
        if transport != "aio":
            with daemon.client(transport, timeout=10) as client:
                yield daemon, client
            return
        loop = LoopThread()

        async def connect() -> aio.Client:
            return daemon.aio_client(timeout=10)

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
        store = JSONStateStore(tmp_path / "state")
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

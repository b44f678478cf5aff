"""DaemonService.GetServerInfo through a real daemon: files and SQLite, and PostgreSQL.

What the daemon reports must match what it holds: the states and records written, the bytes
of its files or tables, its listeners and process; and the call needs the token like any other.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from wfstore import ExecutionContext, ServerInfo, StoreInfo, UnauthenticatedError

from tests.support.daemon import Daemon, serving, write_token_file
from tests.support.factories import record

pytestmark = pytest.mark.daemon
TOKEN = secrets.token_urlsafe(32)


def _fill(daemon: Daemon, states: int, records: int) -> None:
    with daemon.client(timeout=10) as client:
        for i in range(states):
            client.state.save(ExecutionContext.new(f"run-{i}", "deploy"))
        client.state.delete("run-0")
        client.history.record_batch([record(f"rec-{i}") for i in range(records)])


def _stores(info: ServerInfo) -> dict[str, StoreInfo]:
    assert [store.role for store in info.stores] == ["state", "history"]
    return {store.role: store for store in info.stores}


def test_a_files_and_sqlite_daemon_describes_itself(daemon: Daemon) -> None:
    _fill(daemon, states=4, records=7)
    before = datetime.now(UTC)
    with daemon.client(timeout=10) as client:
        info = client.server_info()
    assert info.pid == daemon.process.pid
    assert info.hostname == socket.gethostname()
    assert info.version
    assert timedelta(0) < info.uptime < timedelta(minutes=5)
    assert before - timedelta(minutes=5) < info.started_at <= before
    assert info.listeners == [daemon.tcp_target, daemon.unix_target]
    assert info.open_watches == 0
    stores = _stores(info)
    data = daemon.data_dir.resolve()
    state, history = stores["state"], stores["history"]
    assert (state.backend, Path(state.location).resolve()) == ("files", data / "state")
    assert state.item_count == 3  # four saved, one deleted
    files = [p for p in (data / "state").rglob("*") if p.is_file()]
    assert state.size_bytes == sum(p.stat().st_size for p in files)
    assert (history.backend, Path(history.location).resolve()) == ("sqlite", data / "history.db")
    assert history.item_count == 7
    assert history.size_bytes is not None
    assert history.size_bytes >= (data / "history.db").stat().st_size
    assert state.error == history.error == ""


def test_open_watches_are_counted(daemon: Daemon) -> None:
    with daemon.client(timeout=10) as client:
        watches = [client.state.watch("run-"), client.state.watch("")]
        try:
            assert client.server_info().open_watches == 2
        finally:
            for watch in watches:
                watch.close()
        deadline = time.monotonic() + 10
        while client.server_info().open_watches and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.server_info().open_watches == 0


def test_the_asyncio_client_and_the_unix_socket_get_the_same_description(daemon: Daemon) -> None:
    _fill(daemon, states=2, records=1)

    async def describe() -> ServerInfo:
        async with daemon.aio_client("unix", timeout=10) as client:
            return await client.server_info()

    info = asyncio.run(describe())
    assert info.pid == daemon.process.pid
    assert [(s.role, s.item_count) for s in info.stores] == [("state", 1), ("history", 1)]


def test_a_store_that_cannot_be_read_reports_why(daemon: Daemon) -> None:
    state_dir = daemon.data_dir / "state"
    state_dir.rename(daemon.data_dir / "moved")
    with daemon.client(timeout=10) as client:
        stores = _stores(client.server_info())
    assert stores["state"].item_count is None
    assert stores["state"].size_bytes is None
    assert "No such file or directory" in stores["state"].error
    assert stores["history"].item_count == 0  # the other store is still described


def test_the_call_needs_the_token(tmp_path: Path) -> None:
    tokens = write_token_file(tmp_path / "tokens", TOKEN)
    with serving(tmp_path / "data", extra=["--auth-token-file", str(tokens)]) as daemon:
        with daemon.client(timeout=10) as client, pytest.raises(UnauthenticatedError):
            client.server_info()
        with daemon.client(timeout=10, token=TOKEN) as client:
            assert client.server_info().pid == daemon.process.pid


@pytest.mark.postgres
def test_a_postgres_daemon_describes_its_database(postgres_url: str, tmp_path: Path) -> None:
    with serving(
        tmp_path / "data", extra=["--state-store", postgres_url, "--history-store", postgres_url]
    ) as daemon:
        _fill(daemon, states=3, records=5)
        with daemon.client(timeout=10) as client:
            info = client.server_info()
    stores = _stores(info)
    assert [s.backend for s in info.stores] == ["postgres", "postgres"]
    assert stores["state"].item_count == 2
    assert stores["history"].item_count == 5
    assert all(s.size_bytes is not None and s.size_bytes > 8192 for s in info.stores)
    assert all(s.location == postgres_url for s in info.stores)  # it has no password to hide

"""The implementations every contract test runs against: embedded, and through the daemon.

``daemon-tls-token`` is the daemon with TLS on its TCP listener and a token file: the whole
suite then also proves that protection changes no behaviour.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from wfstore import HistoryStore, StateStore, aio
from wfstored import JSONStateStore, SQLiteHistoryStore

from tests.support.async_bridge import Blocking, LoopThread
from tests.support.daemon import Daemon, start_daemon, write_tls_files, write_token_file

IMPLEMENTATIONS = ["embedded", "daemon-tcp", "daemon-unix", "daemon-aio", "daemon-tls-token"]
"""Every implementation of both ports, on the default backends (JSON files and SQLite)."""
POSTGRES_IMPLEMENTATIONS = ["postgres-embedded", "postgres-daemon"]
"""Both stores on PostgreSQL, embedded and through the daemon."""
STATE_IMPLEMENTATIONS = [*IMPLEMENTATIONS, *POSTGRES_IMPLEMENTATIONS]
HISTORY_IMPLEMENTATIONS = [*IMPLEMENTATIONS, *POSTGRES_IMPLEMENTATIONS]
_TOKEN = secrets.token_urlsafe(32)


@dataclass
class StateTarget:
    """A state store under test, and where its data lands: files, or a database."""

    store: StateStore
    state_dir: Path | None
    """The directory of the state files; None on PostgreSQL."""
    daemon: Daemon | None
    database_url: str | None = None
    """The PostgreSQL database behind the store, if that is where states live."""

    def plant(self, workflow_id: str, document: bytes) -> bool:
        """Store ``document`` under ``workflow_id`` behind the store's back, as another tool would.

        Returns False when this backend cannot hold such bytes at all (a database's jsonb
        column holds only JSON), so there is nothing to test.
        """
        if self.state_dir is not None:
            (self.state_dir / f"{workflow_id}.json").write_bytes(document)
            return True
        try:
            json.loads(document)
        except ValueError:
            return False
        assert self.database_url is not None
        with psycopg.connect(self.database_url) as conn:
            conn.execute(
                "INSERT INTO workflow_states (workflow_id, workflow_name, status, document)"
                " VALUES (%s, '', '', %s::jsonb) ON CONFLICT (workflow_id) DO UPDATE"
                " SET document = EXCLUDED.document",
                (workflow_id, document.decode()),
            )
        return True

    def expire_changes(self) -> None:
        """Drop every change logged so far, as retention does, so older tokens expire."""
        if self.state_dir is not None:
            for segment in (self.state_dir / ".wfstore-changes").glob("*.log"):
                segment.unlink()
            return
        assert self.database_url is not None
        with psycopg.connect(self.database_url) as conn:
            conn.execute(
                "UPDATE wfstore_watch SET compacted_through ="
                " (SELECT max(seq) FROM wfstore_state_changes)"
            )
            conn.execute("DELETE FROM wfstore_state_changes")

    def plant_strangers(self) -> None:
        """Put things beside the states that are not states (files; rows of another table)."""
        if self.state_dir is not None:
            (self.state_dir / "notes.txt").write_text("not a state")
            (self.state_dir / ".wfstore-3-abc.tmp").write_text("{")
            return
        assert self.database_url is not None
        with psycopg.connect(self.database_url) as conn:
            conn.execute("CREATE TABLE notes (workflow_id TEXT PRIMARY KEY)")
            conn.execute("INSERT INTO notes VALUES ('not-a-state')")


@dataclass
class HistoryTarget:
    """A history store under test and the database file behind it."""

    store: HistoryStore
    db_path: Path | None
    """The SQLite file behind the store; None on PostgreSQL."""
    daemon: Daemon | None


@contextmanager
def _daemon_client(
    implementation: str, tmp_path: Path, extra: Sequence[str] = ()
) -> Iterator[tuple[Daemon, Any]]:
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
        daemon = start_daemon(tmp_path / "data", extra=extra)
        transport = implementation.removeprefix("daemon-").removeprefix("postgres-daemon")
        transport = transport or "tcp"
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


@pytest.fixture(params=STATE_IMPLEMENTATIONS)
def state_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateTarget]:
    """A fresh, empty state store of each implementation."""
    if request.param == "embedded":
        store = JSONStateStore(tmp_path / "state")
        yield StateTarget(store, tmp_path / "state", None)
        store.close()
        return
    if request.param == "postgres-embedded":
        url = request.getfixturevalue("postgres_url")  # skips without PostgreSQL
        from wfstored.storage.postgres import PostgresStateStore  # noqa: PLC0415 (optional)

        pg_store = PostgresStateStore(url)
        yield StateTarget(pg_store, None, None, url)
        pg_store.close()
        return
    if request.param == "postgres-daemon":
        url = request.getfixturevalue("postgres_url")
        with _daemon_client(request.param, tmp_path, ["--state-store", url]) as (daemon, client):
            yield StateTarget(client.state, None, daemon, url)
        return
    with _daemon_client(request.param, tmp_path) as (daemon, client):
        yield StateTarget(client.state, daemon.data_dir / "state", daemon)


@pytest.fixture(params=HISTORY_IMPLEMENTATIONS)
def history_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryTarget]:
    """A fresh, empty history store of each implementation."""
    if request.param == "embedded":
        store = SQLiteHistoryStore(tmp_path / "history.db")
        yield HistoryTarget(store, tmp_path / "history.db", None)
        store.close()
        return
    if request.param == "postgres-embedded":
        url = request.getfixturevalue("postgres_url")  # skips without PostgreSQL
        from wfstored.storage.postgres import PostgresHistoryStore  # noqa: PLC0415 (optional)

        pg_store = PostgresHistoryStore(url)
        yield HistoryTarget(pg_store, None, None)
        pg_store.close()
        return
    extra: list[str] = []
    if request.param == "postgres-daemon":
        extra = ["--history-store", request.getfixturevalue("postgres_url")]
    with _daemon_client(request.param, tmp_path, extra) as (daemon, client):
        db_path = None if extra else daemon.data_dir / "history.db"
        yield HistoryTarget(client.history, db_path, daemon)

"""The ways the watch benchmark saves and watches, per backend: through daemons and embedded.

For each backend, :func:`file_setups` and :func:`postgres_setups` start two wfstored on the
same data directory (files) or database (PostgreSQL) and open two embedded stores on another
directory (on the same database), registering every teardown on an ExitStack. Each
:class:`Setup` pairs a Save with a way to open watchers:

- ``daemon``: the saver and the watchers on daemon A;
- ``cross-daemon``: the saver on A, the watchers on B (the file backend finds other processes'
  writes by polling; PostgreSQL wakes B with NOTIFY);
- ``embedded``: the saver and the watchers on one store object in this process;
- ``embedded, two stores``: the watchers on a second store object over the same directory or
  database (as another process would see the writes, without a second process).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from wfstore import Client, StateStore

from scripts.bench._servers import Server, start_wfstored
from scripts.bench._watch_local import ThreadWatchers
from scripts.bench._watch_remote import RemoteWatchers
from scripts.bench._watch_samples import Received
from scripts.bench._watch_saver import Save

_READY_SECONDS = 30.0


class WatcherGroup(Protocol):
    """Watchers that are all open, recording every event they get until finished."""

    count: int
    errors: list[str]

    def cpu_seconds(self) -> float | None:
        """Return the CPU time the watchers' own processes used so far (None: not measured)."""
        ...

    def finish(self, expected: int, grace: float) -> list[Received]:
        """Wait up to ``grace`` s for each watcher to have ``expected`` events; return all."""
        ...

    def close(self) -> None:
        """Stop watching; idempotent."""
        ...


OpenWatchers = Callable[[int, str], WatcherGroup]
"""Open ``count`` watchers of a prefix, returning once every one of them is watching."""


@dataclass(frozen=True)
class Setup:
    """One way of saving and watching on one backend."""

    cell: str
    backend: str
    save: Save
    open_watchers: OpenWatchers
    servers: tuple[Server, ...] = ()
    """The daemons involved, whose CPU time the cell measures."""

    def server_cpu_seconds(self) -> float | None:
        """Return the CPU time of the daemons so far (None for embedded setups)."""
        return sum(s.cpu_seconds() for s in self.servers) if self.servers else None


def _remote(server: Server, processes: int) -> OpenWatchers:
    def open_watchers(count: int, prefix: str) -> WatcherGroup:
        return RemoteWatchers(server.tcp, count, prefix, processes=processes)

    return open_watchers


def _local(store: StateStore) -> OpenWatchers:
    def open_watchers(count: int, prefix: str) -> WatcherGroup:
        return ThreadWatchers(store, count, prefix)

    return open_watchers


def _daemons(stack: ExitStack, work: Path, backend: str, *stores: str) -> tuple[Server, Server]:
    """Start daemons A and B (on one data directory unless ``stores`` name a database)."""
    servers = []
    for name in ("a", "b"):
        data = work / (f"{backend}-data" if not stores else f"{backend}-data-{name}")
        sock, log = work / f"{backend}-{name}.sock", work / f"{backend}-{name}.log"
        server = start_wfstored(data, sock, log, *stores)
        stack.callback(server.stop)
        servers.append(server)
    return servers[0], servers[1]


def _setups(
    stack: ExitStack,
    backend: str,
    daemons: tuple[Server, Server],
    stores: tuple[StateStore, StateStore],
    processes: int,
) -> list[Setup]:
    a, b = daemons
    client = stack.enter_context(Client(a.tcp, timeout=_READY_SECONDS))
    client.wait_until_ready(_READY_SECONDS)
    return [
        Setup("daemon", backend, client.state.save, _remote(a, processes), (a,)),
        Setup("cross-daemon", backend, client.state.save, _remote(b, processes), (a, b)),
        Setup("embedded", backend, stores[0].save, _local(stores[0])),
        Setup("embedded, two stores", backend, stores[0].save, _local(stores[1])),
    ]


def file_setups(stack: ExitStack, work: Path, processes: int) -> list[Setup]:
    """Start the file backend's daemons and stores; return its setups (daemon ones first)."""
    from wfstored import JSONStateStore  # noqa: PLC0415 (the server package, loaded on use)

    daemons = _daemons(stack, work, "files")
    stores = (JSONStateStore(work / "embedded-files"), JSONStateStore(work / "embedded-files"))
    for store in stores:
        stack.callback(store.close)
    return _setups(stack, "files", daemons, stores, processes)


def postgres_setups(stack: ExitStack, work: Path, url: str, processes: int) -> list[Setup]:
    """Start daemons and stores on the database at ``url``; return its setups."""
    from wfstored import PostgresStateStore  # noqa: PLC0415 (needs wfstore[postgres])

    daemons = _daemons(stack, work, "postgresql", "--state-store", url, "--history-store", url)
    stores = (PostgresStateStore(url), PostgresStateStore(url))
    for store in stores:
        stack.callback(store.close)
    return _setups(stack, "postgresql", daemons, stores, processes)


__all__ = ["OpenWatchers", "Setup", "WatcherGroup", "file_setups", "postgres_setups"]

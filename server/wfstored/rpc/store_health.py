"""Store health on the standard health service: NOT_SERVING while a store cannot be used.

A store may offer ``ping()`` (see :class:`Pingable`): the PostgreSQL stores do, since their
database can go away while the daemon runs. A watcher thread pings each such store every
``interval`` seconds and sets its service's status (``wfstore.v1.StateService`` or
``wfstore.v1.HistoryService``), and the overall status (``""``) to SERVING only while every
store answers. Stores without ``ping`` (files, SQLite) are always reported SERVING: their
failures show on the calls themselves. Load balancers and Kubernetes probes read it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from grpc_health.v1 import health, health_pb2
from wfstore.errors import StoreError

__all__ = ["Pingable", "StoreHealthWatcher"]

_log = logging.getLogger("wfstored.health")
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@runtime_checkable
class Pingable(Protocol):
    """A store that can tell whether it can be used now."""

    def ping(self) -> None:
        """Return if the store can be used now; raise a StoreError saying why not."""
        ...


class StoreHealthWatcher:
    """Keeps the health service's statuses in step with the stores' pings."""

    def __init__(
        self, servicer: health.HealthServicer, stores: Mapping[str, object], interval: float
    ) -> None:
        """Watch ``stores`` (service name to store), pinging every ``interval`` seconds."""
        self._servicer = servicer
        self._stores = {name: s for name, s in stores.items() if isinstance(s, Pingable)}
        self._interval = interval
        self._stop = threading.Event()
        self._down: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="wfstored-health", daemon=True)

    def start(self) -> None:
        """Set every status now, then keep them up to date in the background."""
        for name in self._stores:
            self._servicer.set(name, _SERVING)
        if self._stores:
            self._thread.start()

    def stop(self) -> None:
        """Stop watching (the statuses stay as they are)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def check_now(self) -> None:
        """Ping every store once and set the statuses."""
        for name, store in self._stores.items():
            try:
                store.ping()
            except StoreError as exc:
                if name not in self._down:
                    _log.warning("%s: NOT_SERVING: %s", name, exc.message)
                self._down.add(name)
                self._servicer.set(name, _NOT_SERVING)
                continue
            if name in self._down:
                _log.warning("%s: SERVING again", name)
                self._down.discard(name)
            self._servicer.set(name, _SERVING)
        self._servicer.set("", _NOT_SERVING if self._down else _SERVING)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.check_now()

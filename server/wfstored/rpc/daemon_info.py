"""What ``DaemonService.GetServerInfo`` reports: the process, its listeners, its stores.

The RPC layer knows no backend: a store that offers ``describe()`` (see :class:`Describable`;
every wfstored store does) says what it holds; one that does not is reported without figures.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Protocol, runtime_checkable

import wfstore
from wfstore.deadlines import remaining_seconds
from wfstore.domain import ServerInfo, StoreInfo
from wfstore.timestamps import utc_now

__all__ = ["DESCRIBE_SECONDS", "DaemonFacts", "Describable"]

DESCRIBE_SECONDS: Final = 2.0
"""How long each store may spend counting what it holds, at most."""
_MARGIN_SECONDS: Final = 0.05  # left for encoding the reply within the caller's deadline


@runtime_checkable
class Describable(Protocol):
    """A store that can say where it is and what it holds, within a time budget."""

    def describe(self, timeout: float = ...) -> StoreInfo:
        """Return the store's backend, location, item count and size; never raise."""
        ...


@dataclass(kw_only=True)
class DaemonFacts:
    """The daemon's description, less what changes: filled in once the server is bound."""

    stores: Sequence[tuple[str, object]]
    """Each store with its role (``"state"``, ``"history"``)."""
    open_watches: Callable[[], int]
    """How many Watch streams are open now."""
    version: str = field(default_factory=lambda: wfstore.__version__)
    """The daemon's version."""
    listeners: list[str] = field(default_factory=list)
    """The bound addresses."""
    started_at: datetime = field(default_factory=utc_now)
    """When the daemon started."""
    _started: float = field(default_factory=time.monotonic)

    def describe(self) -> ServerInfo:
        """Return the description now, counting each store within its share of the time."""
        return ServerInfo(
            version=self.version,
            started_at=self.started_at,
            uptime=timedelta(seconds=time.monotonic() - self._started),
            listeners=list(self.listeners),
            stores=[self._store(role, store, i) for i, (role, store) in enumerate(self.stores)],
            hostname=socket.gethostname(),
            pid=os.getpid(),
            open_watches=self.open_watches(),
        )

    def _store(self, role: str, store: object, index: int) -> StoreInfo:
        if not isinstance(store, Describable):
            return StoreInfo(
                role=role,
                backend=type(store).__name__,
                location="",
                error="this store cannot describe itself",
            )
        budget = DESCRIBE_SECONDS
        left = remaining_seconds()
        if left is not None:  # share what the caller allows among the stores still to count
            budget = min(budget, max(0.0, left - _MARGIN_SECONDS) / (len(self.stores) - index))
        return store.describe(budget)

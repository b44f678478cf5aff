"""Draining on shutdown: new calls get UNAVAILABLE while in-flight calls finish."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from wfstore.errors import UnavailableError

__all__ = ["Drain"]


class Drain:
    """Counts calls in flight and, once closed, turns new calls away.

    gRPC's own ``server.stop`` answers new calls with CANCELLED; clients should instead see
    UNAVAILABLE, which they know to retry elsewhere or later.
    """

    def __init__(self) -> None:
        """Start open, with no call in flight."""
        self._lock = threading.Condition()
        self._in_flight = 0
        self._closed = False

    @contextmanager
    def call(self) -> Iterator[None]:
        """Run one call; raise UnavailableError instead if draining has begun."""
        self.enter()
        try:
            yield
        finally:
            self.leave()

    def enter(self) -> None:
        """Count a call in; raise UnavailableError if draining has begun. Pair with leave."""
        with self._lock:
            if self._closed:
                raise UnavailableError("wfstored is shutting down; retry on another instance")
            self._in_flight += 1

    def leave(self) -> None:
        """Count a call out (one :meth:`enter` returned for it)."""
        with self._lock:
            self._in_flight -= 1
            if self._closed:
                self._lock.notify_all()  # only a closing drain waits

    @property
    def closing(self) -> bool:
        """Whether draining has begun: long-lived streams end when they see it."""
        return self._closed

    def close(self, timeout: float) -> bool:
        """Turn new calls away and wait up to ``timeout`` s for in-flight ones; True if idle."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closed = True
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

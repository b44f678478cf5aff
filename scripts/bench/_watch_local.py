"""Watchers of an embedded store, in the benchmark's own process: a thread per watch.

An embedded store's watch is blocking (``poll``), so each of the watchers polls on a thread
of its own, beside the saver: what an application that embeds the store and watches it
would do. A watcher takes the time an event reaches it as ``poll`` returns.
"""

from __future__ import annotations

import threading
import time

from wfstore import StateStore, StateWatch

from scripts.bench._watch_samples import Received, now_ns

_POLL_SECONDS = 0.1


class ThreadWatchers:
    """``count`` watches of ids starting with ``prefix`` on ``store``, each on a thread."""

    def __init__(self, store: StateStore, count: int, prefix: str) -> None:
        """Open every watch (from now on) and start polling them."""
        self.count = count
        self.errors: list[str] = []
        """Why watchers stopped early (an exception from ``poll``), once finished."""
        self._stop = threading.Event()
        self._watches: list[StateWatch] = []
        self._received: list[list[Received]] = [[] for _ in range(count)]
        self._threads: list[threading.Thread] = []
        try:
            for _ in range(count):
                self._watches.append(store.watch(prefix))
            for k, watch in enumerate(self._watches):
                thread = threading.Thread(
                    target=self._poll, args=(k, watch), name=f"bench-watcher-{k}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
        except BaseException:
            self.close()
            raise

    def cpu_seconds(self) -> float | None:
        """Not measured (None): the watchers share the benchmark's process with the saver."""
        return None

    def finish(self, expected: int, grace: float) -> list[Received]:
        """Wait up to ``grace`` s for each watcher to have ``expected`` events; return all."""
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(len(r) < expected for r in self._received):
            time.sleep(0.01)
        self.close()
        return [event for events in self._received for event in events]

    def close(self) -> None:
        """Stop the threads and close the watches; idempotent."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for watch in self._watches:
            watch.close()
        self._threads.clear()
        self._watches.clear()

    def _poll(self, watcher: int, watch: StateWatch) -> None:
        out = self._received[watcher]
        try:
            while not self._stop.is_set():
                events = watch.poll(_POLL_SECONDS)
                at = now_ns()
                out.extend(Received(watcher, e.workflow_id, e.version, at) for e in events)
        except Exception as exc:  # noqa: BLE001 (reported with the cell's results)
            self.errors.append(f"watcher {watcher}: {type(exc).__name__}: {exc}")


__all__ = ["ThreadWatchers"]

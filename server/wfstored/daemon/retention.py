"""History retention: a background thread that deletes old records, round after round.

With ``--history-retention``, the daemon runs a round shortly after start-up and then every
``--cleanup-interval``: it deletes the history records completed before now minus the
retention, in batches of at most 1000 rows, each its own transaction, with a pause between
them so that writers interleave. Each round is one log line. On a shared PostgreSQL database
one daemon runs a round at a time (an advisory lock); the others skip it and say so.

:class:`RetentionCounters` holds what a round did, for the metrics endpoint or anyone else:
plain numbers behind a lock, no Prometheus here.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, Protocol

from wfstore.durations import format_duration
from wfstore.errors import StoreError

from wfstored.storage.shared.pruning import BATCH_ROWS, PruneResult

__all__ = [
    "BATCH_PAUSE",
    "FIRST_ROUND_DELAY",
    "Prunable",
    "RetentionCounters",
    "RetentionFigures",
    "RetentionTask",
]

_log = logging.getLogger("wfstored.retention")

FIRST_ROUND_DELAY: Final = 5.0
"""Seconds after start-up before the first round (less if the interval is shorter)."""
BATCH_PAUSE: Final = 0.02
"""Seconds between two batches of a round: writers get the database in between."""

RoundResult = Literal["", "removed", "skipped", "failed"]
"""How the last round ended: ``""`` before the first."""


class Prunable(Protocol):
    """What retention needs of a history store."""

    def prune(
        self,
        older_than: timedelta,
        *,
        batch_size: int = BATCH_ROWS,
        pause: float = 0.0,
        stop: threading.Event | None = None,
    ) -> PruneResult | None:
        """Delete records completed before now - ``older_than`` in batches; None: skipped."""
        ...


@dataclass(frozen=True, slots=True)
class RetentionFigures:
    """A snapshot of :class:`RetentionCounters`."""

    rounds: int = 0
    """Rounds run to the end (removing nothing counts)."""
    rounds_skipped: int = 0
    """Rounds skipped because another daemon on the same database was running one."""
    rounds_failed: int = 0
    """Rounds ended by an error."""
    records_removed: int = 0
    """Records deleted by every round so far."""
    last_started: datetime | None = None
    """When the last round began (UTC)."""
    last_seconds: float = 0.0
    """How long the last round took."""
    last_removed: int = 0
    """Records the last round deleted."""
    last_result: RoundResult = ""
    """How the last round ended."""


class RetentionCounters:
    """Thread-safe counters of the retention rounds; :meth:`figures` reads them all at once."""

    def __init__(self) -> None:
        """Start at zero."""
        self._lock = threading.Lock()
        self._figures = RetentionFigures()

    def figures(self) -> RetentionFigures:
        """Return the counters as they are now."""
        with self._lock:
            return self._figures

    def note(self, started: datetime, seconds: float, result: RoundResult, removed: int) -> None:
        """Record one round."""
        with self._lock:
            f = self._figures
            self._figures = RetentionFigures(
                rounds=f.rounds + (result == "removed"),
                rounds_skipped=f.rounds_skipped + (result == "skipped"),
                rounds_failed=f.rounds_failed + (result == "failed"),
                records_removed=f.records_removed + removed,
                last_started=started,
                last_seconds=seconds,
                last_removed=removed,
                last_result=result,
            )


class RetentionTask:
    """Runs retention rounds on a thread of its own until :meth:`stop`."""

    def __init__(  # noqa: PLR0913 (each is one knob of the rounds)
        self,
        history: Prunable,
        retention: timedelta,
        interval: timedelta,
        *,
        first_delay: float = FIRST_ROUND_DELAY,
        batch_size: int = BATCH_ROWS,
        pause: float = BATCH_PAUSE,
    ) -> None:
        """Prepare rounds deleting records older than ``retention`` every ``interval``."""
        self._history = history
        self._retention = retention
        self._interval = interval.total_seconds()
        self._first_delay = min(first_delay, self._interval)
        self._batch_size = batch_size
        self._pause = pause
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wfstored-retention", daemon=True)
        self.counters = RetentionCounters()
        """What the rounds did so far."""

    def start(self) -> None:
        """Start the rounds: the first after a short delay, then one every interval."""
        _log.info(
            "retention: deleting history records older than %s, every %s",
            format_duration(self._retention),
            format_duration(timedelta(seconds=self._interval)),
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the batch in progress and wait for the thread (up to ``timeout`` s)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_round(self) -> RetentionFigures:
        """Run one round now, on the calling thread; log it and return the counters."""
        started = datetime.now(UTC)
        clock = time.monotonic()
        removed = 0
        result: RoundResult
        try:
            outcome = self._history.prune(
                self._retention, batch_size=self._batch_size, pause=self._pause, stop=self._stop
            )
        except StoreError as exc:
            result = "failed"
            _log.warning("retention: round failed: %s", exc)
        except Exception:  # noqa: BLE001 (a bug must not end the rounds unseen)
            result = "failed"
            _log.exception("retention: round failed")
        else:
            seconds = time.monotonic() - clock
            if outcome is None:
                result = "skipped"
                _log.info("retention: skipped: another daemon is running a round on this database")
            else:
                result, removed = "removed", outcome.removed
                early = "" if outcome.complete else " (stopped early: shutting down)"
                _log.info(
                    "retention: removed %d history records completed before %s in %.3f s "
                    "(%d batches)%s",
                    removed,
                    outcome.cutoff.isoformat(timespec="seconds"),
                    seconds,
                    outcome.batches,
                    early,
                )
        self.counters.note(started, time.monotonic() - clock, result, removed)
        return self.counters.figures()

    def _run(self) -> None:
        delay = self._first_delay
        while not self._stop.wait(delay):
            self.run_round()
            delay = self._interval

"""Reading a watch in tests: exactly so many events, within a time limit."""

from __future__ import annotations

import time
from typing import Any

from wfstore import StateEvent

__all__ = ["take_events"]


def take_events(watch: Any, count: int, timeout: float = 10.0) -> list[StateEvent]:
    """Return the next ``count`` events of ``watch``; fail if they do not all come in time."""
    events: list[StateEvent] = []
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        events.extend(watch.poll(0.1))
    assert len(events) == count, events
    return events

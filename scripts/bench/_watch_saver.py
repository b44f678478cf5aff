"""The writer side of the watch benchmark: Saves at a steady rate, or back to back.

Saves go round a few workflow ids that share a prefix (the one every watcher watches), each
holding the benchmark's realistic state (:func:`~scripts.bench._payloads.make_state`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from wfstore import ExecutionContext

from scripts.bench._payloads import make_state
from scripts.bench._watch_samples import SaveMark, now_ns

Save = Callable[[ExecutionContext], int]
"""A store's ``save`` (embedded or through a client): takes a state, returns its version."""


def states_for(prefix: str, count: int) -> list[ExecutionContext]:
    """Return ``count`` realistic states whose ids start with ``prefix``."""
    return [make_state(f"{prefix}{k:02d}") for k in range(count)]


def paced_saves(
    save: Save, states: Sequence[ExecutionContext], count: int, interval: float
) -> list[SaveMark]:
    """Save ``count`` times, one every ``interval`` seconds, going round ``states``.

    The schedule is fixed in advance (save k at start + k * interval): a Save that runs late
    delays the next one only while it overruns, so the rate holds whenever Saves keep up.
    """
    marks: list[SaveMark] = []
    began = time.monotonic()
    for k in range(count):
        delay = began + k * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        state = states[k % len(states)]
        start = now_ns()
        version = save(state)
        marks.append(SaveMark(state.workflow_id, version, start, now_ns()))
    return marks


def back_to_back_saves(
    save: Save, states: Sequence[ExecutionContext], seconds: float
) -> list[SaveMark]:
    """Save one after the other for ``seconds`` seconds, going round ``states``."""
    marks: list[SaveMark] = []
    end = now_ns() + int(seconds * 1e9)
    k = 0
    while (start := now_ns()) < end:
        state = states[k % len(states)]
        version = save(state)
        marks.append(SaveMark(state.workflow_id, version, start, now_ns()))
        k += 1
    return marks


__all__ = ["Save", "back_to_back_saves", "paced_saves", "states_for"]

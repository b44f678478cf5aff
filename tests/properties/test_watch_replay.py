"""Random saves and deletes over two daemons, watched by a watcher that keeps resuming.

Six writer threads, half on each of two daemons sharing one backend, save (on the version they
read, or unconditionally) and delete (likewise) a few ids at random. One watcher reads every
change and, after a random number of events each time, closes its watch and resumes from its
last token on the *other* daemon. Afterwards, replaying what it saw must give exactly what is
stored; every acknowledged save was seen once (no version skipped or repeated), nothing
else was seen, each id's versions only grow, and every state carried is the one saved at
that version.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import pytest
from wfstore import ConflictError, ExecutionContext, StateEvent, StateStore

pytestmark = pytest.mark.daemon

IDS = ("w-0", "w-1", "w-2", "w-3")
OPERATIONS_PER_THREAD = 100
THREADS = 6
SEED = 20261204


@dataclass
class Log:
    """What the writers had acknowledged: every save, by id and version, with its marker."""

    saves: dict[tuple[str, int], str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _writer(store: StateStore, seed: int, log: Log) -> None:
    rng = random.Random(seed)  # noqa: S311 (a workload, not a secret)
    for n in range(OPERATIONS_PER_THREAD):
        workflow_id = rng.choice(IDS)
        stored = store.get(workflow_id)
        read = 0 if stored is None else stored.version
        expected = read if rng.random() < 0.6 else None
        marker = f"{seed}-{n}"
        try:
            if rng.random() < 0.25:
                store.delete(workflow_id, expected_version=expected if stored else None)
                continue
            state = ExecutionContext(workflow_id=workflow_id, current_step=marker)
            version = store.save(state, expected_version=expected)
        except ConflictError:
            continue
        with log.lock:
            log.saves[(workflow_id, version)] = marker


class Watcher:
    """Reads every change, resuming on the other store after a random number of events."""

    def __init__(self, stores: tuple[StateStore, StateStore], seed: int) -> None:
        self._stores = stores
        self._rng = random.Random(seed)  # noqa: S311
        self.events: list[StateEvent] = []
        self.resumes = 0
        self._watch = stores[0].watch("w-")
        self.stop = threading.Event()

    def run(self) -> None:
        side = 0
        budget = self._rng.randint(1, 25)
        idle_since = time.monotonic()
        while not (self.stop.is_set() and time.monotonic() - idle_since > 2.0):
            batch = self._watch.poll(0.2)
            if batch:
                idle_since = time.monotonic()
            for event in batch:
                self.events.append(event)
                budget -= 1
                if budget == 0:
                    # Resume right after this event, on the other daemon.
                    self._watch.close()
                    side = 1 - side
                    self._watch = self._stores[side].watch("w-", resume_token=event.resume_token)
                    self.resumes += 1
                    budget = self._rng.randint(1, 25)
                    break  # the rest of the batch comes again from the new watch
        self._watch.close()


def test_replaying_a_resuming_watcher_gives_exactly_what_is_stored(
    two_stores: tuple[StateStore, StateStore],
) -> None:
    log = Log()
    watcher = Watcher(two_stores, SEED)
    watching = threading.Thread(target=watcher.run)
    watching.start()
    writers = [
        threading.Thread(target=_writer, args=(two_stores[n % 2], SEED + n, log))
        for n in range(THREADS)
    ]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    watcher.stop.set()
    watching.join(timeout=60)
    events = watcher.events
    assert len(log.saves) > THREADS * 5, "hardly any save went through"
    assert watcher.resumes > 5

    seen = [(e.workflow_id, e.version) for e in events]
    assert len(set(seen)) == len(seen), "an event seen twice"
    saved = {(e.workflow_id, e.version) for e in events if e.kind == "saved"}
    assert saved == set(log.saves), "saves missed or invented"
    replay: dict[str, StateEvent] = {}
    for event in events:
        previous = replay.get(event.workflow_id)
        assert previous is None or event.version > previous.version, event
        if event.kind == "deleted":
            assert previous is not None
            assert previous.kind == "saved"
        if event.state is not None:
            assert event.state.current_step == log.saves[(event.workflow_id, event.version)]
        replay[event.workflow_id] = event
    for workflow_id in IDS:
        stored = two_stores[0].get(workflow_id)
        last = replay.get(workflow_id)
        if stored is None:
            assert last is None or last.kind == "deleted", workflow_id
            continue
        assert last is not None
        assert last.kind == "saved"
        assert (last.version, last.state) == (stored.version, stored.state)
    print(  # noqa: T201 (the figures the closing note quotes)
        f"watch replay: {len(log.saves)} saves acknowledged, {len(events)} events seen,"
        f" {watcher.resumes} resumes"
    )

"""Random conditional saves and deletes from many clients over two daemons: a consistent history.

Eight threads, half on each of two daemons sharing one backend, pick one of a few ids at random
and either save it on the version they last read, delete it on that version, or read it again;
conflicts are expected and answered by reading again. Every acknowledged save is logged with
the version it returned. Afterwards: no version was acknowledged twice for one id, every
acknowledged write was a successor of the version its writer read, and each id holds exactly
the last write acknowledged for it (the save with the highest version, unless a delete of that
version was acknowledged after it).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

import pytest
from wfstore import ConflictError, ExecutionContext, StateStore

pytestmark = pytest.mark.daemon

IDS = ("v-0", "v-1", "v-2")
OPERATIONS_PER_THREAD = 60
THREADS = 8


@dataclass(frozen=True)
class Acked:
    """One acknowledged write: a save (with its new version) or a delete (of ``read``)."""

    workflow_id: str
    kind: str
    read: int
    version: int
    marker: str


def _worker(store: StateStore, seed: int, log: list[Acked], lock: threading.Lock) -> None:
    rng = random.Random(seed)  # noqa: S311 (a workload, not a secret)
    for n in range(OPERATIONS_PER_THREAD):
        workflow_id = rng.choice(IDS)
        stored = store.get(workflow_id)
        read = 0 if stored is None else stored.version
        marker = f"{seed}-{n}"
        try:
            if stored is not None and rng.random() < 0.2:
                store.delete(workflow_id, expected_version=read)
                entry = Acked(workflow_id, "delete", read, read, marker)
            else:
                state = ExecutionContext(workflow_id=workflow_id, current_step=marker)
                version = store.save(state, expected_version=read)
                entry = Acked(workflow_id, "save", read, version, marker)
        except ConflictError:
            continue
        with lock:
            log.append(entry)


def test_random_conditional_writes_leave_a_consistent_history(
    two_stores: tuple[StateStore, StateStore],
) -> None:
    log: list[Acked] = []
    lock = threading.Lock()
    threads = [
        threading.Thread(target=_worker, args=(two_stores[n % 2], 1000 + n, log, lock))
        for n in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(log) > THREADS, "hardly any write went through"
    for workflow_id in IDS:
        saves = [e for e in log if e.workflow_id == workflow_id and e.kind == "save"]
        versions = [e.version for e in saves]
        assert len(set(versions)) == len(versions), f"{workflow_id}: a version acknowledged twice"
        assert all(e.version > e.read for e in saves)
        stored = two_stores[0].get(workflow_id)
        assert stored == two_stores[1].get(workflow_id)
        if not saves:
            assert stored is None
            continue
        last = max(saves, key=lambda e: e.version)
        deleted = any(
            e.workflow_id == workflow_id and e.kind == "delete" and e.read == last.version
            for e in log
        )
        if deleted:
            assert stored is None, f"{workflow_id}: the last save was deleted, yet {stored}"
        else:
            assert stored is not None
            assert (stored.state.current_step, stored.version) == (last.marker, last.version)

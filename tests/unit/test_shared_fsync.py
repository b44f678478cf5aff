"""SharedFsync: callers arriving while an fsync runs share the next one, never the running one."""

from __future__ import annotations

import errno
import threading
import time

import pytest
from wfstored.storage.shared.shared_fsync import SharedFsync


class BlockingSync:
    """A sync that waits for a go-ahead per run, and logs when each run starts and ends."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.go = threading.Semaphore(0)
        self.fail_next = False

    def __call__(self) -> None:
        self.log.append("start")
        self.go.acquire()
        self.log.append("end")
        if self.fail_next:
            self.fail_next = False
            raise OSError(errno.EIO, "injected")


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_lone_caller_runs_its_own_sync_each_time() -> None:
    runs: list[int] = []
    shared = SharedFsync(lambda: runs.append(1))
    for _ in range(3):
        shared()
    assert len(runs) == 3
    assert shared.syncs == 3


def test_callers_arriving_during_a_sync_wait_for_the_next_and_share_it() -> None:
    sync = BlockingSync()
    shared = SharedFsync(sync)
    returned: list[str] = []

    def call(name: str) -> None:
        shared()
        returned.append(name)

    first = threading.Thread(target=call, args=("first",))
    first.start()
    wait_for(lambda: sync.log == ["start"])
    late = [threading.Thread(target=call, args=(f"late{n}",)) for n in range(4)]
    for thread in late:
        thread.start()
    time.sleep(0.05)  # the late callers are waiting now
    sync.go.release()  # the first sync ends; it started before the late callers' changes
    first.join(5)
    wait_for(lambda: sync.log == ["start", "end", "start"])
    assert returned == ["first"]  # nobody late returned on a sync that began before them
    sync.go.release()
    for thread in late:
        thread.join(5)
    assert sorted(returned[1:]) == ["late0", "late1", "late2", "late3"]
    assert shared.syncs == 2  # four callers, one fsync


def test_a_failed_sync_fails_every_caller_it_served_and_the_next_call_tries_again() -> None:
    sync = BlockingSync()
    shared = SharedFsync(sync)
    errors: list[int] = []

    def call() -> None:
        try:
            shared()
        except OSError as exc:
            errors.append(exc.errno or 0)

    first = threading.Thread(target=call)
    first.start()
    wait_for(lambda: sync.log == ["start"])
    late = [threading.Thread(target=call) for _ in range(3)]
    for thread in late:
        thread.start()
    time.sleep(0.05)
    sync.go.release()  # the first run succeeds
    wait_for(lambda: sync.log == ["start", "end", "start"])
    sync.fail_next = True
    sync.go.release()  # the shared second run fails
    for thread in (first, *late):
        thread.join(5)
    assert errors == [errno.EIO] * 3
    sync.go.release()
    shared()  # a new call runs a new sync, which succeeds
    assert sync.log[-2:] == ["start", "end"]


def test_a_lone_failure_is_raised_as_is() -> None:
    def broken() -> None:
        raise OSError(errno.ENOSPC, "full")

    shared = SharedFsync(broken)
    with pytest.raises(OSError, match="full"):
        shared()

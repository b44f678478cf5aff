"""Group commit: each writer gets its own outcome, concurrent writers share transactions."""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from wfstored.storage.shared.group_commit import GroupCommitter


class _Log:
    """A commit function that records its batches, and can hold the first one back."""

    def __init__(self, *, hold_first: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, items: Sequence[int]) -> list[BaseException | None]:
        self.entered.set()
        self.release.wait(10)
        self.batches.append(list(items))
        return [ValueError(f"odd {item}") if item % 2 else None for item in items]


def _submit_all(committer: GroupCommitter[int], items: Sequence[int]) -> dict[int, str]:
    """Submit ``items`` from one thread each; return each item's outcome."""
    outcomes: dict[int, str] = {}

    def submit(item: int) -> None:
        try:
            committer.submit(item)
            outcomes[item] = "ok"
        except ValueError as exc:
            outcomes[item] = str(exc)

    with ThreadPoolExecutor(len(items)) as pool:
        list(pool.map(submit, items))
    return outcomes


def test_a_lone_writer_commits_on_its_own_thread() -> None:
    threads: list[threading.Thread] = []

    def commit(items: Sequence[int]) -> list[BaseException | None]:
        threads.append(threading.current_thread())
        return [None for _ in items]

    committer = GroupCommitter(commit)
    committer.submit(1)
    committer.submit(2)
    assert threads == [threading.current_thread()] * 2
    assert committer.batch_sizes.batches == 2


def test_each_writer_gets_its_own_outcome_and_waiters_share_a_batch() -> None:
    log = _Log(hold_first=True)
    committer = GroupCommitter(log)
    first = threading.Thread(target=committer.submit, args=(0,))
    first.start()
    assert log.entered.wait(10)  # 0 leads and is committing: the others queue behind it
    waiting = threading.Timer(0.3, log.release.set)
    waiting.start()
    outcomes = _submit_all(committer, range(1, 9))
    first.join()
    waiting.join()
    assert outcomes == {n: "ok" if n % 2 == 0 else f"odd {n}" for n in range(1, 9)}
    assert log.batches[0] == [0]
    assert sorted(n for batch in log.batches[1:] for n in batch) == list(range(1, 9))
    assert len(log.batches) < 9
    assert committer.batch_sizes.writes == 9


def test_batches_are_at_most_max_batch() -> None:
    log = _Log(hold_first=True)
    committer = GroupCommitter(log, max_batch=3)
    first = threading.Thread(target=committer.submit, args=(0,))
    first.start()
    assert log.entered.wait(10)
    threading.Timer(0.3, log.release.set).start()
    outcomes = _submit_all(committer, range(2, 22, 2))
    first.join()
    assert set(outcomes.values()) == {"ok"}
    assert max(len(batch) for batch in log.batches) <= 3
    assert sorted(n for batch in log.batches for n in batch) == [0, *range(2, 22, 2)]


def test_a_commit_that_raises_fails_every_write_of_its_batch_and_the_next_go_on() -> None:
    calls = 0

    def commit(items: Sequence[int]) -> list[BaseException | None]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk gone")
        return [None for _ in items]

    committer = GroupCommitter(commit)
    with pytest.raises(OSError, match="disk gone"):
        committer.submit(1)
    committer.submit(2)  # the lead was given up: the next writer commits


def test_a_fatal_exception_reaches_the_writer_and_frees_the_lead() -> None:
    log = _Log(hold_first=True)
    fatal = True

    def commit(items: Sequence[int]) -> list[BaseException | None]:
        nonlocal fatal
        log.entered.set()
        log.release.wait(10)
        if fatal:
            fatal = False
            raise KeyboardInterrupt
        return [None for _ in items]

    committer = GroupCommitter(commit)
    errors: list[BaseException] = []

    def submit(item: int) -> None:
        try:
            committer.submit(item)
        except BaseException as exc:  # noqa: BLE001 (what each writer got)
            errors.append(exc)

    first = threading.Thread(target=submit, args=(0,))
    first.start()
    assert log.entered.wait(10)
    log.release.set()
    first.join()
    assert [type(e) for e in errors] == [KeyboardInterrupt]
    committer.submit(1)  # nobody holds the lead any more


def test_many_writers_lose_nothing_and_none_hangs() -> None:
    seen: list[int] = []

    def commit(items: Sequence[int]) -> list[BaseException | None]:
        seen.extend(items)
        return [None for _ in items]

    committer = GroupCommitter(commit, max_batch=4)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(committer.submit, range(2000), timeout=60))
    assert sorted(seen) == list(range(2000))
    assert committer.batch_sizes.writes == 2000


class _InterruptedError(Exception):
    """What the test's signal handler raises."""


def test_a_writer_interrupted_while_waiting_is_forgotten_and_the_lead_goes_on() -> None:
    """A signal in the main thread stops its wait: its write is dropped, nobody hangs."""
    log = _Log(hold_first=True)
    committer = GroupCommitter(log)
    leader = threading.Thread(target=committer.submit, args=(0,))
    leader.start()
    assert log.entered.wait(10)

    def interrupt(signum: int, frame: object) -> None:
        del signum, frame
        raise _InterruptedError

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(_InterruptedError):
            committer.submit(2)  # queued behind 0, then interrupted
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    log.release.set()
    leader.join(10)
    assert not leader.is_alive()
    committer.submit(4)
    assert log.batches == [[0], [4]]

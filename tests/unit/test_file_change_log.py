"""The file backend's change log and the watch hub, on real files.

A writer killed between announcing a change and recording its outcome leaves an intent behind;
readers must neither lose the change (if the file was replaced) nor invent one (if it was not).
A watcher that reads too slowly is cut off when polled, and resumes by itself when iterated.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from wfstore import ExecutionContext, WatchLaggedError
from wfstore.awf_state import encode_state
from wfstored import JSONStateStore
from wfstored.storage.files import change_feed
from wfstored.storage.files.change_feed import SETTLE_AFTER
from wfstored.storage.files.change_log import SEGMENT_BYTES, Intent, parse_tail
from wfstored.storage.files.state_store import stripe_of
from wfstored.storage.files.versions import stamp
from wfstored.storage.shared.watch_hub import WatchHub

from tests.support.watching import take_events


def _state(workflow_id: str, step: str = "") -> ExecutionContext:
    return ExecutionContext(workflow_id=workflow_id, workflow_name="deploy", current_step=step)


def _crash_after_intent(store: JSONStateStore, state: ExecutionContext, *, replaced: bool) -> int:
    """Do what a writer killed mid-save leaves: an intent, and the file replaced or not."""
    workflow_id = state.workflow_id
    stripe = stripe_of(workflow_id)
    current = store._version(workflow_id)
    version = (current or 0) + 1
    store._log.begin(stripe, Intent("saved", version, workflow_id), store._version)
    if replaced:
        path = store._path(workflow_id)
        store._replace(path, stamp(encode_state(state), version), stripe)
    return version


@pytest.mark.parametrize("replaced", [True, False], ids=["file-replaced", "file-untouched"])
def test_a_dead_writers_intent_is_settled_from_the_file(tmp_path: Path, *, replaced: bool) -> None:
    store = JSONStateStore(tmp_path)
    first = store.save(_state("run-1", "a"))
    watch = store.watch()
    version = _crash_after_intent(store, _state("run-1", "crashed"), replaced=replaced)
    started = time.monotonic()
    if replaced:
        (event,) = take_events(watch, 1)
        assert (event.version, event.state) == (version, _state("run-1", "crashed"))
        assert time.monotonic() - started >= SETTLE_AFTER * 0.9  # waited for the writer first
    else:
        assert watch.poll(SETTLE_AFTER + 0.5) == []
    # The stripe goes on: the next save gets the next version and its event.
    after = store.save(_state("run-1", "after"))
    assert after == (version if replaced else first) + 1
    (event,) = take_events(watch, 1)
    assert event.version == after
    store.close()


def test_the_next_writer_settles_a_dead_writers_intent_at_once(tmp_path: Path) -> None:
    store = JSONStateStore(tmp_path)
    watch = store.watch()
    crashed_at = time.monotonic()
    version = _crash_after_intent(store, _state("run-1", "crashed"), replaced=True)
    after = store.save(_state("run-1", "after"))
    settled_within = time.monotonic() - crashed_at
    # When the save returns, the dead intent is settled in the log (its outcome follows it):
    # by the writer, under its lock, since readers wait SETTLE_AFTER before doing it.
    segments = sorted((tmp_path / ".wfstore-changes").glob(f"{stripe_of('run-1')}-*.log"))
    lines = b"".join(segment.read_bytes() for segment in segments).splitlines()
    assert lines == [
        f'S {version} "run-1"'.encode(),
        b"+",
        f'S {after} "run-1"'.encode(),
        b"+",
    ]
    if settled_within < SETTLE_AFTER:  # else a reader may have settled it first, also right
        assert [e.version for e in take_events(watch, 2)] == [version, after]
    store.close()


@pytest.mark.parametrize("inotify", [True, False], ids=["inotify", "polling"])
def test_another_process_store_sees_the_same_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, inotify: bool
) -> None:
    if not inotify:  # as on systems without inotify: the reader polls the stripes
        monkeypatch.setattr(change_feed, "open_directory_events", lambda _: None)
    writer, reader = JSONStateStore(tmp_path), JSONStateStore(tmp_path)
    watch = reader.watch()
    versions = [writer.save(_state(f"run-{n}")) for n in range(100)]
    events = take_events(watch, 100)
    assert sorted(e.version for e in events) == sorted(versions)
    writer.close()
    reader.close()


def test_segments_roll_over_and_old_tokens_expire(tmp_path: Path) -> None:
    store = JSONStateStore(tmp_path)
    store._log.segment_bytes = 4096
    watch = store.watch(include_state=False)
    start = watch.resume_token
    workflow_id = "x" * 240  # long lines: fewer saves to fill segments
    line = len(f'S 1796404172780988 "{workflow_id}"\n+\n')
    saves = 4 * 4096 // line + 20
    assert SEGMENT_BYTES > 4096
    last = 0
    for _ in range(saves):
        last = store.save(_state(workflow_id))
    assert take_events(watch, saves, timeout=60)[-1].version == last
    segments = sorted((tmp_path / ".wfstore-changes").glob(f"{stripe_of(workflow_id)}-*.log"))
    assert len(segments) == 4
    with pytest.raises(Exception, match="no longer kept"):
        store.watch(resume_token=start)
    store.close()


def test_a_slow_watcher_is_cut_off_when_polled_and_catches_up_when_iterated(
    tmp_path: Path,
) -> None:
    store = JSONStateStore(tmp_path)
    hub = WatchHub(store._watch_hub().feed, poll_interval=0.01, capacity=8)
    polled, iterated = hub.watch(), hub.watch(include_state=False)
    versions = [store.save(_state(f"run-{n}")) for n in range(30)]
    time.sleep(0.3)  # the hub reads all 30; its ring keeps 8
    with pytest.raises(WatchLaggedError):
        polled.poll(0.1)
    seen = [next(iterated).version for _ in range(30)]
    assert sorted(seen) == sorted(versions)
    resumed = hub.watch(resume_token=polled.resume_token)
    assert sorted(e.version for e in take_events(resumed, 30)) == sorted(versions)
    hub.close()
    store.close()


def test_the_tail_of_a_segment_is_read_right() -> None:
    assert parse_tail(b"", 0).state == "clean"
    assert parse_tail(b'S 5 "a"\n+\n', 0).state == "clean"
    pending = parse_tail(b'S 5 "a"\n+\nS 6 "a"\n', 100)
    assert (pending.state, pending.settled, pending.intent) == (
        "pending",
        110,
        Intent("saved", 6, "a"),
    )
    partial = parse_tail(b'S 5 "a"\n+\nS 6 "', 0)
    assert (partial.state, partial.complete, partial.settled) == ("partial", 10, 10)
    assert parse_tail(b"+\n>\n", 0).state == "continued"


def test_a_change_made_before_the_inotify_watch_exists_is_still_read(tmp_path: Path) -> None:
    """The feed looked at the stripe, then a save, then the watch began: nothing reports it."""
    store = JSONStateStore(tmp_path)
    store.save(_state("run-1", "a"))
    feed = store._watch_hub()._feed  # the hub exists; its thread starts with a watch
    _, cursor = feed.read(feed.head(), 100)  # looked at every stripe: their ends are known
    version = store.save(_state("run-1", "b"))  # appended while no inotify watch exists
    feed.wait(0.01)  # makes the watch, which reports only what comes after it
    changes, _ = feed.read(cursor, 100)
    assert [change.version for change in changes] == [version]
    store.close()

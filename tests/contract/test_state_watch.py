"""Watch, the same on every StateStore: embedded and through wfstored, files and PostgreSQL."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from conftest import StateTarget
from wfstore import (
    ExecutionContext,
    InvalidArgumentError,
    StateEvent,
    WatchExpiredError,
)

from tests.support.watching import take_events


def _state(workflow_id: str, step: str = "") -> ExecutionContext:
    return ExecutionContext(workflow_id=workflow_id, workflow_name="deploy", current_step=step)


def _quiet(watch: Any) -> None:
    """Check that no further event arrives for a moment."""
    assert watch.poll(0.6) == []


def _summary(events: list[StateEvent]) -> list[tuple[str, str, int]]:
    return [(e.kind, e.workflow_id, e.version) for e in events]


def test_watch_sees_saves_and_deletes_of_its_prefix_in_order(state_target: StateTarget) -> None:
    store = state_target.store
    store.save(_state("run-0"))  # before the watch: not seen
    with store.watch("run-") as watch:
        first = store.save(_state("run-1", "a"))
        second = store.save(_state("run-1", "b"))
        store.save(_state("other-1"))
        store.delete("run-1")
        store.delete("run-never-saved")  # nothing deleted: no event
        events = take_events(watch, 3)
        _quiet(watch)
    kinds = _summary(events)
    assert kinds[:2] == [("saved", "run-1", first), ("saved", "run-1", second)]
    assert kinds[2][:2] == ("deleted", "run-1")
    assert kinds[2][2] > second
    assert events[2].state is None
    for event, step in zip(events[:2], "ab", strict=True):
        # A state replaced before the event was read is left out; one sent is the right one.
        assert event.state is None or event.state == _state("run-1", step)
    tokens = [e.resume_token for e in events]
    assert all(tokens)
    assert len(set(tokens)) == len(tokens)


def test_an_event_read_at_once_carries_the_state_saved(state_target: StateTarget) -> None:
    store = state_target.store
    with store.watch() as watch:
        version = store.save(_state("run-1", "built"))
        (event,) = take_events(watch, 1)
    assert event.kind == "saved"
    assert event.version == version
    assert event.state == _state("run-1", "built")


def test_watch_one_id_and_ids_only(state_target: StateTarget) -> None:
    store = state_target.store
    with store.watch(workflow_id="run-1", include_state=False) as watch:
        store.save(_state("run-10"))
        store.save(_state("run"))
        version = store.save(_state("run-1"))
        (event,) = take_events(watch, 1)
        _quiet(watch)
    assert (event.kind, event.workflow_id, event.version, event.state) == (
        "saved",
        "run-1",
        version,
        None,
    )


def test_a_resume_token_resumes_exactly_after_its_event(state_target: StateTarget) -> None:
    store = state_target.store
    with store.watch() as watch:
        start = watch.resume_token
        for step in "abcd":
            store.save(_state("run-1", step))
        store.delete("run-1")
        events = take_events(watch, 5)
    with store.watch(resume_token=events[1].resume_token, include_state=False) as resumed:
        assert _summary(take_events(resumed, 3)) == _summary(events[2:])
        _quiet(resumed)
    with store.watch(resume_token=start) as from_start:
        assert _summary(take_events(from_start, 5)) == _summary(events)
        _quiet(from_start)


def test_a_watch_with_a_token_sees_changes_made_while_nobody_watched(
    state_target: StateTarget,
) -> None:
    store = state_target.store
    with store.watch() as watch:
        token = watch.resume_token
    version = store.save(_state("run-1"))
    with store.watch(resume_token=token) as resumed:
        (event,) = take_events(resumed, 1)
    assert (event.workflow_id, event.version) == ("run-1", version)


def test_the_token_moves_on_with_changes_to_other_ids(state_target: StateTarget) -> None:
    store = state_target.store
    with store.watch(workflow_id="run-1") as watch:
        start = watch.resume_token
        store.save(_state("run-2"))
        token = start
        for _ in range(20):  # bookmarks: at least once a second when the watch moved on
            assert watch.poll(0.25) == []
            token = watch.resume_token
            if token != start:
                break
    assert token != start
    version = store.save(_state("run-1"))
    with store.watch(workflow_id="run-1", resume_token=token) as resumed:
        (event,) = take_events(resumed, 1)
    assert event.version == version


def test_bad_arguments_are_invalid(state_target: StateTarget) -> None:
    store = state_target.store
    for kwargs in (
        {"resume_token": "not a token"},
        {"resume_token": "AAAA"},
        {"prefix": "run-", "workflow_id": "run-1"},
        {"workflow_id": "bad/id"},
    ):
        with pytest.raises(InvalidArgumentError):
            store.watch(**kwargs)


def test_a_token_of_another_log_or_an_expired_one_is_refused(state_target: StateTarget) -> None:
    store = state_target.store
    with store.watch() as watch:
        store.save(_state("run-1"))
        (event,) = take_events(watch, 1)
    raw = bytearray(base64.urlsafe_b64decode(event.resume_token + "=="))
    raw[3] ^= 0xFF  # the log's epoch: a token of a store made again
    foreign = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(WatchExpiredError):
        store.watch(resume_token=foreign)
    store.save(_state("run-1"))  # a change after the token, then dropped by retention
    state_target.expire_changes()
    with pytest.raises(WatchExpiredError, match="watch anew"):
        store.watch(resume_token=event.resume_token)


def test_a_closed_watch_ends_its_iteration(state_target: StateTarget) -> None:
    store = state_target.store
    watch = store.watch()
    store.save(_state("run-1"))
    assert take_events(watch, 1)[0].workflow_id == "run-1"
    watch.close()
    watch.close()
    assert list(watch) == []


def test_each_watcher_gets_a_state_of_its_own(state_target: StateTarget) -> None:
    store = state_target.store
    with store.watch() as first, store.watch() as second:
        store.save(_state("run-1", "saved"))
        (mine,) = take_events(first, 1)
        assert mine.state is not None
        mine.state.current_step = "changed by the first watcher"
        (theirs,) = take_events(second, 1)
    assert theirs.state == _state("run-1", "saved")

"""Versions and conditional writes, the same on every StateStore: embedded and through wfstored."""

from __future__ import annotations

import pickle

import pytest
from conftest import StateTarget
from wfstore import (
    ConflictError,
    ExecutionContext,
    InvalidArgumentError,
    StoredState,
)

from tests.support.factories import full_context
from tests.support.races import WORKFLOW_ID, race_once


def _state(workflow_id: str = "run-1", step: str = "") -> ExecutionContext:
    return ExecutionContext(workflow_id=workflow_id, workflow_name="deploy", current_step=step)


def test_save_returns_a_version_that_grows_and_get_reads_it(state_target: StateTarget) -> None:
    store = state_target.store
    first = store.save(_state(step="a"))
    second = store.save(_state(step="b"))
    assert first > 0
    assert second > first
    assert store.get("run-1") == StoredState(state=_state(step="b"), version=second)
    assert store.get("missing") is None
    assert store.load("run-1") == _state(step="b")


def test_get_returns_the_full_state(state_target: StateTarget) -> None:
    state = full_context("run-full")
    version = state_target.store.save(state)
    assert state_target.store.get("run-full") == StoredState(state=state, version=version)


def test_expected_version_zero_creates_only(state_target: StateTarget) -> None:
    store = state_target.store
    version = store.save(_state(step="first"), expected_version=0)
    with pytest.raises(ConflictError) as caught:
        store.save(_state(step="second"), expected_version=0)
    assert caught.value.workflow_id == "run-1"
    assert caught.value.current_version == version
    assert store.load("run-1") == _state(step="first")


def test_expected_version_must_match_the_stored_one(state_target: StateTarget) -> None:
    store = state_target.store
    first = store.save(_state(step="a"))
    second = store.save(_state(step="b"), expected_version=first)
    with pytest.raises(ConflictError, match="run-1") as caught:
        store.save(_state(step="stale"), expected_version=first)
    assert caught.value.current_version == second
    with pytest.raises(ConflictError) as missing:
        store.save(_state("absent"), expected_version=first)
    assert missing.value.workflow_id == "absent"
    assert missing.value.current_version is None
    assert store.get("run-1") == StoredState(state=_state(step="b"), version=second)
    assert store.load("absent") is None


def test_conditional_delete(state_target: StateTarget) -> None:
    store = state_target.store
    version = store.save(_state())
    with pytest.raises(ConflictError) as caught:
        store.delete("run-1", expected_version=version + 1)
    assert caught.value.current_version == version
    assert store.load("run-1") == _state()
    store.delete("run-1", expected_version=version)
    assert store.get("run-1") is None
    with pytest.raises(ConflictError) as gone:
        store.delete("run-1", expected_version=version)
    assert gone.value.current_version is None
    store.delete("run-1")  # unconditional: a missing id is still fine


def test_versions_are_never_reused_after_a_delete(state_target: StateTarget) -> None:
    store = state_target.store
    seen = [store.save(_state(step="a")), store.save(_state(step="b"))]
    store.delete("run-1")
    again = store.save(_state(step="c"), expected_version=0)
    assert again > max(seen)
    with pytest.raises(ConflictError):  # a writer holding an old version never wins
        store.save(_state(step="stale"), expected_version=seen[-1])
    assert store.get("run-1") == StoredState(state=_state(step="c"), version=again)


@pytest.mark.parametrize("bad", [-1, True, 1.5, "3"])
def test_a_bad_expected_version_is_invalid(state_target: StateTarget, bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="expected_version"):
        state_target.store.save(_state(), expected_version=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="expected_version"):
        state_target.store.delete("run-1", expected_version=bad)  # type: ignore[arg-type]
    assert state_target.store.load("run-1") is None


def test_concurrent_conditional_saves_have_one_winner_per_round(
    state_target: StateTarget,
) -> None:
    store = state_target.store
    version = store.save(ExecutionContext(workflow_id=WORKFLOW_ID))
    for round_number in range(15):
        version, _ = race_once([store] * 4, version, str(round_number))
    stored = store.get(WORKFLOW_ID)
    assert stored is not None
    assert stored.version == version


def test_conflict_errors_pickle_with_their_fields() -> None:
    error = ConflictError.for_versions("run-1", 3, 7)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert isinstance(copy, ConflictError)
    assert (copy.workflow_id, copy.current_version, copy.message) == (
        "run-1",
        7,
        error.message,
    )

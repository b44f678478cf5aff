"""The behaviour every StateStore shows: embedded JSONStateStore and the client through wfstored."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from conftest import StateTarget
from wfstore import (
    DataCorruptedError,
    ExecutionContext,
    InvalidArgumentError,
    LoopContext,
    StateStore,
    StepState,
    StoreClosedError,
)

from tests.support.factories import full_context, nanos_time

INVALID_IDS = [
    "",
    "a/b",
    "/etc/passwd",
    "a\\b",
    "nul\x00byte",
    "tab\tid",
    "line\nbreak",
    "del\x7f",
    ".",
    "..",
    "../escape",
    "é" * 126,  # 252 UTF-8 bytes
    "x" * 251,
]
HISTORY_FILES = {"history.db", "history.db-wal", "history.db-shm"}
VALID_IDS = ["v1.2.3", "a b", ".hidden", "é" * 125, "x" * 250, "run-42", "UPPER_case-9"]


def test_is_a_state_store(state_target: StateTarget) -> None:
    assert isinstance(state_target.store, StateStore)


def test_round_trip_of_a_full_state_is_equal(state_target: StateTarget) -> None:
    state = full_context("run-full")
    state_target.store.save(state)
    loaded = state_target.store.load("run-full")
    assert loaded == state
    assert loaded is not None
    assert loaded.started_at is not None
    assert loaded.started_at.nanosecond == 5  # type: ignore[attr-defined]
    assert loaded.states["review"].completed_at == nanos_time(40, 999)


def test_new_context_round_trips(state_target: StateTarget) -> None:
    state = ExecutionContext.new("run-new", "hello-world")
    state_target.store.save(state)
    assert state_target.store.load("run-new") == state


def test_load_of_a_missing_id_is_none(state_target: StateTarget) -> None:
    assert state_target.store.load("never-saved") is None


def test_save_replaces_the_whole_state(state_target: StateTarget) -> None:
    store = state_target.store
    store.save(full_context("run-1"))
    smaller = ExecutionContext(workflow_id="run-1", workflow_name="other", inputs={"n": 1})
    store.save(smaller)
    assert store.load("run-1") == smaller


def test_delete_removes_and_tolerates_missing_ids(state_target: StateTarget) -> None:
    store = state_target.store
    store.save(ExecutionContext.new("run-1", "wf"))
    store.delete("run-1")
    assert store.load("run-1") is None
    store.delete("run-1")
    store.delete("never-saved")
    assert store.list() == []


def test_list_returns_stored_ids_sorted(state_target: StateTarget) -> None:
    store = state_target.store
    ids = ["b", "a b", "A", "é", "v1.2.3", ".hidden", "a"]
    for workflow_id in ids:
        store.save(ExecutionContext.new(workflow_id, "wf"))
    assert store.list() == sorted(ids)
    store.delete("a")
    assert store.list() == sorted(set(ids) - {"a"})


def test_list_ignores_files_that_are_not_states(state_target: StateTarget) -> None:
    store = state_target.store
    store.save(ExecutionContext.new("real", "wf"))
    state_target.plant_strangers()
    assert store.list() == ["real"]


@pytest.mark.parametrize("workflow_id", INVALID_IDS)
def test_invalid_ids_are_rejected_everywhere(state_target: StateTarget, workflow_id: str) -> None:
    store = state_target.store
    with pytest.raises(InvalidArgumentError):
        store.save(ExecutionContext(workflow_id=workflow_id))
    with pytest.raises(InvalidArgumentError):
        store.load(workflow_id)
    with pytest.raises(InvalidArgumentError):
        store.delete(workflow_id)
    if state_target.state_dir is not None:  # no stray file was made on the way
        parent = state_target.state_dir.parent
        assert {p.name for p in parent.iterdir()} <= {"state", *HISTORY_FILES}
    assert store.list() == []


@pytest.mark.parametrize("workflow_id", VALID_IDS)
def test_unusual_but_valid_ids_work(state_target: StateTarget, workflow_id: str) -> None:
    store = state_target.store
    state = ExecutionContext.new(workflow_id, "wf")
    store.save(state)
    assert store.load(workflow_id) == state
    assert store.list() == [workflow_id]
    store.delete(workflow_id)
    assert store.list() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"started_at": datetime(2025, 1, 1)}, "naive"),  # noqa: DTZ001 (the point of the test)
        ({"inputs": {"x": float("nan")}}, "not a JSON number"),
        ({"inputs": {"x": float("inf")}}, "not a JSON number"),
        ({"inputs": {"x": 2**60}}, r"2\^53"),
        ({"inputs": {"x": {1, 2}}}, "not a JSON value"),
        ({"inputs": {1: "int key"}}, "not a str"),
        ({"inputs": {"x": "\ud800"}}, "Unicode"),
        ({"exit_code": 2**31}, "outside"),
        ({"status": "sleeping"}, "not one of"),
        ({"completed_at": datetime(1, 1, 1, tzinfo=UTC)}, "not set"),
        ({"states": {"s": StepState(attempt=-(2**31) - 1)}}, "attempt"),
        ({"states": {"s": "not a step"}}, "StepState"),
        ({"env": {"K": 1}}, "expected a str"),
    ],
)
def test_states_that_cannot_round_trip_are_rejected(
    state_target: StateTarget, change: dict[str, object], message: str
) -> None:
    state = ExecutionContext(workflow_id="bad", **change)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=message):
        state_target.store.save(state)
    assert state_target.store.load("bad") is None


def test_json_nested_too_deep_is_rejected(state_target: StateTarget) -> None:
    deep: object = "leaf"
    for _ in range(21):
        deep = {"d": deep}
    with pytest.raises(InvalidArgumentError, match="deeper than 20"):
        state_target.store.save(ExecutionContext(workflow_id="deep", inputs={"d": deep}))
    ok: object = "leaf"
    for _ in range(19):
        ok = [ok]
    state = ExecutionContext(workflow_id="ok", inputs={"d": ok})
    state_target.store.save(state)
    assert state_target.store.load("ok") == state


def test_loops_nested_too_deep_are_rejected(state_target: StateTarget) -> None:
    loop = None
    for index in range(17):
        loop = LoopContext(index=index, parent=loop)
    with pytest.raises(InvalidArgumentError, match="loops nest deeper"):
        state_target.store.save(ExecutionContext(workflow_id="loops", current_loop=loop))


def test_whole_floats_come_back_as_equal_ints(state_target: StateTarget) -> None:
    state = ExecutionContext(workflow_id="nums", inputs={"f": 3.0, "i": 3, "x": 0.1, "n": -0.0})
    state_target.store.save(state)
    loaded = state_target.store.load("nums")
    assert loaded == state
    assert loaded is not None
    assert type(loaded.inputs["f"]) is int
    assert type(loaded.inputs["x"]) is float


def test_corrupted_files_name_the_id_and_spare_the_others(state_target: StateTarget) -> None:
    store = state_target.store
    good = ExecutionContext.new("good", "wf")
    store.save(good)
    for workflow_id, content in {
        "empty": b"",
        "truncated": b'{"WorkflowID": "trunc',
        "not-json": b"hello",
        "wrong-shape": b'{"WorkflowID": "x", "Inputs": "should be an object"}',
        "array": b"[1, 2]",
        "not-utf8": b'{"WorkflowID": "\xff\xfe"}',
    }.items():
        if state_target.plant(workflow_id, content):
            with pytest.raises(DataCorruptedError, match=workflow_id):
                store.load(workflow_id)
    assert store.load("good") == good


def test_pages_cover_the_list_in_order(state_target: StateTarget) -> None:
    store = state_target.store
    ids = [f"run-{n:03d}" for n in range(25)]
    for workflow_id in reversed(ids):
        store.save(ExecutionContext(workflow_id=workflow_id))
    pages = [store.list_page(page_size=10)]
    while pages[-1].next_page_token:
        pages.append(store.list_page(page_size=10, page_token=pages[-1].next_page_token))
    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert [i for p in pages for i in p.items] == ids == store.list()


@pytest.mark.parametrize("token", ["garbage", "bm90IGEgdG9rZW4", "e30", "!!!"])
def test_forged_page_tokens_are_rejected(state_target: StateTarget, token: str) -> None:
    with pytest.raises(InvalidArgumentError, match="page_token"):
        state_target.store.list_page(page_token=token)


def test_negative_page_size_is_rejected(state_target: StateTarget) -> None:
    with pytest.raises(InvalidArgumentError, match="page_size"):
        state_target.store.list_page(page_size=-1)


def test_concurrent_saves_of_one_id_never_tear(state_target: StateTarget) -> None:
    store = state_target.store
    versions = [
        ExecutionContext(
            workflow_id="hot", current_step=f"step-{n}", inputs={"blob": "x" * 5000 * n}
        )
        for n in range(1, 9)
    ]
    errors: list[BaseException] = []

    def writer(state: ExecutionContext) -> None:
        try:
            for _ in range(5):
                store.save(state)
                loaded = store.load("hot")
                assert loaded in versions
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.load("hot") in versions
    assert store.list() == ["hot"]


def test_closed_store_refuses_calls(state_target: StateTarget) -> None:
    store = state_target.store
    store.save(ExecutionContext(workflow_id="a"))
    store.close()
    store.close()
    for call in (
        lambda: store.save(ExecutionContext(workflow_id="a")),
        lambda: store.load("a"),
        lambda: store.delete("a"),
        store.list,
    ):
        with pytest.raises(StoreClosedError):
            call()

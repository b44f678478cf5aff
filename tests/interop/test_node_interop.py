"""A Node.js worker and the Python client share one wfstored: the contract used from Node.

``examples/node-worker/interop.js`` (``@grpc/grpc-js`` + ``@grpc/proto-loader``, loading the
repo's ``protos/``) is run as a subprocess against a real daemon, over TCP and over the Unix
socket. Whatever one side writes, the other reads back field by field: rich execution states,
history records, int64 values beyond 2^53, nanosecond times, pages and page tokens, and the
status codes of failed calls. A Node watch sees exactly the changes Python makes, resumes from
its tokens and across a daemon restart.

These tests skip only when ``node`` is not on PATH or ``examples/node-worker/node_modules``
is missing (``cd examples/node-worker && npm ci``). CI runs ``npm ci`` first and should set
``WFSTORE_REQUIRE_NODE=1``, which turns that skip into a failure.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from wfstore import (
    Client,
    ConversationState,
    ExecutionContext,
    ExecutionRecord,
    ExecutionStatus,
    HistoryFilter,
    HistoryStats,
    LoopContext,
    StepState,
    Timestamp,
    Turn,
)

from tests.support.daemon import Daemon, serving
from tests.support.factories import full_context, record

WORKER_DIR = Path(__file__).resolve().parents[2] / "examples" / "node-worker"
INTEROP = WORKER_DIR / "interop.js"
NODE = shutil.which("node")


def _skip_reason() -> str:
    if NODE is None:
        return "node is not on PATH: install Node.js >= 18 to run the Node interop tests"
    if not (WORKER_DIR / "node_modules").is_dir():
        return f"{WORKER_DIR / 'node_modules'} is missing: run npm ci in examples/node-worker"
    return ""


SKIP_REASON = _skip_reason()
REQUIRED = os.environ.get("WFSTORE_REQUIRE_NODE") == "1"  # CI: a missing Node fails, not skips
pytestmark = [
    pytest.mark.daemon,
    pytest.mark.skipif(bool(SKIP_REASON) and not REQUIRED, reason=SKIP_REASON),
]


@pytest.fixture(autouse=True)
def _node_is_installed() -> None:
    if SKIP_REASON:  # reached only when WFSTORE_REQUIRE_NODE=1
        pytest.fail(f"WFSTORE_REQUIRE_NODE=1, but {SKIP_REASON}")


INT64_MAX = 2**63 - 1
T0_SECONDS = 1_748_865_907  # factories.T0, 2025-06-02T12:05:07.123456Z, in Unix seconds


def node(target: str, *args: str, script: Path = INTEROP) -> Any:
    """Run a Node CLI against ``target`` and return the JSON document it printed."""
    assert NODE is not None
    result = subprocess.run(
        [NODE, str(script), target, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, (
        f"node {script.name} {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
    )
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One wfstored for the module, on TCP and a Unix socket; tests use distinct ids."""
    with serving(tmp_path_factory.mktemp("interop") / "data") as running:
        yield running


@pytest.fixture(params=["tcp", "unix"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def target(shared_daemon: Daemon, transport: str) -> str:
    """The address Node connects to: ``127.0.0.1:PORT`` or ``unix:///.../wfstored.sock``."""
    address = shared_daemon.tcp_target if transport == "tcp" else shared_daemon.unix_target
    assert address is not None
    return address


@pytest.fixture
def py(shared_daemon: Daemon, transport: str) -> Iterator[Client]:
    """The Python client, on the same transport as Node."""
    with shared_daemon.client(transport, timeout=10) as client:
        yield client


def assert_same_fields(actual: object, expected: object) -> None:
    """Compare two dataclasses field by field, so a failure names the field."""
    for field in fields(expected):  # type: ignore[arg-type]
        got, want = getattr(actual, field.name), getattr(expected, field.name)
        assert got == want, f"{type(expected).__name__}.{field.name}: {got!r} != {want!r}"


# --- Node writes a state, Python reads it --------------------------------------------------


def node_sample(workflow_id: str) -> ExecutionContext:
    """What interop.js ``save-sample`` saves, as the Python client must load it."""
    return ExecutionContext(
        workflow_id=workflow_id,
        workflow_name="node-review",
        parent_run_id="parent-node",
        status=ExecutionStatus.RUNNING,
        current_step="summarize",
        exit_code=0,
        inputs={
            "repo": "github.com/acme/gadgets",
            "nested": {"level1": {"level2": {"list": [1, "two", {"three": 3}], "flag": True}}},
            "numbers": {
                "int": 42,
                "float": 0.30000000000000004,  # 0.1 + 0.2 in JS: the same double in Python
                "negative": -17,
                "negative_float": -2.5,
                "max_exact": 2**53,
                "min_exact": -(2**53),
                "whole_float": 3,  # JS 3.0 is 3: whole doubles read back as int
                "tiny": 5e-324,
                "huge": 1.7976931348623157e308,
                "negative_zero": 0,  # JS -0 travels as -0.0 and reads back as int 0
            },
            "flags": [True, False],
            "nothing": None,
            "unicode": "café 🚀 — 日本",
            "\u043a\u043b\u044e\u0447 🔑": "unicode key",
            "empty_object": {},
            "empty_array": [],
            "mixed": [1, "a", None, False, [], {}, [[-1.5]]],
        },
        states={
            "fetch": StepState(
                name="fetch",
                status=ExecutionStatus.COMPLETED,
                output="fetched 3 files\n",
                attempt=1,
                started_at=Timestamp(2025, 6, 2, 12, 5, 7, 123456, UTC, nanosecond=789),
                completed_at=Timestamp(2025, 6, 2, 12, 5, 10, 0, UTC, nanosecond=1),
                response={"files": 3, "ok": True, "note": "naïve"},
                json=["a", 1.5, None, {"k": "v"}],
                data={},
                conversation=ConversationState(
                    session_id="sess-node",
                    turns=[
                        Turn(role="user", content="Résumé ✓", tokens=12),
                        Turn(role="assistant", content="日本語で", tokens=INT64_MAX),
                    ],
                    total_turns=2,
                    total_tokens=INT64_MAX,
                    stopped_by="max_turns",
                ),
                tokens_used=2**53 + 1,
                tokens_input=2**53,
                tokens_output=1,
            ),
            "summarize": StepState(
                name="summarize",
                status=ExecutionStatus.RUNNING,
                stderr="warn: slow\n",
                exit_code=-1,
                attempt=2,
                started_at=Timestamp(2025, 6, 2, 12, 5, 11, 999999, UTC, nanosecond=999),
                response={},
                json="just a string",
                output_path="logs/summarize.out",
                truncated=True,
            ),
        },
        env={"HOME": "/home/node", "LANG": "C.UTF-8", "EMPTY": ""},
        started_at=Timestamp(2025, 6, 2, 12, 5, 7, 123456, UTC, nanosecond=789),
        updated_at=Timestamp(2025, 6, 2, 12, 5, 12, 0, UTC, nanosecond=500),
        completed_at=None,
        current_loop=LoopContext(
            item={"file": "b.txt", "size": 2048, "tags": ["x"]},
            index=1,
            last=True,
            length=2,
            parent=LoopContext(item="batch-1", index=0, first=True, length=-1),
        ),
        call_stack=["nightly", "node-review"],
    )


def test_node_saves_and_python_loads_a_rich_state(target: str, py: Client, transport: str) -> None:
    workflow_id = f"node-rich-{transport}"
    assert node(target, "save-sample", workflow_id) == {"saved": workflow_id}

    loaded = py.state.load(workflow_id)
    expected = node_sample(workflow_id)
    assert loaded is not None
    assert_same_fields(loaded, expected)
    for name, step in expected.states.items():
        assert_same_fields(loaded.states[name], step)
    fetch = loaded.states["fetch"]
    assert fetch.conversation is not None
    assert fetch.conversation.turns[1].tokens == INT64_MAX
    assert loaded.current_loop is not None
    assert_same_fields(loaded.current_loop, expected.current_loop)
    assert loaded == expected

    numbers = loaded.inputs["numbers"]
    assert {k: type(v) for k, v in numbers.items()} == {
        "int": int,
        "float": float,
        "negative": int,
        "negative_float": float,
        "max_exact": int,
        "min_exact": int,
        "whole_float": int,
        "tiny": float,
        "huge": float,
        "negative_zero": int,
    }
    assert isinstance(loaded.started_at, Timestamp)
    assert loaded.started_at.nanosecond == 789
    assert loaded.started_at.microsecond == 123456
    assert isinstance(fetch.completed_at, Timestamp)
    assert fetch.completed_at.nanosecond == 1
    assert fetch.data == {}
    assert loaded.states["summarize"].data is None
    assert loaded.states["summarize"].response == {}
    assert loaded.states["summarize"].conversation is None


# --- Python writes a state, Node reads it --------------------------------------------------


def test_python_saves_and_node_loads_a_rich_state(target: str, py: Client, transport: str) -> None:
    state = full_context(f"py-rich-{transport}")
    review = state.states["review"]
    review.tokens_used = INT64_MAX
    review.tokens_input = 2**53 + 1
    state.inputs["__proto__"] = {"polluted": True}  # an own key in JS, never a prototype
    py.state.save(state)

    got = node(target, "load", state.workflow_id)

    assert got["workflow_id"] == state.workflow_id
    assert got["workflow_name"] == "code-review"
    assert got["parent_run_id"] == "parent-1"
    assert got["status"] == "running"
    assert got["current_step"] == "apply_fixes"
    assert got["exit_code"] == 3
    assert got["env"] == {"HOME": "/home/dev", "AWF_LOG_LEVEL": "debug", "EMPTY": ""}
    assert got["call_stack"] == ["nightly-pipeline", "code-review"]
    # Times keep their nanoseconds: T0 is .123456 s, nanos_time(n, x) adds n s and x ns.
    assert got["started_at"] == {"seconds": str(T0_SECONDS), "nanos": 123_456_005}
    assert got["updated_at"] == {"seconds": str(T0_SECONDS + 48), "nanos": 123_456_000}
    assert got["completed_at"] is None

    inputs = got["inputs"]
    assert inputs == state.inputs
    assert inputs["__proto__"] == {"polluted": True}
    assert inputs["big"] == 2**53
    assert inputs["negative"] == -(2**53)
    assert isinstance(inputs["threshold"], float)
    assert inputs["threshold"] == 0.75
    assert inputs["tiny"] == 1e-7
    assert inputs["huge"] == 1.5e300
    assert inputs["reviewer"] is None
    assert inputs["labels"] == ["bug", 7, 2.5, None, True, {"deep": [[1, 2], {"x": "é—<&>"}]}]
    assert inputs["options"] == {"depth": 2, "paths": ["src/", "lib/"], "empty": {}, "none": []}

    check_review(got["states"]["review"])
    check_apply_fixes(got["states"]["apply_fixes"])
    check_loop(got["current_loop"])


def check_review(review_got: dict[str, Any]) -> None:
    assert review_got["status"] == "completed"
    assert review_got["tokens_used"] == str(INT64_MAX)  # int64 arrives as an exact string
    assert review_got["tokens_input"] == str(2**53 + 1)
    assert review_got["tokens_output"] == "330"
    assert review_got["tokens_estimated"] is True
    assert review_got["started_at"] == {"seconds": str(T0_SECONDS + 1), "nanos": 123_456_001}
    assert review_got["completed_at"] == {"seconds": str(T0_SECONDS + 40), "nanos": 123_456_999}
    assert review_got["response"] == {"summary": "Null check <missing> & test gap", "issues": 2}
    assert review_got["json"] == ["any", {"json": "value"}, 1.25]
    assert review_got["data"] is None  # unset Struct: null, not {}
    assert review_got["conversation"] == {
        "session_id": "sess-01",
        "turns": [
            {"role": "system", "content": "You are strict.", "tokens": "7"},
            {"role": "user", "content": "Review PR #42 — café 🚀", "tokens": "9"},
            {"role": "assistant", "content": "Two issues.\nSee above.", "tokens": "4"},
        ],
        "total_turns": 3,
        "total_tokens": "20",
        "stopped_by": "user_exit",
    }


def check_apply_fixes(fixes: dict[str, Any]) -> None:
    assert fixes["status"] == "running"
    assert fixes["response"] == {}  # present but empty Struct: {}, not null
    assert fixes["json"] is None
    assert fixes["conversation"] is None
    assert fixes["data"] == {"files_changed": 2, "committed": False}
    assert fixes["started_at"] == {"seconds": str(T0_SECONDS + 47), "nanos": 123_456_000}
    assert fixes["completed_at"] is None
    assert fixes["attempt"] == 2
    assert fixes["truncated"] is True
    assert (fixes["output_path"], fixes["stderr_path"]) == ("logs/out.log", "logs/err.log")


def check_loop(loop: dict[str, Any]) -> None:
    assert (loop["item"], loop["index"], loop["first"], loop["last"], loop["length"]) == (
        {"file": "b.png", "width": 640},
        1,
        False,
        True,
        2,
    )
    parent = loop["parent"]
    assert (parent["item"], parent["index"], parent["first"], parent["length"]) == (
        "batch-1",
        0,
        True,
        -1,
    )
    assert parent["parent"] is None


def test_node_sees_null_for_a_missing_state(target: str) -> None:
    assert node(target, "load", "never-saved") is None


# --- errors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorCase:
    """An interop.js ``expect-error`` case and the status Node must see ({t}: the transport)."""

    name: str
    args: tuple[str, ...]
    code: str
    fragment: str


ERROR_CASES = [
    ErrorCase("load-missing", ("no-such-run-{t}",), "NOT_FOUND", "no state stored for workflow id"),
    ErrorCase("save-bad-id", ("a/b",), "INVALID_ARGUMENT", "invalid workflow id 'a/b'"),
    ErrorCase("record-conflict", ("conflict-{t}",), "ALREADY_EXISTS", "already exists with differ"),
    ErrorCase("save-nan", ("nan-run-{t}",), "INVALID_ARGUMENT", "inputs['ratio']: nan is not a"),
    ErrorCase("bad-page-token", (), "INVALID_ARGUMENT", "invalid page_token"),
    ErrorCase("watch-bad-selector", (), "INVALID_ARGUMENT", "a prefix or one workflow id"),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[case.name for case in ERROR_CASES])
def test_node_gets_status_codes_with_readable_details(
    target: str, transport: str, py: Client, case: ErrorCase
) -> None:
    args = [arg.format(t=transport) for arg in case.args]
    got = node(target, "expect-error", case.name, *args)
    assert (got["code"], got["case"]) == (case.code, case.name)
    assert case.fragment in got["details"]
    if case.name == "record-conflict":  # the first record stands; the conflicting one did nothing
        stored = py.history.list(HistoryFilter(workflow_name=f"{args[0]}-wf"))
        assert [(r.id, r.status) for r in stored] == [(f"{args[0]}-000", "success")]
    if case.name == "save-nan":
        assert py.state.load(args[0]) is None


def test_the_node_library_refuses_lossy_values_before_sending(shared_daemon: Daemon) -> None:
    got = node(shared_daemon.tcp_target, "client-checks")
    refused = {name: check["refused"] for name, check in got.items()}
    assert refused == dict.fromkeys(refused, True)
    assert set(refused) >= {"nan", "infinity", "int64_unsafe_number", "unknown_status"}
    assert "exact integer" in got["int64_unsafe_number"]["message"]


# --- listings and page tokens --------------------------------------------------------------


def python_state_pages(py: Client, page_size: int, token: str = "") -> list[dict[str, Any]]:
    pages = []
    while True:
        page = py.state.list_page(page_size, token)
        pages.append({"items": page.items, "next_page_token": page.next_page_token})
        token = page.next_page_token
        if not token:
            return pages


def test_state_listing_and_page_tokens_agree(target: str, py: Client, transport: str) -> None:
    for index in range(5):
        py.state.save(ExecutionContext(workflow_id=f"list-{transport}-{index}"))

    from_node = node(target, "list-states", "2")
    from_python = python_state_pages(py, 2)
    assert from_node["ids"] == py.state.list()
    assert {f"list-{transport}-{i}" for i in range(5)} <= set(from_node["ids"])
    assert [p["items"] for p in from_node["pages"]] == [p["items"] for p in from_python]
    assert all(len(p["items"]) == 2 for p in from_node["pages"][:-1])
    assert len(from_node["pages"]) >= 3

    # A token issued to Python works from Node, and one issued to Node works from Python.
    python_token = from_python[0]["next_page_token"]
    rest = node(target, "list-states", "2", python_token)
    assert [p["items"] for p in rest["pages"]] == [p["items"] for p in from_python[1:]]
    node_token = from_node["pages"][0]["next_page_token"]
    assert py.state.list_page(2, node_token).items == from_node["pages"][1]["items"]


def node_record(record: dict[str, Any]) -> ExecutionRecord:
    """Read a record as interop.js prints it (int64 as strings, times as seconds + nanos)."""

    def time(stamp: dict[str, Any] | None) -> Timestamp | None:
        if stamp is None:
            return None
        micros, nanosecond = divmod(stamp["nanos"], 1000)
        base = Timestamp(1970, 1, 1, tzinfo=UTC) + timedelta(
            seconds=int(stamp["seconds"]), microseconds=micros
        )
        return base.replace(nanosecond=nanosecond)

    assert isinstance(record["duration_ms"], str)
    return ExecutionRecord(
        id=record["id"],
        workflow_id=record["workflow_id"],
        workflow_name=record["workflow_name"],
        status=record["status"],
        exit_code=record["exit_code"],
        started_at=time(record["started_at"]),
        completed_at=time(record["completed_at"]),
        duration_ms=int(record["duration_ms"]),
        error_message=record["error_message"],
    )


def test_history_written_by_node_reads_the_same_from_python(
    target: str, py: Client, transport: str
) -> None:
    prefix = f"hist-{transport}"
    recorded = node(target, "record-sample", prefix, "7")["recorded"]
    assert recorded[0]["duration_ms"] == str(2**53 + 1)

    history_filter = HistoryFilter(workflow_name=f"{prefix}-wf", limit=6)
    listed = py.history.list(history_filter)
    expected = [node_record(r) for r in reversed(recorded)][:6]  # newest first, limit 6
    assert [r.id for r in listed] == [f"{prefix}-{i:03d}" for i in range(6, 0, -1)]
    for got, want in zip(listed, expected, strict=True):
        assert_same_fields(got, want)
    assert listed[-1].completed_at == Timestamp(2025, 6, 2, 12, 5, 8, 1, UTC, nanosecond=7)
    everything = py.history.list(HistoryFilter(workflow_name=f"{prefix}-wf", limit=100))
    assert everything[-1].duration_ms == 2**53 + 1  # int64 beyond 2^53, exact in Python

    from_node = node(target, "list-history", "3", "6", f"{prefix}-wf")
    assert [[r["id"] for r in p["items"]] for p in from_node["pages"]] == [
        [r.id for r in listed[:3]],
        [r.id for r in listed[3:]],
    ]
    assert [node_record(r) for p in from_node["pages"] for r in p["items"]] == listed

    first = py.history.list_page(history_filter, 3)
    rest = node(target, "list-history", "3", "6", f"{prefix}-wf", first.next_page_token)
    assert rest["ids"] == [r.id for r in listed[3:]]
    node_token = from_node["pages"][0]["next_page_token"]
    second = py.history.list_page(history_filter, 3, node_token)
    assert [r.id for r in second.items] == [r.id for r in listed[3:]]
    assert second.next_page_token == ""

    stats = node(target, "stats", f"{prefix}-wf", "percentiles")
    expected_stats = py.history.get_stats(
        HistoryFilter(workflow_name=f"{prefix}-wf"), percentiles=True
    )
    assert expected_stats == HistoryStats(
        total_executions=7,
        success_count=3,  # "success" and "completed"
        failed_count=2,
        cancelled_count=2,
        avg_duration_ms=(2**53 + 1 + sum(1000 * (i + 1) for i in range(1, 7))) // 7,
        min_duration_ms=2000,
        max_duration_ms=2**53 + 1,
        p50_duration_ms=5000,  # rank ceil(3.5) = 4 of 2000..7000, 2^53 + 1
        p95_duration_ms=2**53 + 1,
        p99_duration_ms=2**53 + 1,
        status_counts={"success": 2, "failed": 2, "cancelled": 2, "completed": 1},
    )
    assert stats["status_counts"] == {
        "success": "2",
        "failed": "2",
        "cancelled": "2",
        "completed": "1",
    }
    assert node_stats(stats) == expected_stats
    without = node(target, "stats", f"{prefix}-wf")
    assert node_stats(without) == replace(
        expected_stats, p50_duration_ms=0, p95_duration_ms=0, p99_duration_ms=0
    )
    assert node_stats(without) == py.history.get_stats(HistoryFilter(workflow_name=f"{prefix}-wf"))


def node_stats(stats: dict[str, Any]) -> HistoryStats:
    """Read HistoryStats as interop.js prints them (int64 as strings, in the map too)."""
    assert all(isinstance(value, str) for name, value in stats.items() if name != "status_counts")
    counts = {status: int(count) for status, count in stats["status_counts"].items()}
    numbers = {name: int(value) for name, value in stats.items() if name != "status_counts"}
    return HistoryStats(**numbers, status_counts=counts)


def test_a_breakdown_by_workflow_name_reads_the_same_from_node(
    target: str, py: Client, transport: str
) -> None:
    status = f"by-name-{transport}"  # only this test's records have it
    names = ["b", "a", "é", "😀", "Z"]
    py.history.record_batch(
        [
            replace(
                record(f"{status}-{n}", workflow_name=names[n % 5], status=status), duration_ms=n
            )
            for n in range(23)
        ]
    )
    expected = py.history.get_stats_breakdown(HistoryFilter(status=status), percentiles=True)
    assert [group.key for group in expected.groups] == ["Z", "a", "b", "é", "😀"]  # byte order
    assert expected.total.p50_duration_ms == 11  # nearest rank 12 of 0..22
    from_node = node(target, "stats-by-name", status, "percentiles")
    assert node_stats(from_node["total"]) == expected.total
    assert [group["key"] for group in from_node["groups"]] == [g.key for g in expected.groups]
    assert [node_stats(group["stats"]) for group in from_node["groups"]] == [
        g.stats for g in expected.groups
    ]


def test_int64_values_written_by_python_reach_node_exactly(
    target: str, py: Client, transport: str
) -> None:
    name = f"big-{transport}"
    # Durations this long put started_at before year 1, so only duration_ms is replaced.
    py.history.record(replace(record(f"{name}-a", workflow_name=name), duration_ms=2**53 + 1))
    py.history.record(replace(record(f"{name}-b", workflow_name=name), duration_ms=INT64_MAX))

    listed = node(target, "list-history", "0", "0", name)
    durations = {r["id"]: r["duration_ms"] for p in listed["pages"] for r in p["items"]}
    assert durations == {f"{name}-a": "9007199254740993", f"{name}-b": "9223372036854775807"}
    stats = node(target, "stats", name)
    assert stats["avg_duration_ms"] == str((2**53 + 1 + INT64_MAX) // 2)
    assert stats["total_executions"] == "2"


# --- cleanup and the example worker (each on a daemon of its own) ---------------------------


def test_cleanup_from_node(daemon: Daemon) -> None:
    target = daemon.tcp_target
    node(target, "record-sample", "old", "3")
    assert node(target, "cleanup", "315576000000") == {"deleted_count": "0"}  # 10000 years
    assert node(target, "cleanup", "-1.5") == {"deleted_count": "0"}  # negative: nothing
    with daemon.client("tcp", timeout=10) as py:
        assert len(py.history.list(HistoryFilter())) == 3
        assert node(target, "cleanup", "0.5") == {"deleted_count": "3"}
        assert py.history.list(HistoryFilter()) == []
    assert node(target, "stats")["total_executions"] == "0"


def test_the_example_worker_runs_and_resumes(target: str, py: Client, transport: str) -> None:
    workflow_id = f"example-{transport}"
    worker = WORKER_DIR / "worker.js"
    summary = node(target, workflow_id, script=worker)
    assert summary["status"] == "completed"
    assert summary["steps"] == ["count", "fetch"]
    state = py.state.load(workflow_id)
    assert state is not None
    assert state.status is ExecutionStatus.COMPLETED
    assert state.inputs == {"limit": 2, "note": "from Node"}
    assert state.states["count"].data == {"count": 2}
    assert state.states["fetch"].data == {"files": ["a", "b"]}
    assert state.completed_at is not None
    runs = py.history.list(HistoryFilter(workflow_name="node-example", limit=100))
    assert workflow_id in [r.id for r in runs]
    again = node(target, workflow_id, script=worker)  # a completed run is only summarized
    assert (again["status"], again["steps"]) == ("completed", ["count", "fetch"])
    assert len(py.history.list(HistoryFilter(workflow_name="node-example", limit=100))) == len(runs)


def test_versions_and_conflicts_read_the_same_from_node(
    target: str, py: Client, transport: str
) -> None:
    """Node creates, conflicts and reads versions; the conflict's details reach it intact."""
    workflow_id = f"versions-{transport}"
    created = node(target, "save-if", workflow_id, "0")
    first = int(created["version"])
    again = node(target, "save-if", workflow_id, "0")
    assert again["code"] == "ABORTED"
    assert again["conflict"] == {"workflow_id": workflow_id, "current_version": str(first)}
    stored = py.state.get(workflow_id)
    assert stored is not None
    assert stored.version == first
    second = py.state.save(stored.state)
    stale = node(target, "save-if", workflow_id, str(first))
    assert stale["conflict"] == {"workflow_id": workflow_id, "current_version": str(second)}
    got = node(target, "get", workflow_id)
    assert got["version"] == str(second)
    missing = node(target, "save-if", f"{workflow_id}-absent", str(first))
    assert missing["conflict"] == {
        "workflow_id": f"{workflow_id}-absent",
        "current_version": None,
    }
    assert node(target, "delete-if", workflow_id, str(second)) == {"deleted": workflow_id}
    assert py.state.get(workflow_id) is None


def test_a_node_coordinator_waits_for_its_child_by_watching(
    target: str, py: Client, transport: str
) -> None:
    coordinator, child = f"coordinator-{transport}", f"child-{transport}"
    worker = WORKER_DIR / "worker.js"
    assert NODE is not None
    with subprocess.Popen(
        [NODE, str(worker), target, coordinator, "--child", child],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as waiting:
        try:
            # The coordinator saves its "child" step as running, then watches the child.
            py.state.wait_for(coordinator, lambda state: state.current_step == "child", 10)
            finished_child = node(target, child, script=worker)
            out, err = waiting.communicate(timeout=20)
        finally:
            waiting.kill()
    assert waiting.returncode == 0, f"worker.js --child exited {waiting.returncode}:\n{err}"
    summary = json.loads(out)
    assert (summary["status"], summary["steps"]) == ("completed", ["child", "count", "fetch"])
    state = py.state.load(coordinator)
    assert state is not None
    assert state.inputs == {"limit": 2, "note": "from Node", "child": child}
    assert state.states["child"].status is ExecutionStatus.COMPLETED
    assert state.states["child"].data == {
        "workflow_id": child,
        "status": "completed",
        "version": finished_child["version"],
    }


# --- watch ---------------------------------------------------------------------------------

Change = tuple[str, str, int, bool, str | None]
"""An event as compared here: kind, workflow id, version, whether it has a state, its status."""


class NodeWatch:
    """``interop.js watch`` running in the background; its JSON lines are read as they come."""

    def __init__(self, target: str, *args: str) -> None:
        assert NODE is not None
        self.process = subprocess.Popen(
            [NODE, str(INTEROP), target, "watch", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(json.loads(line))
        self._lines.put(None)

    def line(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        """Return the next line printed, which must be of type ``kind``."""
        try:
            got = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.process.kill()
            _, err = self.process.communicate(timeout=10)
            pytest.fail(f"node watch printed no {kind} line within {timeout}s:\n{err}")
        if got is None:
            _, err = self.process.communicate(timeout=10)
            pytest.fail(f"node watch exited {self.process.returncode} before a {kind} line:\n{err}")
        assert got["type"] == kind, got
        return got

    def ready(self) -> str:
        """Wait until the watch has started; return the token it starts at."""
        return str(self.line("ready")["resumeToken"])

    def event(self) -> dict[str, Any]:
        """Return the next event Node printed."""
        return self.line("event")

    def changes(self, count: int) -> list[Change]:
        """Return the next ``count`` events, as compared here."""
        return [change_of(self.event()) for _ in range(count)]

    def done(self) -> str:
        """Wait for the last line and a clean exit; return the watch's final token."""
        token = str(self.line("done")["resumeToken"])
        _, err = self.process.communicate(timeout=10)
        assert self.process.returncode == 0, err
        return token

    def stop(self) -> None:
        """Kill the watcher if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=10)


@contextmanager
def node_watch(target: str, *args: str) -> Iterator[NodeWatch]:
    """Run ``interop.js watch`` with ``args`` for the block."""
    watch = NodeWatch(target, *args)
    try:
        yield watch
    finally:
        watch.stop()


def change_of(event: dict[str, Any]) -> Change:
    """Read an event line; versions arrive as exact decimal strings."""
    assert isinstance(event["version"], str)
    return (
        event["kind"],
        event["workflowId"],
        int(event["version"]),
        event["hasState"],
        event["status"],
    )


def saved(py: Client, workflow_id: str, status: ExecutionStatus) -> Change:
    """Save a state with ``status`` from Python; return the event a watcher must see."""
    version = py.state.save(ExecutionContext(workflow_id=workflow_id, status=status))
    return ("saved", workflow_id, version, True, status.value)


def deleted(py: Client, workflow_id: str) -> Change:
    """Delete a state from Python; return the event (its version is one past the removed one)."""
    stored = py.state.get(workflow_id)
    assert stored is not None
    py.state.delete(workflow_id)
    return ("deleted", workflow_id, stored.version + 1, False, None)


def by_id(changes: list[Change]) -> dict[str, list[Change]]:
    """Group changes by id: only one id's changes are ordered (by version) across stripes."""
    grouped: dict[str, list[Change]] = {}
    for change in changes:
        grouped.setdefault(change[1], []).append(change)
    return grouped


def test_node_watches_python_changes_and_resumes_from_its_tokens(
    target: str, py: Client, transport: str
) -> None:
    prefix = f"watch-{transport}-"
    a, b, c = f"{prefix}live-a", f"{prefix}live-b", f"{prefix}live-c"
    d = f"{prefix}later-d"
    live: list[Change] = []
    tokens: list[str] = []
    with node_watch(target, "--prefix", f"{prefix}live-", "--count", "5") as watch:
        watch.ready()
        # One change at a time, each seen before the next, so every save still has its state.
        for change in (
            lambda: saved(py, a, ExecutionStatus.RUNNING),
            lambda: saved(py, b, ExecutionStatus.PENDING),
            lambda: saved(py, a, ExecutionStatus.COMPLETED),
            lambda: deleted(py, b),
            lambda: saved(py, c, ExecutionStatus.FAILED),
        ):
            py.state.save(ExecutionContext(workflow_id=f"other-{transport}"))  # not watched
            live.append(change())
            event = watch.event()
            assert change_of(event) == live[-1]
            tokens.append(event["resumeToken"])
        assert watch.done() == tokens[-1]
    # Made while no one watches d (a stream just cancelled may still be read for a moment, so
    # not under the prefix watched so far): its first save is replaced before any event for it
    # is sent.
    d_failed = saved(py, d, ExecutionStatus.FAILED)
    d_cancelled = saved(py, d, ExecutionStatus.CANCELLED)

    # From the token of the second event, on a wider prefix (a token is a point in the store's
    # changes, whatever was watched): the three changes after it, then the two made since; d's
    # first save comes without its state. Only one id's changes are ordered: different ids may
    # come in any order.
    _, _, a_completed, b_deleted, c_failed = live
    resume = ("--resume-token", tokens[1])
    with node_watch(target, "--prefix", prefix, *resume, "--count", "5") as watch:
        watch.ready()
        replayed = watch.changes(5)
        end = watch.done()
    assert by_id(replayed) == {
        a: [a_completed],
        b: [b_deleted],
        c: [c_failed],
        d: [(*d_failed[:3], False, None), d_cancelled],
    }

    # From the end of that run, ids only: nothing before that token comes again.
    resume = ("--resume-token", end, "--ids-only")
    with node_watch(target, "--prefix", prefix, *resume, "--count", "2") as watch:
        watch.ready()
        a_deleted = deleted(py, a)
        assert watch.changes(1) == [a_deleted]
        b_running = saved(py, b, ExecutionStatus.RUNNING)
        assert watch.changes(1) == [(*b_running[:3], False, None)]
        watch.done()


def test_a_node_watch_resumes_across_a_daemon_restart(tmp_path: Path) -> None:
    """The daemon stops (UNAVAILABLE) and starts again on its data and port: nothing is lost."""
    data = tmp_path / "data"
    with serving(data, unix=False) as first:
        port = int(first.tcp_target.rsplit(":", 1)[1])
        with node_watch(first.tcp_target, "--prefix", "r-", "--count", "4") as watch:
            watch.ready()
            with first.client(timeout=10) as py:
                a_saved = saved(py, "r-a", ExecutionStatus.RUNNING)
                assert watch.changes(1) == [a_saved]
            assert first.stop() == 0
            with serving(data, unix=False, tcp_port=port) as second, second.client() as py:
                b_saved = saved(py, "r-b", ExecutionStatus.PENDING)  # likely before Node is back
                a_deleted = deleted(py, "r-a")
                after = watch.changes(2)
                c_saved = saved(py, "r-c", ExecutionStatus.COMPLETED)  # after it is back
                assert watch.changes(1) == [c_saved]
                watch.done()
    assert by_id(after) == {"r-b": [b_saved], "r-a": [a_deleted]}


def test_node_gets_watch_expired_for_a_token_of_another_store(
    shared_daemon: Daemon, daemon: Daemon
) -> None:
    with shared_daemon.client(timeout=10) as py, py.state.watch("expired-") as watch:
        token = watch.resume_token
    got = node(daemon.tcp_target, "expect-error", "watch-expired", token)
    assert (got["code"], got["name"], got["expired"]) == (
        "OUT_OF_RANGE",
        "WatchExpiredError",
        True,
    )
    assert "another change log" in got["details"]


# --- Tracing: a worker's traceparent parents the daemon's span -----------------------------

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


def test_a_node_traceparent_becomes_the_parent_of_the_daemons_span(tmp_path: Path) -> None:
    spans = tmp_path / "spans.jsonl"
    traceparent = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"
    with serving(tmp_path / "data", unix=False, extra=["--tracing", f"file:{spans}"]) as daemon:
        node(daemon.tcp_target, "save-sample", "traced-run")  # no traceparent: a root span
        assert node(daemon.tcp_target, "traced", traceparent, "load", "traced-run") is not None
        assert node(daemon.tcp_target, "traced", traceparent, "load", "missing") is None
    exported = [json.loads(line) for line in spans.read_text().splitlines()]
    by_name: dict[str, list[dict[str, Any]]] = {}
    for span in exported:
        by_name.setdefault(span["name"], []).append(span)
    loads = by_name["wfstore.v1.StateService/Load"]
    assert len(loads) == 2
    for span in loads:
        assert span["context"]["trace_id"] == f"0x{TRACE_ID}"
        assert span["parent_id"] == f"0x{PARENT_SPAN_ID}"
        assert span["kind"] == "SpanKind.SERVER"
        assert span["attributes"]["rpc.system"] == "grpc"
        assert span["attributes"]["rpc.method"] == "Load"
        assert span["status"]["status_code"] == "UNSET"  # NOT_FOUND is an answer, not a fault
    assert sorted(span["attributes"]["rpc.grpc.status_code"] for span in loads) == [0, 5]
    (save,) = by_name["wfstore.v1.StateService/Save"]
    assert save["parent_id"] is None
    assert save["context"]["trace_id"] != f"0x{TRACE_ID}"

"""The awf Go state-file codec: golden fixtures, Go formatting, leniency and corruption."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from wfstore.awf_state import decode_state, encode_state
from wfstore.domain import (
    ConversationState,
    ExecutionContext,
    ExecutionStatus,
    LoopContext,
    StepState,
    Turn,
)
from wfstore.errors import DataCorruptedError
from wfstore.go_json import format_go_float
from wfstore.timestamps import Timestamp

FIXTURES = Path(__file__).parents[1] / "fixtures" / "awf-go-state"
WID = "wf-1"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def decode_doc(document: dict[str, Any], workflow_id: str = WID) -> ExecutionContext:
    return decode_state(json.dumps(document).encode(), workflow_id)


def encode_text(state: ExecutionContext) -> str:
    return encode_state(state).decode()


# --- The golden fixtures, written out by hand ---------------------------------------------------

MINIMAL = ExecutionContext(
    workflow_id="7f3c9a2e-0b1d-4c8e-9f6a-2d4b8e1c5a70",
    workflow_name="hello-world",
    status=ExecutionStatus.PENDING,
    inputs={},
    states={},
    env={},
    started_at=Timestamp(2025, 3, 14, 9, 26, 53, 589793, UTC, nanosecond=238),
    updated_at=Timestamp(2025, 3, 14, 9, 26, 53, 589793, UTC, nanosecond=238),
    completed_at=None,
    current_loop=None,
    call_stack=[],
)

RUNNING = ExecutionContext(
    workflow_id="b1e2c3d4-5f60-4a7b-8c9d-0e1f2a3b4c5d",
    workflow_name="code-review",
    parent_run_id="",
    status=ExecutionStatus.RUNNING,
    current_step="apply_fixes",
    exit_code=0,
    inputs={
        "dry_run": False,
        "labels": ["bug", "urgent", 7],
        "options": {"depth": 2, "include_tests": True, "paths": ["src/", "lib/"]},
        "pr_number": 42,
        "repo": "github.com/acme/widgets",
        "reviewer": None,
        "threshold": 0.75,
        "whole_float": 3,
    },
    states={
        "apply_fixes": StepState(
            name="apply_fixes",
            status=ExecutionStatus.RUNNING,
            output="patching src/a.go\npatching src/b.go\n",
            stderr="warning: 1 hunk offset",
            exit_code=0,
            attempt=2,
            started_at=Timestamp(2025, 6, 2, 12, 5, 54, 123456, UTC, nanosecond=789),
            completed_at=None,
            response=None,
            json=None,
            conversation=None,
            output_path="/tmp/awf-out-3141.log",  # noqa: S108 (a value in the fixture)
            truncated=True,
            data={"committed": False, "files_changed": 2, "paths": ["src/a.go", "src/b.go"]},
        ),
        "review": StepState(
            name="review",
            status=ExecutionStatus.COMPLETED,
            output='{"verdict":"changes_requested","issues":2}',
            attempt=1,
            started_at=Timestamp(2025, 6, 2, 12, 5, 9, 123456, UTC, nanosecond=789),
            completed_at=Timestamp(2025, 6, 2, 12, 5, 50, 623456, UTC, nanosecond=789),
            response={
                "issues": 2,
                "summary": "Null check <missing> & test gap",
                "verdict": "changes_requested",
            },
            json={"issues": 2, "verdict": "changes_requested"},
            conversation=ConversationState(
                session_id="sess-01HZX4",
                turns=[
                    Turn(role="system", content="You are a strict code reviewer.", tokens=7),
                    Turn(role="user", content="Review PR #42 \u2014 caf\u00e9 edition", tokens=9),
                    Turn(role="assistant", content="Two issues found.", tokens=4),
                ],
                total_turns=3,
                total_tokens=20,
                stopped_by="user_exit",
            ),
            tokens_used=1530,
            tokens_input=1200,
            tokens_output=330,
            data=None,
        ),
    },
    env={"AWF_LOG_LEVEL": "debug", "HOME": "/home/dev"},
    started_at=Timestamp(2025, 6, 2, 12, 5, 7, 123456, UTC, nanosecond=789),
    updated_at=Timestamp(2025, 6, 2, 12, 5, 55, 123456, UTC, nanosecond=789),
    completed_at=None,
    current_loop=None,
    call_stack=[],
)

COMPLETED = ExecutionContext(
    workflow_id="c0ffee00-1234-4abc-8def-000000000003",
    workflow_name="batch-resize",
    parent_run_id="a9a9a9a9-0000-4000-8000-00000000000a",
    status=ExecutionStatus.COMPLETED,
    current_step="done",
    inputs={"files": ["a.png", "b.png"]},
    states={
        "notify": StepState(
            name="notify",
            status=ExecutionStatus.FAILED,
            stderr="connection refused",
            exit_code=7,
            attempt=3,
            error="exit status 7",
            started_at=datetime(2025, 12, 1, 0, 0, 1, 100000, tzinfo=UTC),
            completed_at=datetime(2025, 12, 1, 0, 0, 2, 100000, tzinfo=UTC),
        ),
        "resize": StepState(
            name="resize",
            status=ExecutionStatus.COMPLETED,
            output="resized b.png",
            attempt=1,
            started_at=datetime(2025, 11, 30, 23, 59, 59, 100000, tzinfo=UTC),
            completed_at=datetime(2025, 12, 1, 0, 0, 0, 350000, tzinfo=UTC),
        ),
    },
    env={},
    started_at=datetime(2025, 11, 30, 23, 59, 58, 100000, tzinfo=UTC),
    updated_at=datetime(2025, 12, 1, 0, 0, 3, 100000, tzinfo=UTC),
    completed_at=datetime(2025, 12, 1, 0, 0, 3, 100000, tzinfo=UTC),
    current_loop=LoopContext(
        item={"file": "b.png", "width": 640},
        index=1,
        first=False,
        last=True,
        length=2,
        parent=LoopContext(item="batch-1", index=0, first=True, last=False, length=-1),
    ),
    call_stack=["nightly-pipeline", "batch-resize"],
)

EXPECTED = {"minimal.json": MINIMAL, "running.json": RUNNING, "completed.json": COMPLETED}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_decodes_to_the_expected_state(name: str) -> None:
    expected = EXPECTED[name]
    assert decode_state(fixture_bytes(name), expected.workflow_id) == expected


def test_nanoseconds_are_kept_as_timestamps() -> None:
    state = decode_state(fixture_bytes("minimal.json"), MINIMAL.workflow_id)
    assert isinstance(state.started_at, Timestamp)
    assert state.started_at.nanosecond == 238
    assert state.started_at.microsecond == 589793


def test_offset_times_are_converted_to_utc() -> None:
    state = decode_state(fixture_bytes("running.json"), RUNNING.workflow_id)
    started = state.started_at
    assert isinstance(started, Timestamp)
    assert started.utcoffset() == timedelta(0)
    assert (started.hour, started.minute, started.nanosecond) == (12, 5, 789)


def test_json_numbers_and_escapes_of_running_fixture() -> None:
    state = decode_state(fixture_bytes("running.json"), RUNNING.workflow_id)
    assert type(state.inputs["whole_float"]) is int
    assert state.inputs["whole_float"] == 3
    assert type(state.inputs["threshold"]) is float
    assert state.inputs["threshold"] == 0.75
    review = state.states["review"]
    assert review.response is not None
    assert review.response["summary"] == "Null check <missing> & test gap"
    assert state.states["apply_fixes"].response is None


def test_times_without_sub_microseconds_are_plain_datetimes() -> None:
    state = decode_state(fixture_bytes("completed.json"), COMPLETED.workflow_id)
    assert type(state.started_at) is datetime
    assert state.completed_at == datetime(2025, 12, 1, 0, 0, 3, 100000, tzinfo=UTC)


@pytest.mark.parametrize("name", ["minimal.json", "completed.json"])
def test_utc_fixture_re_encodes_byte_for_byte(name: str) -> None:
    raw = fixture_bytes(name)
    assert encode_state(decode_state(raw, EXPECTED[name].workflow_id)) == raw


@pytest.mark.parametrize("name", ["minimal.json", "completed.json"])
def test_hand_built_state_encodes_to_the_fixture(name: str) -> None:
    assert encode_state(EXPECTED[name]) == fixture_bytes(name)


def test_running_fixture_re_encodes_with_utc_times() -> None:
    raw = fixture_bytes("running.json").decode()
    utc_text = raw
    for local, utc in [
        ("14:05:07.123456789+02:00", "12:05:07.123456789Z"),
        ("14:05:09.123456789+02:00", "12:05:09.123456789Z"),
        ("14:05:50.623456789+02:00", "12:05:50.623456789Z"),
        ("14:05:54.123456789+02:00", "12:05:54.123456789Z"),
        ("14:05:55.123456789+02:00", "12:05:55.123456789Z"),
    ]:
        assert local in utc_text
        utc_text = utc_text.replace(local, utc)
    assert "+02:00" not in utc_text
    state = decode_state(raw.encode(), RUNNING.workflow_id)
    assert encode_text(state) == utc_text
    assert decode_state(encode_state(state), RUNNING.workflow_id) == state


# --- Encoding: Go's formatting ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (0.75, "0.75"),
        (-2.5, "-2.5"),
        (0.0, "0"),
        (-0.0, "-0"),
        (0.1, "0.1"),
        (1 / 3, "0.3333333333333333"),
        (1e-6, "0.000001"),
        (1.234e-6, "0.000001234"),
        (-2.5e-5, "-0.000025"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (-1e-9, "-1e-9"),
        (1e-100, "1e-100"),
        (5e-324, "5e-324"),
        (1e20, "100000000000000000000"),
        (2.0**60, "1152921504606847000"),
        (123456.789, "123456.789"),
        (1e21, "1e+21"),
        (1.5e21, "1.5e+21"),
        (-1e22, "-1e+22"),
        (1e100, "1e+100"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
    ],
)
def test_go_float_format(value: float, text: str) -> None:
    assert format_go_float(value) == text


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_go_float_format_rejects_non_finite(value: float) -> None:
    with pytest.raises(ValueError, match="not a JSON number"):
        format_go_float(value)


def test_numbers_inside_json_values_use_go_format() -> None:
    state = ExecutionContext(
        workflow_id=WID,
        inputs={"a": 3.0, "b": 1e-7, "c": 2**53, "d": -7, "e": [0.5, 1e21], "f": True},
    )
    text = encode_text(state)
    assert '"a": 3,' in text
    assert '"b": 1e-7,' in text
    assert '"c": 9007199254740992,' in text
    assert '"d": -7,' in text
    assert '"e": [\n      0.5,\n      1e+21\n    ],' in text
    assert '"f": true\n' in text


def test_string_escapes_match_go() -> None:
    state = ExecutionContext(
        workflow_id=WID,
        workflow_name='<a href="x">&</a>\\\n\r\t\b\f\x01\x1f\x7f\u2028\u2029 caf\u00e9 \U0001f600',
    )
    line = encode_text(state).splitlines()[2]
    expected = (
        '  "WorkflowName": "\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e'
        '\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\\u2028\\u2029 caf\u00e9 \U0001f600",'
    )
    assert line == expected


def test_map_keys_are_sorted_everywhere_and_structs_keep_go_order() -> None:
    state = ExecutionContext(
        workflow_id=WID,
        inputs={"z": 1, "\u00e9": 2, "B": {"y": 1, "a": 2}, "a": 3},
        env={"b": "2", "A": "1"},
        states={"zeta": StepState(name="zeta"), "alpha": StepState(name="alpha")},
    )
    document = encode_text(state)
    parsed = json.loads(document, object_pairs_hook=list)
    keys = [key for key, _ in parsed]
    assert keys == [
        "WorkflowID",
        "WorkflowName",
        "ParentRunID",
        "Status",
        "CurrentStep",
        "ExitCode",
        "Inputs",
        "States",
        "Env",
        "StartedAt",
        "UpdatedAt",
        "CompletedAt",
        "CurrentLoop",
        "CallStack",
    ]
    members = dict(parsed)
    assert [key for key, _ in members["Inputs"]] == ["B", "a", "z", "\u00e9"]
    assert [key for key, _ in dict(members["Inputs"])["B"]] == ["a", "y"]
    assert [key for key, _ in members["Env"]] == ["A", "b"]
    assert [key for key, _ in members["States"]] == ["alpha", "zeta"]
    step_keys = [key for key, _ in dict(members["States"])["alpha"]]
    assert step_keys[:3] == ["Name", "Status", "Output"]
    assert step_keys[-3:] == ["StderrPath", "Truncated", "Data"]
    assert len(step_keys) == 20


def test_layout_empty_values_and_nil_slices() -> None:
    state = ExecutionContext(
        workflow_id=WID,
        status=ExecutionStatus.UNSPECIFIED,
        inputs={"empty_list": [], "empty_map": {}},
        states={
            "s": StepState(
                conversation=ConversationState(turns=[]), response={}, data=None, json=[]
            )
        },
    )
    text = encode_text(state)
    assert text.startswith('{\n  "WorkflowID": "wf-1",\n')
    assert text.endswith('\n  "CurrentLoop": null,\n  "CallStack": null\n}')
    assert '  "Status": "",\n' in text
    assert '"empty_list": [],\n    "empty_map": {}\n' in text
    assert '      "Response": {},\n      "JSON": [],\n' in text
    assert '        "Turns": null,\n' in text
    assert '      "Data": null\n' in text
    assert '  "Env": {},\n' in text


def test_times_are_written_in_utc_with_trimmed_fractions() -> None:
    plus_two = timezone(timedelta(hours=2))
    state = ExecutionContext(
        workflow_id=WID,
        started_at=datetime(2025, 1, 2, 3, 4, 5, 120000, tzinfo=plus_two),
        updated_at=Timestamp(2025, 1, 2, 3, 4, 5, 0, UTC, nanosecond=10),
        completed_at=datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC),
        states={"s": StepState(started_at=datetime(2025, 1, 2, tzinfo=UTC))},
    )
    text = encode_text(state)
    assert '"StartedAt": "2025-01-02T01:04:05.12Z"' in text
    assert '"UpdatedAt": "2025-01-02T03:04:05.00000001Z"' in text
    assert '"CompletedAt": "0001-01-01T00:00:01Z"' in text
    assert '"StartedAt": "2025-01-02T00:00:00Z"' in text
    assert '"CompletedAt": "0001-01-01T00:00:00Z"' in text


def test_every_field_round_trips() -> None:
    state = ExecutionContext(
        workflow_id=WID,
        workflow_name="w",
        parent_run_id="p",
        status=ExecutionStatus.CANCELLED,
        current_step="s",
        exit_code=-(2**31),
        inputs={"nested": {"list": [1, 2.5, None, "x", {"k": False}]}},
        states={
            "s": StepState(
                name="s",
                status=ExecutionStatus.FAILED,
                output="o",
                stderr="e",
                exit_code=2**31 - 1,
                attempt=4,
                error="boom",
                started_at=Timestamp(2030, 5, 6, 7, 8, 9, 1, UTC, nanosecond=1),
                completed_at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                response={"r": 1},
                json=[1, "two"],
                conversation=ConversationState(
                    session_id="id",
                    turns=[Turn(role="user", content="hi", tokens=2**63 - 1)],
                    total_turns=1,
                    total_tokens=-(2**63),
                    stopped_by="max_turns",
                ),
                tokens_used=1,
                tokens_input=2,
                tokens_output=3,
                tokens_estimated=True,
                output_path="/o",
                stderr_path="/e",
                truncated=True,
                data={"d": [True]},
            ),
            "empty": StepState(),
        },
        env={"K": "V"},
        started_at=datetime(2024, 2, 29, 12, tzinfo=UTC),
        updated_at=datetime(2024, 2, 29, 12, 0, 0, 1, tzinfo=UTC),
        current_loop=LoopContext(
            item=[1, 2], index=3, length=4, parent=LoopContext(item=None, first=True)
        ),
        call_stack=["a", "b"],
    )
    assert decode_state(encode_state(state), WID) == state


# --- Decoding: leniency like Go's json.Unmarshal ------------------------------------------------


def test_keys_match_ignoring_case() -> None:
    state = decode_doc(
        {
            "workflowid": WID,
            "STATUS": "running",
            "startedAt": "2025-01-01T00:00:00Z",
            "states": {"s": {"attempt": 2, "CONVERSATION": {"turns": [{"ROLE": "user"}]}}},
            "currentloop": {"PARENT": {"index": 5}},
        }
    )
    assert state.status is ExecutionStatus.RUNNING
    assert state.started_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert state.states["s"].attempt == 2
    assert state.states["s"].conversation == ConversationState(turns=[Turn(role="user")])
    assert state.current_loop == LoopContext(parent=LoopContext(index=5))


def test_the_last_of_keys_differing_in_case_wins_whichever_is_exact() -> None:
    """Go's own key and a folded one are the same field: the later one in the file wins."""
    first = b'{"WorkflowName": "exact", "workflowname": "folded"}'
    assert decode_state(first, WID).workflow_name == "folded"
    second = b'{"workflowname": "folded", "WorkflowName": "exact"}'
    assert decode_state(second, WID).workflow_name == "exact"
    step = b'{"States": {"s": {"Truncated": true, "TRUNCATED": false, "Name": 3}}}'
    with pytest.raises(DataCorruptedError, match=r"States\['s'\]\.Name: expected a string, got"):
        decode_state(step, WID)
    folded = b'{"States": {"s": {"name": "n", "truncated": true, "Name": "m"}}}'
    assert decode_state(folded, WID).states["s"] == StepState(name="m", truncated=True)


def test_unknown_keys_are_ignored() -> None:
    state = decode_doc(
        {"WorkflowName": "w", "DisplayOutput": "x", "Future": {"a": [1]}, "States": {"s": {"X": 1}}}
    )
    assert state == ExecutionContext(
        workflow_id=WID,
        workflow_name="w",
        status=ExecutionStatus.UNSPECIFIED,
        states={"s": StepState()},
    )


def test_missing_keys_give_zero_values() -> None:
    state = decode_state(b"{}", WID)
    assert state == ExecutionContext(workflow_id=WID, status=ExecutionStatus.UNSPECIFIED)


def test_partial_document_like_awf_resume_tests() -> None:
    state = decode_doc(
        {
            "WorkflowID": WID,
            "Status": "running",
            "CurrentStep": "step2",
            "Inputs": {"name": "x"},
            "States": {"step1": {"Name": "step1", "Status": "completed"}},
            "Env": {},
            "StartedAt": "2025-01-01T10:00:00Z",
            "UpdatedAt": "2025-01-01T10:05:00+01:00",
        }
    )
    assert state.states["step1"].status is ExecutionStatus.COMPLETED
    assert state.states["step1"].started_at is None
    assert state.updated_at == datetime(2025, 1, 1, 9, 5, tzinfo=UTC)
    assert state.call_stack == []


def test_null_values_give_zero_values() -> None:
    state = decode_doc(
        {
            "WorkflowID": None,
            "WorkflowName": None,
            "Status": None,
            "ExitCode": None,
            "Inputs": None,
            "States": {"s": None, "t": {"Response": None, "Data": None, "Conversation": None}},
            "Env": None,
            "StartedAt": None,
            "CurrentLoop": None,
            "CallStack": None,
        }
    )
    assert state == ExecutionContext(
        workflow_id=WID,
        status=ExecutionStatus.UNSPECIFIED,
        states={"s": StepState(), "t": StepState()},
    )


def test_empty_maps_are_kept_apart_from_null() -> None:
    state = decode_doc(
        {"States": {"s": {"Response": {}, "Data": {}, "JSON": {}}, "t": {"JSON": None}}}
    )
    assert state.states["s"].response == {}
    assert state.states["s"].data == {}
    assert state.states["s"].json == {}
    assert state.states["t"].response is None
    assert state.states["t"].json is None


def test_null_inside_lists_and_maps() -> None:
    state = decode_doc(
        {
            "CallStack": ["a", None],
            "Env": {"A": None},
            "States": {"s": {"Conversation": {"Turns": [None, {"Tokens": 1}]}}},
        }
    )
    assert state.call_stack == ["a", ""]
    assert state.env == {"A": ""}
    conversation = state.states["s"].conversation
    assert conversation is not None
    assert conversation.turns == [Turn(), Turn(tokens=1)]


def test_empty_status_is_unspecified() -> None:
    assert decode_doc({"Status": ""}).status is ExecutionStatus.UNSPECIFIED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-02T14:05:07Z", datetime(2025, 6, 2, 14, 5, 7, tzinfo=UTC)),
        ("2025-06-02T14:05:07.5Z", datetime(2025, 6, 2, 14, 5, 7, 500000, tzinfo=UTC)),
        ("2025-06-02T14:05:07.000001Z", datetime(2025, 6, 2, 14, 5, 7, 1, tzinfo=UTC)),
        (
            "2025-06-02T14:05:07.000000001Z",
            Timestamp(2025, 6, 2, 14, 5, 7, 0, UTC, nanosecond=1),
        ),
        ("2025-06-02T14:05:07-05:30", datetime(2025, 6, 2, 19, 35, 7, tzinfo=UTC)),
        ("2025-01-01T01:00:00+02:00", datetime(2024, 12, 31, 23, 0, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("0001-01-01T01:00:00+01:00", None),
        ("0001-01-01T00:00:00.000000001Z", Timestamp(1, 1, 1, 0, 0, 0, 0, UTC, nanosecond=1)),
        (
            "9999-12-31T23:59:59.999999999Z",
            Timestamp(9999, 12, 31, 23, 59, 59, 999999, UTC, nanosecond=999),
        ),
    ],
)
def test_times_are_parsed(text: str, expected: datetime | None) -> None:
    state = decode_doc({"StartedAt": text})
    assert state.started_at == expected
    if expected is not None:
        assert state.started_at is not None
        assert state.started_at.utcoffset() == timedelta(0)


def test_json_values_are_normalized() -> None:
    raw = (
        b'{"Inputs": {"whole": 3.0, "exp": 1E2, "frac": 0.5, "big": 18014398509481984,'
        b' "neg": -0.0}, "CurrentLoop": {"Item": 2.0}}'
    )
    state = decode_state(raw, WID)
    assert state.inputs == {"whole": 3, "exp": 100, "frac": 0.5, "big": 2.0**54, "neg": 0}
    assert type(state.inputs["whole"]) is int
    assert type(state.inputs["big"]) is float
    assert state.current_loop is not None
    assert type(state.current_loop.item) is int


def test_lone_surrogate_escapes_become_replacement_characters() -> None:
    state = decode_state(b'{"WorkflowName": "a\\ud800b", "Inputs": {"k\\udc00": "\\ud83d"}}', WID)
    assert state.workflow_name == "a\ufffdb"
    assert state.inputs == {"k\ufffd": "\ufffd"}
    valid_pair = decode_state(b'{"WorkflowName": "\\ud83d\\ude00"}', WID)
    assert valid_pair.workflow_name == "\U0001f600"


# --- Decoding: corruption -----------------------------------------------------------------------

VALID_DOCUMENT = encode_state(
    ExecutionContext(workflow_id=WID, inputs={"a": [1, 2, 3]}, started_at=datetime.now(UTC))
)


def big(value: int) -> bytes:
    return str(value).encode()


CORRUPT_CASES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "empty"),
    ("whitespace", b"  \n", "not valid JSON"),
    ("truncated", VALID_DOCUMENT[: len(VALID_DOCUMENT) // 2], "not valid JSON"),
    ("truncated at end", VALID_DOCUMENT[:-1], "not valid JSON"),
    ("not json", b"hello", "not valid JSON"),
    ("trailing data", b"{} {}", "not valid JSON"),
    ("not utf-8", b'{"WorkflowName": "\xff\xfe"}', "not UTF-8"),
    ("utf-16", '{"Status": "running"}'.encode("utf-16"), "not UTF-8"),
    ("bom", b"\xef\xbb\xbf{}", "not valid JSON"),
    ("top null", b"null", "top level, got null"),
    ("top array", b"[]", "top level, got an array"),
    ("top string", b'"x"', "top level, got a string"),
    ("top number", b"42", "top level"),
    ("string for int", b'{"ExitCode": "7"}', "ExitCode: expected an integer"),
    ("float for int", b'{"ExitCode": 1.5}', "ExitCode: expected an integer"),
    ("whole float for int", b'{"ExitCode": 1.0}', "ExitCode: expected an integer"),
    ("bool for int", b'{"ExitCode": true}', "ExitCode: expected an integer"),
    ("int32 overflow", b'{"ExitCode": ' + big(2**31) + b"}", "ExitCode: 2147483648 does not"),
    ("int32 underflow", b'{"States": {"s": {"Attempt": ' + big(-(2**31) - 1) + b"}}}", "Attempt"),
    ("loop index", b'{"CurrentLoop": {"Index": ' + big(2**31) + b"}}", "CurrentLoop.Index"),
    (
        "loop length",
        b'{"CurrentLoop": {"Parent": {"Length": ' + big(2**40) + b"}}}",
        "CurrentLoop.Parent.Length",
    ),
    (
        "total turns",
        b'{"States": {"s": {"Conversation": {"TotalTurns": ' + big(2**31) + b"}}}}",
        "TotalTurns",
    ),
    ("int64 overflow", b'{"States": {"s": {"TokensUsed": ' + big(2**63) + b"}}}", "TokensUsed"),
    (
        "turn tokens",
        b'{"States": {"s": {"Conversation": {"Turns": [{"Tokens": ' + big(-(2**63) - 1) + b"}]}}}}",
        "Turns[0].Tokens",
    ),
    ("number for string", b'{"WorkflowName": 5}', "WorkflowName: expected a string"),
    ("string for bool", b'{"States": {"s": {"Truncated": "yes"}}}', "Truncated: expected true"),
    ("array for inputs", b'{"Inputs": []}', "Inputs: expected an object"),
    ("array for states", b'{"States": [1]}', "States: expected an object"),
    ("string for step", b'{"States": {"s": "x"}}', "expected an object"),
    ("number for env", b'{"Env": {"A": 1}}', "Env['A']: expected a string"),
    ("string for call stack", b'{"CallStack": "a"}', "CallStack: expected an array"),
    ("number in call stack", b'{"CallStack": ["a", 1]}', "CallStack[1]: expected a string"),
    ("array for response", b'{"States": {"s": {"Response": [1]}}}', "Response: expected an"),
    ("string for data", b'{"States": {"s": {"Data": "x"}}}', "Data: expected an object"),
    ("number for loop", b'{"CurrentLoop": 5}', "CurrentLoop: expected an object"),
    ("string for turns", b'{"States": {"s": {"Conversation": {"Turns": "x"}}}}', "Turns"),
    ("unknown status", b'{"Status": "done"}', "Status: unknown status 'done'"),
    ("status case", b'{"States": {"s": {"Status": "Running"}}}', "unknown status 'Running'"),
    ("status number", b'{"Status": 1}', "Status: expected a string"),
    ("NaN", b'{"Inputs": {"x": NaN}}', "NaN is not a JSON number"),
    ("Infinity", b'{"States": {"s": {"JSON": Infinity}}}', "Infinity is not a JSON number"),
    ("-Infinity", b'{"CurrentLoop": {"Item": -Infinity}}', "-Infinity is not a JSON number"),
    ("huge float", b'{"Inputs": {"x": 1e400}}', "too large for a float64"),
    ("huge integer", b'{"Inputs": {"x": 1' + b"0" * 400 + b"}}", "too large for a float64"),
    ("time not a string", b'{"StartedAt": 5}', "StartedAt: expected an RFC 3339 time"),
    ("time garbage", b'{"StartedAt": "yesterday"}', "StartedAt: 'yesterday' is not an RFC 3339"),
    ("time space", b'{"StartedAt": "2025-01-01 00:00:00Z"}', "not an RFC 3339 time"),
    ("time no zone", b'{"UpdatedAt": "2025-01-01T00:00:00"}', "UpdatedAt: "),
    ("time empty fraction", b'{"StartedAt": "2025-01-01T00:00:00.Z"}', "not an RFC 3339"),
    ("time 10 digits", b'{"StartedAt": "2025-01-01T00:00:00.1234567891Z"}', "not an RFC 3339"),
    ("time lower z", b'{"StartedAt": "2025-01-01T00:00:00z"}', "not an RFC 3339"),
    ("time short offset", b'{"StartedAt": "2025-01-01T00:00:00+0200"}', "not an RFC 3339"),
    ("time month 13", b'{"StartedAt": "2025-13-01T00:00:00Z"}', "not a valid date and time"),
    ("time Feb 30", b'{"StartedAt": "2025-02-30T00:00:00Z"}', "not a valid date and time"),
    ("time hour 24", b'{"StartedAt": "2025-01-01T24:00:00Z"}', "not a valid date and time"),
    ("time leap second", b'{"StartedAt": "2016-12-31T23:59:60Z"}', "not a valid date and time"),
    ("time offset 24h", b'{"StartedAt": "2025-01-01T00:00:00+24:00"}', "invalid UTC offset"),
    ("time before year 1", b'{"StartedAt": "0001-01-01T00:00:00+01:00"}', "out of range"),
    ("time after 9999", b'{"CompletedAt": "9999-12-31T23:59:59-01:00"}', "out of range"),
    ("step time", b'{"States": {"s": {"CompletedAt": "x"}}}', "States['s'].CompletedAt"),
    ("other workflow id", b'{"WorkflowID": "other"}', "WorkflowID: 'other' does not match"),
    ("json too deep", b'{"Inputs": {"x": ' + b"[" * 30 + b"]" * 30 + b"}}", "nested deeper"),
    (
        "json far too deep",
        b'{"Inputs": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
        "too deeply",
    ),
    (
        "loops too deep",
        b'{"CurrentLoop": ' + b'{"Parent": ' * 20 + b"null" + b"}" * 21,
        "loops nest deeper",
    ),
]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [pytest.param(data, fragment, id=name) for name, data, fragment in CORRUPT_CASES],
)
def test_corrupt_documents_are_rejected(data: bytes, fragment: str) -> None:
    with pytest.raises(DataCorruptedError) as caught:
        decode_state(data, WID)
    message = caught.value.message
    assert message.startswith(f"state of {WID!r} is corrupted: ")
    assert fragment in message


def test_corruption_names_the_workflow_id() -> None:
    with pytest.raises(DataCorruptedError, match=r"state of 'run-42' is corrupted: StartedAt: "):
        decode_state(b'{"StartedAt": "soon"}', "run-42")


def test_valid_document_for_corruption_cases_decodes() -> None:
    state = decode_state(VALID_DOCUMENT, WID)
    assert state.inputs == {"a": [1, 2, 3]}

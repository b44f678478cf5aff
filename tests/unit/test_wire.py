"""Wire decoding rejects what only the wire can get wrong, with InvalidArgumentError."""

from __future__ import annotations

import pytest
from wfstore import InvalidArgumentError
from wfstore.v1 import history_pb2, state_pb2
from wfstore.wire import context_from_proto, context_to_proto, record_from_proto

from tests.support.factories import full_context


def test_a_full_state_survives_the_wire() -> None:
    state = full_context()
    assert context_from_proto(context_to_proto(state)) == state


def test_unknown_status_numbers_are_invalid() -> None:
    message = state_pb2.ExecutionContext(workflow_id="x", status=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="ExecutionStatus"):
        context_from_proto(message)


@pytest.mark.parametrize(("seconds", "nanos"), [(-62135596801, 0), (253402300800, 0), (0, -1)])
def test_timestamps_outside_years_1_to_9999_are_invalid(seconds: int, nanos: int) -> None:
    message = history_pb2.ExecutionRecord(id="r")
    message.completed_at.seconds = seconds
    message.completed_at.nanos = nanos
    with pytest.raises(InvalidArgumentError, match="completed_at"):
        record_from_proto(message)


def test_numbers_come_back_in_their_canonical_type() -> None:
    message = state_pb2.ExecutionContext(workflow_id="x")
    message.inputs.update({"whole": 3.0, "frac": 0.5, "big": 2.0**60, "flag": True})
    inputs = context_from_proto(message).inputs
    assert inputs == {"whole": 3, "frac": 0.5, "big": 2.0**60, "flag": True}
    assert type(inputs["whole"]) is int
    assert type(inputs["big"]) is float
    assert inputs["flag"] is True


def test_empty_objects_and_lists_are_not_null() -> None:
    state = full_context()
    state.inputs = {"obj": {}, "list": [], "nested": [{}, []]}
    state.states["apply_fixes"].response = {}
    state.states["apply_fixes"].json = []
    state.current_loop.item = {}  # type: ignore[union-attr]
    assert context_from_proto(context_to_proto(state)) == state

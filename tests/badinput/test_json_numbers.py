"""NaN and infinities in JSON values: refused from Python and from any other language.

JSON has no NaN or infinity, and awf's state files are JSON, so no store can keep them. From
Python, every store (embedded, or the client before it sends) raises InvalidArgumentError
naming the value's path. Another language can put NaN in a ``google.protobuf.Value``
(``number_value`` is a double); the daemon answers INVALID_ARGUMENT with the same message,
and stores nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2
from raw_calls import call
from wfstore import ExecutionContext, InvalidArgumentError, LoopContext, StepState
from wfstore.v1 import state_pb2
from wfstored import JSONStateStore

from tests.support.daemon import Daemon

SAVE = "/wfstore.v1.StateService/Save"
NOT_NUMBERS = [math.nan, math.inf, -math.inf]


def _placed(number: float) -> dict[str, tuple[ExecutionContext, str]]:
    """``number`` in each place a JSON value lives, and the path the error must name."""
    return {
        "inputs": (ExecutionContext(workflow_id="n", inputs={"x": number}), "inputs['x']"),
        "nested inputs": (
            ExecutionContext(workflow_id="n", inputs={"a": [{"b": number}]}),
            "inputs['a'][0]['b']",
        ),
        "step response": (
            ExecutionContext(workflow_id="n", states={"s": StepState(response={"r": number})}),
            "states['s'].response['r']",
        ),
        "step json": (
            ExecutionContext(workflow_id="n", states={"s": StepState(json=number)}),
            "states['s'].json",
        ),
        "step data": (
            ExecutionContext(workflow_id="n", states={"s": StepState(data={"d": [number]})}),
            "states['s'].data['d'][0]",
        ),
        "loop item": (
            ExecutionContext(
                workflow_id="n", current_loop=LoopContext(parent=LoopContext(item=number))
            ),
            "current_loop.parent.item",
        ),
    }


CASES = [
    pytest.param(number, place, id=f"{number}-{place}")
    for number in NOT_NUMBERS
    for place in _placed(0.0)
]


def _save_raises(save: Callable[[ExecutionContext], None], number: float, place: str) -> None:
    state, path = _placed(number)[place]
    with pytest.raises(InvalidArgumentError) as caught:
        save(state)
    assert caught.value.message == f"{path}: {number} is not a JSON number"


@pytest.mark.parametrize(("number", "place"), CASES)
def test_python_callers_get_invalid_argument_embedded(
    tmp_path: Path, number: float, place: str
) -> None:
    store = JSONStateStore(tmp_path)
    _save_raises(store.save, number, place)
    assert store.list() == []


@pytest.mark.parametrize(("number", "place"), CASES)
def test_python_callers_get_invalid_argument_before_sending(
    daemon: Daemon, number: float, place: str
) -> None:
    with daemon.client(timeout=10) as client:
        _save_raises(client.state.save, number, place)
        assert client.state.load("n") is None


def _wire_state(number: float, place: str) -> state_pb2.ExecutionContext:
    """The state another language would send: NaN or infinity in a protobuf Value."""
    message = state_pb2.ExecutionContext(workflow_id="n")
    value: struct_pb2.Value
    if place == "inputs":
        value = message.inputs.fields["x"]
    elif place == "nested inputs":
        value = message.inputs.fields["a"].list_value.values.add().struct_value.fields["b"]
    elif place == "step response":
        value = message.states["s"].response.fields["r"]
    elif place == "step json":
        value = message.states["s"].json
    elif place == "step data":
        value = message.states["s"].data.fields["d"].list_value.values.add()
    else:
        value = message.current_loop.parent.item
    value.number_value = number
    return message


@pytest.mark.parametrize(("number", "place"), CASES)
def test_other_languages_get_invalid_argument_and_nothing_is_stored(
    channel: grpc.Channel, daemon: Daemon, number: float, place: str
) -> None:
    _, path = _placed(number)[place]
    request = state_pb2.StateServiceSaveRequest(state=_wire_state(number, place))
    answer = call(channel, SAVE, request)
    assert answer.code is grpc.StatusCode.INVALID_ARGUMENT, answer
    assert answer.details == f"{path}: {number} is not a JSON number"
    assert not (daemon.data_dir / "state" / "n.json").exists()


def test_other_numbers_from_other_languages(channel: grpc.Channel, daemon: Daemon) -> None:
    """Whole doubles beyond 2^53 stay doubles; a Value with no kind set is null."""
    message = state_pb2.ExecutionContext(workflow_id="numbers")
    message.inputs.fields["big"].number_value = 2.0**60
    message.inputs.fields["whole"].number_value = 3.0
    message.inputs.fields["unset"].SetInParent()  # a Value with no kind: null
    answer = call(channel, SAVE, state_pb2.StateServiceSaveRequest(state=message))
    assert answer.code is grpc.StatusCode.OK, answer
    with daemon.client(timeout=10) as client:
        loaded = client.state.load("numbers")
    assert loaded is not None
    assert loaded.inputs == {"big": 2.0**60, "whole": 3, "unset": None}
    assert type(loaded.inputs["big"]) is float
    assert type(loaded.inputs["whole"]) is int


def test_python_integers_beyond_2_53_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"inputs\['x'\]: 9007199254740993 is beyond"):
        JSONStateStore(tmp_path).save(ExecutionContext(workflow_id="n", inputs={"x": 2**53 + 1}))

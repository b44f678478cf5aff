"""check_context's fast path never passes a state its full check rejects, nor changes an error.

:func:`wfstore.validation.check_context` first asks a quick check that answers "certainly
valid" or "maybe not", and runs the full field-by-field check only on "maybe not". These
properties mutate valid states with values of every wrong (and every unusual but right) type
and compare the quick answer with the full check, which alone words the errors.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from domain_strategies import contexts
from hypothesis import given
from hypothesis import strategies as st
from wfstore import (
    ConversationState,
    ExecutionContext,
    ExecutionStatus,
    LoopContext,
    StepState,
    Turn,
)
from wfstore.errors import InvalidArgumentError
from wfstore.timestamps import Timestamp
from wfstore.validation import (
    MAX_JSON_DEPTH,
    MAX_LOOP_DEPTH,
    MAX_SAFE_INTEGER,
    _check_context_in_full,
    _context_passes,
    check_context,
)

from scripts.bench._payloads import make_state


class _Text(str):
    """A str subclass: valid, but not the exact type the fast path expects."""

    __slots__ = ()


class _Number(int):
    """An int subclass: valid where an int is, but not the exact type."""


def _nested(levels: int, *, as_list: bool) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value] if as_list else {"k": value}
    return value


def _loop_chain(levels: int) -> LoopContext:
    loop = LoopContext()
    for _ in range(levels - 1):
        loop = LoopContext(parent=loop)
    return loop


_EAST = timezone(timedelta(hours=14))
_WEST = timezone(-timedelta(hours=12))
ODD_VALUES: list[object] = [
    None,
    True,
    False,
    0,
    -1,
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    MAX_SAFE_INTEGER,
    MAX_SAFE_INTEGER + 1,
    -MAX_SAFE_INTEGER - 1,
    1.5,
    float("nan"),
    float("inf"),
    -float("inf"),
    "",
    "x",
    "é€😀",
    "\ud800",
    "a\udfffb",
    "/",
    ".",
    "..",
    "a\x00",
    "a\x7f",
    "x" * 251,
    "é" * 126,
    "running",
    "bogus",
    _Text("completed"),
    _Number(3),
    ExecutionStatus.FAILED,
    [],
    ["a", 1, None],
    [1.5, float("nan")],
    {},
    {"k": "\udc00"},
    {"\ud800": 1},
    {1: 2},
    {"k": object()},
    {"k": 2**60},
    (1, 2),
    _nested(MAX_JSON_DEPTH - 1, as_list=True),
    _nested(MAX_JSON_DEPTH, as_list=True),
    _nested(MAX_JSON_DEPTH - 1, as_list=False),
    _nested(MAX_JSON_DEPTH, as_list=False),
    datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    datetime(2025, 1, 2, 3, 4, 5),  # naive  # noqa: DTZ001
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    Timestamp(1, 1, 1, tzinfo=UTC, nanosecond=1),
    Timestamp(1, 1, 1, tzinfo=UTC),
    Timestamp(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC, nanosecond=999),
    datetime(1, 1, 1, 13, tzinfo=_EAST),  # before year 1 in UTC
    datetime(1, 1, 1, 14, tzinfo=_EAST),  # exactly the zero time
    datetime(1, 1, 1, 14, 0, 0, 1, tzinfo=_EAST),
    datetime(9999, 12, 31, 11, 59, 59, 999999, tzinfo=_WEST),
    datetime(9999, 12, 31, 12, tzinfo=_WEST),  # after year 9999 in UTC
    timedelta(seconds=1),
    LoopContext(),
    _loop_chain(MAX_LOOP_DEPTH),
    _loop_chain(MAX_LOOP_DEPTH + 1),
    StepState(),
    ConversationState(),
    ConversationState(turns=[Turn()]),
    Turn(),
    [Turn(role="\ud800")],
    object(),
]
"""Values of every type, valid and not, to put in place of a field or inside a JSON value."""

_TARGET_TYPES = (ExecutionContext, StepState, ConversationState, Turn, LoopContext)


def _targets(value: object) -> list[object]:
    """Return the domain objects and containers reachable from ``value``."""
    found: list[object] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, _TARGET_TYPES):
            found.append(item)
            pending.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif isinstance(item, dict | list) and len(found) < 400:
            found.append(item)
            pending.extend(item.values() if isinstance(item, dict) else item)
    return found


@st.composite
def mutated_contexts(draw: st.DrawFn) -> ExecutionContext:
    """A valid state with one to three fields or JSON members replaced by odd values."""
    state = draw(contexts)
    for _ in range(draw(st.integers(1, 3))):
        target: Any = draw(st.sampled_from(_targets(state)))
        value = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))  # later mutations: a copy
        if isinstance(target, dict):
            key = draw(st.sampled_from([*target, "new"]) if target else st.just("new"))
            target[key] = value
        elif isinstance(target, list):
            if target:
                target[draw(st.integers(0, len(target) - 1))] = value
            else:
                target.append(value)
        else:
            name = draw(st.sampled_from([f.name for f in dataclasses.fields(target)]))
            object.__setattr__(target, name, value)
    return state


def _full_error(state: object) -> str | None:
    try:
        _check_context_in_full(state)
    except InvalidArgumentError as exc:
        return exc.message
    return None


def _error(state: object) -> str | None:
    try:
        check_context(state)
    except InvalidArgumentError as exc:
        return exc.message
    return None


@given(mutated_contexts())
def test_the_fast_path_passes_only_what_the_full_check_passes(state: ExecutionContext) -> None:
    """Whatever the quick check passes, the full check passes; errors are the full check's."""
    full = _full_error(state)
    if _context_passes(state):
        assert full is None
    assert _error(state) == full


@given(contexts)
def test_valid_states_pass_both_ways(state: ExecutionContext) -> None:
    """A valid state passes check_context (quickly or not) and the full check."""
    assert _full_error(state) is None
    check_context(state)


def test_the_benchmark_state_takes_the_fast_path() -> None:
    """The usual state (UTC times, plain types) is passed by the quick check alone."""
    assert _context_passes(make_state("state-000"))


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_each_odd_value_as_a_json_member(value: object) -> None:
    """Every odd value inside inputs: the quick check never passes what the full one rejects."""
    state = make_state("state-000")
    state.inputs["odd"] = value
    full = _full_error(state)
    if _context_passes(state):
        assert full is None
    assert _error(state) == full


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
@pytest.mark.parametrize(
    "name", [f.name for f in dataclasses.fields(StepState)] + ["workflow_id", "started_at"]
)
def test_each_odd_value_in_each_field(name: str, value: object) -> None:
    """Every odd value in every step field (and the id): the same answer as the full check."""
    state = make_state("state-000")
    target: object = state if name in {"workflow_id", "started_at"} else state.states["build"]
    object.__setattr__(target, name, value)
    full = _full_error(state)
    if _context_passes(state):
        assert full is None
    assert _error(state) == full

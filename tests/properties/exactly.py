"""Exact comparison of domain values: types, float bits and nanoseconds all count.

``==`` on the dataclasses says ``3 == 3.0``, ``0.0 == -0.0`` and ``1 == True``, and compares
datetimes by instant only. :func:`exact` turns a value into a tree that differs whenever the
stores could have returned something else than what they promise: the canonical JSON numbers
of :func:`wfstore.validation.normalize_json`, and times to the nanosecond.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum

from wfstore import ExecutionContext, LoopContext, StepState
from wfstore.timestamps import to_unix_nanos
from wfstore.validation import normalize_json


def exact(value: object) -> object:  # noqa: PLR0911 (one return per kind of value)
    """Return a comparable tree of ``value`` that keeps every distinction that matters."""
    if isinstance(value, Enum):
        return (type(value).__name__, value.value)
    if value is None or isinstance(value, bool | str):
        return (type(value).__name__, value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", value.hex())
    if isinstance(value, datetime):
        return ("time", to_unix_nanos(value))
    if isinstance(value, list):
        return ("list", tuple(exact(item) for item in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((key, exact(item)) for key, item in value.items())))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return (type(value).__name__, tuple(exact(getattr(value, f.name)) for f in fields))
    raise TypeError(f"no exact form for {type(value).__name__}")


def canonical(state: ExecutionContext) -> ExecutionContext:
    """Return ``state`` with its JSON values as every store returns them."""
    return dataclasses.replace(
        state,
        inputs=normalize_json(state.inputs),
        states={key: _canonical_step(step) for key, step in state.states.items()},
        current_loop=_canonical_loop(state.current_loop),
    )


def _canonical_step(step: StepState) -> StepState:
    return dataclasses.replace(
        step,
        response=normalize_json(step.response),
        json=normalize_json(step.json),
        data=normalize_json(step.data),
    )


def _canonical_loop(loop: LoopContext | None) -> LoopContext | None:
    if loop is None:
        return None
    return dataclasses.replace(
        loop, item=normalize_json(loop.item), parent=_canonical_loop(loop.parent)
    )

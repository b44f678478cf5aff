"""The awf state-file codec: an ExecutionContext as awf's Go ``JSONStore`` writes it.

awf saves a run with ``json.MarshalIndent(state, "", "  ")``. :func:`encode_state` writes the
same bytes: Go field names in declaration order, sorted map keys, two-space indent, HTML-safe
string escapes, RFC 3339 times with up to nine fraction digits (``0001-01-01T00:00:00Z`` for
"not set") and numbers formatted the way Go formats a ``float64``.

:func:`decode_state` reads such a file as leniently as Go's ``json.Unmarshal`` does (key case
ignored, unknown keys ignored, missing keys and ``null`` give zero values) but rejects anything
that is not a well-formed state with :class:`~wfstore.errors.DataCorruptedError`.

The structs are described once, as tables of :class:`_Field` (Go key, Python attribute, codec),
and both directions are driven by those tables; Go's own JSON conventions (number and time
formats, escapes, parsing) are :mod:`wfstore.go_json`'s.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

import orjson

from wfstore.domain import (
    ConversationState,
    ExecutionContext,
    ExecutionStatus,
    LoopContext,
    StepState,
    Turn,
)
from wfstore.errors import DataCorruptedError, InvalidArgumentError
from wfstore.go_json import (
    CorruptError,
    fail,
    format_time,
    json_tree,
    json_value,
    kind,
    parse_document,
    parse_time,
    render,
)
from wfstore.validation import INT32_RANGE, INT64_RANGE, check_context

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["decode_state", "encode_state"]

# --- Codecs ----------------------------------------------------------------------------------


class _Codec(Protocol):
    """Turns one field's domain value into a tree node, and a decoded JSON value back."""

    def encode(self, value: object) -> object:
        """Return the tree node of ``value``."""
        ...

    def decode(self, raw: object) -> object:
        """Return the domain value of ``raw`` (a decoded JSON value)."""
        ...


@dataclass(frozen=True, slots=True)
class _Scalar:
    """A codec made of two functions."""

    encoder: Callable[[object], object]
    decoder: Callable[[object], object]

    def encode(self, value: object) -> object:
        """Return the tree node of ``value``."""
        return self.encoder(value)

    def decode(self, raw: object) -> object:
        """Return the domain value of ``raw``."""
        return self.decoder(raw)


def _decode_string(raw: object) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        fail(f"expected a string, got {kind(raw)}")
    return raw


def _int_codec(bits: int) -> _Scalar:
    low, high = INT32_RANGE if bits == 32 else INT64_RANGE

    def decode(raw: object) -> int:
        if raw is None:
            return 0
        if not isinstance(raw, int) or isinstance(raw, bool):
            fail(f"expected an integer, got {kind(raw)}")
        if not low <= raw <= high:
            fail(f"{raw} does not fit in an int{bits}")
        return raw

    return _Scalar(_identity, decode)


def _decode_bool(raw: object) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, bool):
        fail(f"expected true or false, got {kind(raw)}")
    return raw


def _decode_status(raw: object) -> ExecutionStatus:
    text = _decode_string(raw)
    try:
        return ExecutionStatus(text)
    except ValueError:
        fail(f"unknown status {text!r}")


_STATUS_TEXTS: Final = {status.value: status.value for status in ExecutionStatus}


def _encode_status(value: object) -> object:
    if type(value) is ExecutionStatus or type(value) is str:
        text = _STATUS_TEXTS.get(value)  # a member hashes and compares as its text
        if text is not None:
            return text
    return ExecutionStatus(str(value)).value


def _identity(value: object) -> object:
    """Encode a value that is its own tree node (strings, integers, booleans)."""
    return value


def _decode_time(raw: object) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        fail(f"expected an RFC 3339 time string, got {kind(raw)}")
    return parse_time(raw)


def _decode_json_object(raw: object) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        fail(f"expected an object or null, got {kind(raw)}")
    value: dict[str, Any] = json_value(raw)
    return value


def _decode_inputs(raw: object) -> dict[str, Any]:
    return _decode_json_object(raw) or {}


_STRING: Final = _Scalar(_identity, _decode_string)
_INT32_CODEC: Final = _int_codec(32)
_INT64_CODEC: Final = _int_codec(64)
_BOOL: Final = _Scalar(_identity, _decode_bool)
_STATUS: Final = _Scalar(_encode_status, _decode_status)
_TIME: Final = _Scalar(format_time, _decode_time)
_JSON: Final = _Scalar(json_tree, json_value)
_JSON_OBJECT_OR_NULL: Final = _Scalar(json_tree, _decode_json_object)
_JSON_OBJECT: Final = _Scalar(json_tree, _decode_inputs)


@dataclass(frozen=True, slots=True)
class _Optional:
    """A Go pointer: None is ``null``."""

    codec: _Codec

    def encode(self, value: object) -> object:
        """Return ``null`` for None, else the wrapped codec's node."""
        return None if value is None else self.codec.encode(value)

    def decode(self, raw: object) -> object:
        """Return None for ``null``, else the wrapped codec's value."""
        return None if raw is None else self.codec.decode(raw)


@dataclass(frozen=True, slots=True)
class _List:
    """A Go slice: an empty list is written as a nil slice (``null``)."""

    codec: _Codec

    def encode(self, value: object) -> object:
        """Return ``null`` for an empty list, else the list of encoded items."""
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        if _is_identity(self.codec):
            return list(value) or None
        return [self.codec.encode(item) for item in value] or None

    def decode(self, raw: object) -> list[Any]:
        """Return ``[]`` for ``null``, else the decoded items."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            fail(f"expected an array, got {kind(raw)}")
        items = []
        for index, item in enumerate(raw):
            try:
                items.append(self.codec.decode(item))
            except CorruptError as exc:
                exc.within(f"[{index}]")
                raise
        return items


@dataclass(frozen=True, slots=True)
class _Map:
    """A Go map with string keys: ``null`` and ``{}`` both read as an empty dict."""

    codec: _Codec

    def encode(self, value: object) -> object:
        """Return a dict of encoded values, keys sorted as Go writes a map."""
        if not isinstance(value, dict):
            raise TypeError(f"expected a dict, got {type(value).__name__}")
        if _is_identity(self.codec):
            return {key: value[key] for key in sorted(value)}
        encode = self.codec.encode
        return {key: encode(value[key]) for key in sorted(value)}

    def decode(self, raw: object) -> dict[str, Any]:
        """Return the decoded entries."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            fail(f"expected an object, got {kind(raw)}")
        entries = {}
        for key, item in raw.items():
            try:
                entries[key] = self.codec.decode(item)
            except CorruptError as exc:
                exc.within(f"[{key!r}]")
                raise
        return entries


def _is_identity(codec: _Codec) -> bool:
    """Tell whether ``codec`` writes every value as it is."""
    return isinstance(codec, _Scalar) and codec.encoder is _identity


def _encoder(codec: _Codec) -> Callable[[object], object]:
    """Return the function that encodes for ``codec`` (a scalar's own, one call fewer)."""
    return codec.encoder if isinstance(codec, _Scalar) else codec.encode


class _NoJSONType:
    """The type of no decoded JSON value: the own type of fields that always decode."""


def _own_type(codec: _Codec) -> type:
    """Return the type of JSON value that ``codec`` decodes to itself, unchanged."""
    if codec is _STRING:
        return str
    if codec is _BOOL:
        return bool
    return _NoJSONType


def _decoder(codec: _Codec) -> Callable[[object], object]:
    """Return the function that decodes for ``codec`` (a scalar's own, one call fewer)."""
    return codec.decoder if isinstance(codec, _Scalar) else codec.decode


@dataclass(frozen=True, slots=True)
class _Field:
    """One exported Go struct field: its JSON key, the dataclass attribute and its codec."""

    key: str
    attr: str
    codec: _Codec


class _Struct:
    """A Go struct mapped to a dataclass; ``fields`` is set once, after creation."""

    def __init__(self, factory: Callable[..., object]) -> None:
        self.factory = factory
        self.fields: tuple[_Field, ...] = ()
        self._keys: tuple[str, ...] = ()
        self._values: Callable[[object], tuple[object, ...]] = lambda _: ()
        self._encoders: tuple[tuple[int, Callable[[object], object]], ...] = ()

    def define(self, *fields: _Field) -> None:
        """Set the fields in Go declaration order."""
        self.fields = fields
        # Encoding reads every attribute in one call and encodes only what is not its own
        # node, in declaration order (so the first value that cannot be written is the same).
        self._keys = tuple(field.key for field in fields)
        self._values = operator.attrgetter(*(field.attr for field in fields))
        self._encoders = tuple(
            (index, _encoder(field.codec))
            for index, field in enumerate(fields)
            if not _is_identity(field.codec)
        )
        self._by_folded_key = {
            field.key.lower(): (field.attr, "." + field.key, _decoder(field.codec))
            for field in fields
        }
        # Go's own keys, found without folding; with the type of JSON value that a field
        # takes as it is (a string for a string field), which then skips the decoder call.
        self._by_key = {
            field.key: (field.attr, _own_type(field.codec), self._by_folded_key[field.key.lower()])
            for field in fields
        }

    def encode(self, value: object) -> object:
        """Return the struct with every field, in declaration order."""
        values = list(self._values(value))
        for index, encode in self._encoders:
            values[index] = encode(values[index])
        return dict(zip(self._keys, values, strict=True))

    def decode(self, raw: object) -> object:
        """Return the dataclass; ``null`` gives the zero value, as for a Go struct."""
        return self.factory(**self.decode_fields(raw))

    def decode_fields(self, raw: object) -> dict[str, Any]:
        """Return the attributes found in ``raw``: keys matched ignoring case, others ignored."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            fail(f"expected an object, got {kind(raw)}")
        values: dict[str, Any] = {}
        by_key, by_folded_key = self._by_key, self._by_folded_key
        for key, item in raw.items():
            exact = by_key.get(key)
            if exact is not None:
                attr, own_type, known = exact
                if type(item) is own_type:
                    values[attr] = item
                    continue
            else:
                folded = by_folded_key.get(key.lower())
                if folded is None:
                    continue
                known = folded
            attr, step, decode = known
            try:
                values[attr] = decode(item)
            except CorruptError as exc:
                exc.within(step)
                raise
        return values


_TURN: Final = _Struct(Turn)
_TURN.define(
    _Field("Role", "role", _STRING),
    _Field("Content", "content", _STRING),
    _Field("Tokens", "tokens", _INT64_CODEC),
)

_CONVERSATION: Final = _Struct(ConversationState)
_CONVERSATION.define(
    _Field("SessionID", "session_id", _STRING),
    _Field("Turns", "turns", _List(_TURN)),
    _Field("TotalTurns", "total_turns", _INT32_CODEC),
    _Field("TotalTokens", "total_tokens", _INT64_CODEC),
    _Field("StoppedBy", "stopped_by", _STRING),
)

_LOOP: Final = _Struct(LoopContext)
_LOOP.define(
    _Field("Item", "item", _JSON),
    _Field("Index", "index", _INT32_CODEC),
    _Field("First", "first", _BOOL),
    _Field("Last", "last", _BOOL),
    _Field("Length", "length", _INT32_CODEC),
    _Field("Parent", "parent", _Optional(_LOOP)),
)

_STEP: Final = _Struct(StepState)
_STEP.define(
    _Field("Name", "name", _STRING),
    _Field("Status", "status", _STATUS),
    _Field("Output", "output", _STRING),
    _Field("Stderr", "stderr", _STRING),
    _Field("ExitCode", "exit_code", _INT32_CODEC),
    _Field("Attempt", "attempt", _INT32_CODEC),
    _Field("Error", "error", _STRING),
    _Field("StartedAt", "started_at", _TIME),
    _Field("CompletedAt", "completed_at", _TIME),
    _Field("Response", "response", _JSON_OBJECT_OR_NULL),
    _Field("JSON", "json", _JSON),
    _Field("Conversation", "conversation", _Optional(_CONVERSATION)),
    _Field("TokensUsed", "tokens_used", _INT64_CODEC),
    _Field("TokensInput", "tokens_input", _INT64_CODEC),
    _Field("TokensOutput", "tokens_output", _INT64_CODEC),
    _Field("TokensEstimated", "tokens_estimated", _BOOL),
    _Field("OutputPath", "output_path", _STRING),
    _Field("StderrPath", "stderr_path", _STRING),
    _Field("Truncated", "truncated", _BOOL),
    _Field("Data", "data", _JSON_OBJECT_OR_NULL),
)

_CONTEXT: Final = _Struct(ExecutionContext)
_CONTEXT.define(
    _Field("WorkflowID", "workflow_id", _STRING),
    _Field("WorkflowName", "workflow_name", _STRING),
    _Field("ParentRunID", "parent_run_id", _STRING),
    _Field("Status", "status", _STATUS),
    _Field("CurrentStep", "current_step", _STRING),
    _Field("ExitCode", "exit_code", _INT32_CODEC),
    _Field("Inputs", "inputs", _JSON_OBJECT),
    _Field("States", "states", _Map(_STEP)),
    _Field("Env", "env", _Map(_STRING)),
    _Field("StartedAt", "started_at", _TIME),
    _Field("UpdatedAt", "updated_at", _TIME),
    _Field("CompletedAt", "completed_at", _TIME),
    _Field("CurrentLoop", "current_loop", _Optional(_LOOP)),
    _Field("CallStack", "call_stack", _List(_STRING)),
)


# --- The public functions --------------------------------------------------------------------


def encode_state(state: ExecutionContext) -> bytes:
    """Return ``state`` exactly as awf's Go ``json.MarshalIndent(state, "", "  ")`` writes it.

    ``state`` is expected to pass :func:`wfstore.validation.check_context`; times are written
    in UTC. A value that cannot be written raises ``TypeError`` or ``ValueError``.
    """
    try:
        return render(_CONTEXT.encode(state))
    except orjson.JSONEncodeError as exc:  # a TypeError: e.g. a lone surrogate in a str
        raise TypeError(f"the state cannot be written as JSON: {exc}") from None


def decode_state(data: bytes, workflow_id: str) -> ExecutionContext:
    """Return the state held in an awf state file saved under ``workflow_id``.

    Reads like Go's ``json.Unmarshal``: keys match ignoring case, unknown keys are ignored,
    missing keys and ``null`` give zero values (status ``""`` is ``UNSPECIFIED``). Raises
    :class:`~wfstore.errors.DataCorruptedError`, naming ``workflow_id`` and the problem, when
    ``data`` is not such a file or holds a state that no store could save.
    """
    try:
        return _decode(data, workflow_id)
    except CorruptError as exc:
        problem = str(exc)
    except RecursionError:
        problem = "values are nested too deeply"
    raise DataCorruptedError(f"state of {workflow_id!r} is corrupted: {problem}")


def _decode(data: bytes, workflow_id: str) -> ExecutionContext:
    fields = _CONTEXT.decode_fields(parse_document(data))
    stored_id = fields.pop("workflow_id", "")
    if stored_id and stored_id != workflow_id:
        fail(f"WorkflowID: {stored_id!r} does not match the id it is stored under")
    state = ExecutionContext(
        workflow_id=workflow_id, **{"status": ExecutionStatus.UNSPECIFIED, **fields}
    )
    try:
        check_context(state)
    except InvalidArgumentError as exc:
        fail(f"it holds a state no store can keep: {exc.message}")
    return state

"""The awf state-file codec: an ExecutionContext as awf's Go ``JSONStore`` writes it.

awf saves a run with ``json.MarshalIndent(state, "", "  ")``. :func:`encode_state` writes the
same bytes: Go field names in declaration order, sorted map keys, two-space indent, HTML-safe
string escapes, RFC 3339 times with up to nine fraction digits (``0001-01-01T00:00:00Z`` for
"not set") and numbers formatted the way Go formats a ``float64``.

:func:`decode_state` reads such a file as leniently as Go's ``json.Unmarshal`` does (key case
ignored, unknown keys ignored, missing keys and ``null`` give zero values) but rejects anything
that is not a well-formed state with :class:`~wfstore.errors.DataCorruptedError`.

The structs are described once, as tables of :class:`_Field` (Go key, Python attribute, codec),
and both directions are driven by those tables.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, NoReturn, Protocol

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
from wfstore.timestamps import NANOS_PER_SECOND, to_unix_nanos, with_nanosecond
from wfstore.validation import (
    INT32_RANGE,
    INT64_RANGE,
    NestedValueError,
    check_context,
    normalize_json,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["decode_state", "encode_state", "format_go_float"]

_ZERO_TIME: Final = "0001-01-01T00:00:00Z"
"""Go's zero ``time.Time``, which awf writes for a time that is not set."""
_ZERO_TIME_VALUE: Final = datetime(1, 1, 1, tzinfo=UTC)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_SHORT_NEGATIVE_EXPONENT: Final = re.compile(r"e-0(\d)\Z")


class _CorruptError(NestedValueError):
    """A problem found in the document, with the path to it (``States['build'].StartedAt``)."""

    def __str__(self) -> str:
        path = self.path().removeprefix(".")
        return f"{path}: {self.problem}" if path else self.problem


def _fail(problem: str) -> NoReturn:
    raise _CorruptError(problem)


def _kind(raw: object) -> str:
    """Name a decoded JSON value the way a JSON reader would think of it."""
    if raw is None:
        return "null"
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, int | float):
        return f"the number {raw}"
    if isinstance(raw, str):
        return "a string"
    return "an array" if isinstance(raw, list) else "an object"


def _text(raw: str) -> str:
    """Replace lone UTF-16 surrogates (from escapes like u+D800) by U+FFFD, as Go does."""
    return _LONE_SURROGATE.sub("\ufffd", raw)


# --- Rendering -------------------------------------------------------------------------------
#
# The codecs turn a state into plain dicts and lists (structs in declaration order, maps with
# sorted keys, floats as pre-formatted fragments) and orjson writes them with a two-space
# indent, which is MarshalIndent's layout, escaping quotes, backslashes and control characters
# as Go does. Go's HTML-safe escapes are applied afterwards: those characters can only occur
# inside strings, so replacing the bytes is exact.

_HTML_ESCAPES: Final = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


def _render(tree: object) -> bytes:
    """Return the indented JSON text of ``tree``, escaped like Go's encoder."""
    data = orjson.dumps(tree, option=orjson.OPT_INDENT_2)
    for char, escape in _HTML_ESCAPES:
        if char in data:
            data = data.replace(char, escape)
    return data


# --- Scalars ---------------------------------------------------------------------------------


def format_go_float(value: float) -> str:
    """Return ``value`` as Go's ``encoding/json`` writes a ``float64``.

    Whole and fractional numbers with ``1e-6 <= |x| < 1e21`` are written without an exponent
    (``3.0`` is ``3``); others use Go's exponent form (``1e-7``, ``1.5e+21``). The digits are
    the shortest that read back as the same double. NaN and infinities raise ``ValueError``.
    """
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a JSON number")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    shortest = repr(value)
    if 1e-6 <= abs(value) < 1e21:
        return format(Decimal(shortest).normalize(), "f")
    return _SHORT_NEGATIVE_EXPONENT.sub(r"e-\1", shortest)


def _format_time(value: object) -> str:
    """Return an aware datetime (or None) in RFC 3339 UTC with up to nine fraction digits."""
    if value is None:
        return _ZERO_TIME
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    seconds, nanos = divmod(to_unix_nanos(value), NANOS_PER_SECOND)
    moment = _EPOCH + timedelta(seconds=seconds)
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


def _parse_time(raw: str) -> datetime | None:
    """Parse an RFC 3339 time into UTC; Go's zero time gives None."""
    match = _RFC3339.fullmatch(raw)
    if match is None:
        _fail(f"{raw!r} is not an RFC 3339 time")
    fraction, sign = match.group(7, 8)
    nanosecond = int(fraction[6:9].ljust(3, "0")) if fraction and len(fraction) > 6 else 0
    try:
        if sign is None:  # the form every writer uses: datetime's own parser is fastest
            moment = datetime.fromisoformat(raw)
        else:
            moment = _with_offset(match).astimezone(UTC)
    except ValueError:
        _fail(f"{raw!r} is not a valid date and time")
    except OverflowError:
        _fail(f"{raw!r} is out of range (years 1-9999 in UTC)")
    if moment == _ZERO_TIME_VALUE and not nanosecond:
        return None
    return with_nanosecond(moment, nanosecond)


def _with_offset(match: re.Match[str]) -> datetime:
    """Return the local time of an RFC 3339 match that has a numeric UTC offset."""
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    fraction, sign, offset_hours, offset_minutes = match.group(7, 8, 9, 10)
    if int(offset_hours) > 23 or int(offset_minutes) > 59:
        _fail(f"{match.string!r} has an invalid UTC offset")
    offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
    zone = timezone(-offset if sign == "-" else offset)
    micro = int((fraction or "")[:6].ljust(6, "0"))
    return datetime(year, month, day, hour, minute, second, micro, zone)


def _json_tree(value: object) -> object:
    """Return a JSON value (from the domain) as a tree, with floats in Go's format."""
    if isinstance(value, float):
        return orjson.Fragment(format_go_float(value))
    if isinstance(value, list):
        return [_json_tree(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_tree(value[key]) for key in sorted(value)}
    return value


def _json_value(raw: object) -> Any:  # noqa: ANN401 (any JSON value)
    """Return a decoded JSON value with numbers in their canonical type."""
    try:
        return normalize_json(raw)
    except OverflowError:
        _fail("a number is too large for a float64")


def _clean_json(raw: object) -> object:
    """Return ``raw`` with lone surrogates replaced in every string and key."""
    if isinstance(raw, str):
        return _text(raw)
    if isinstance(raw, list):
        return [_clean_json(item) for item in raw]
    if isinstance(raw, dict):
        return {_text(key): _clean_json(item) for key, item in raw.items()}
    return raw


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
        _fail(f"expected a string, got {_kind(raw)}")
    return raw


def _int_codec(bits: int) -> _Scalar:
    low, high = INT32_RANGE if bits == 32 else INT64_RANGE

    def decode(raw: object) -> int:
        if raw is None:
            return 0
        if not isinstance(raw, int) or isinstance(raw, bool):
            _fail(f"expected an integer, got {_kind(raw)}")
        if not low <= raw <= high:
            _fail(f"{raw} does not fit in an int{bits}")
        return raw

    return _Scalar(lambda value: value, decode)


def _decode_bool(raw: object) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, bool):
        _fail(f"expected true or false, got {_kind(raw)}")
    return raw


def _decode_status(raw: object) -> ExecutionStatus:
    text = _decode_string(raw)
    try:
        return ExecutionStatus(text)
    except ValueError:
        _fail(f"unknown status {text!r}")


def _encode_status(value: object) -> object:
    return ExecutionStatus(str(value)).value


def _decode_time(raw: object) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        _fail(f"expected an RFC 3339 time string, got {_kind(raw)}")
    return _parse_time(raw)


def _decode_json_object(raw: object) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        _fail(f"expected an object or null, got {_kind(raw)}")
    value: dict[str, Any] = _json_value(raw)
    return value


def _decode_inputs(raw: object) -> dict[str, Any]:
    return _decode_json_object(raw) or {}


_STRING: Final = _Scalar(lambda value: value, _decode_string)
_INT32_CODEC: Final = _int_codec(32)
_INT64_CODEC: Final = _int_codec(64)
_BOOL: Final = _Scalar(lambda value: value, _decode_bool)
_STATUS: Final = _Scalar(_encode_status, _decode_status)
_TIME: Final = _Scalar(_format_time, _decode_time)
_JSON: Final = _Scalar(_json_tree, _json_value)
_JSON_OBJECT_OR_NULL: Final = _Scalar(_json_tree, _decode_json_object)
_JSON_OBJECT: Final = _Scalar(_json_tree, _decode_inputs)


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
        return [self.codec.encode(item) for item in value] or None

    def decode(self, raw: object) -> list[Any]:
        """Return ``[]`` for ``null``, else the decoded items."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            _fail(f"expected an array, got {_kind(raw)}")
        items = []
        for index, item in enumerate(raw):
            try:
                items.append(self.codec.decode(item))
            except _CorruptError as exc:
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
        return {key: self.codec.encode(value[key]) for key in sorted(value)}

    def decode(self, raw: object) -> dict[str, Any]:
        """Return the decoded entries."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            _fail(f"expected an object, got {_kind(raw)}")
        entries = {}
        for key, item in raw.items():
            try:
                entries[key] = self.codec.decode(item)
            except _CorruptError as exc:
                exc.within(f"[{key!r}]")
                raise
        return entries


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

    def define(self, *fields: _Field) -> None:
        """Set the fields in Go declaration order."""
        self.fields = fields
        self._by_folded_key = {
            field.key.lower(): (field.attr, "." + field.key, _decoder(field.codec))
            for field in fields
        }

    def encode(self, value: object) -> object:
        """Return the struct with every field, in declaration order."""
        return {f.key: f.codec.encode(getattr(value, f.attr)) for f in self.fields}

    def decode(self, raw: object) -> object:
        """Return the dataclass; ``null`` gives the zero value, as for a Go struct."""
        return self.factory(**self.decode_fields(raw))

    def decode_fields(self, raw: object) -> dict[str, Any]:
        """Return the attributes found in ``raw``: keys matched ignoring case, others ignored."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            _fail(f"expected an object, got {_kind(raw)}")
        values: dict[str, Any] = {}
        for key, item in raw.items():
            known = self._by_folded_key.get(key.lower())
            if known is not None:
                attr, step, decode = known
                try:
                    values[attr] = decode(item)
                except _CorruptError as exc:
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
        return _render(_CONTEXT.encode(state))
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
    except _CorruptError as exc:
        problem = str(exc)
    except RecursionError:
        problem = "values are nested too deeply"
    raise DataCorruptedError(f"state of {workflow_id!r} is corrupted: {problem}")


def _decode(data: bytes, workflow_id: str) -> ExecutionContext:
    fields = _CONTEXT.decode_fields(_parse_document(data))
    stored_id = fields.pop("workflow_id", "")
    if stored_id and stored_id != workflow_id:
        _fail(f"WorkflowID: {stored_id!r} does not match the id it is stored under")
    state = ExecutionContext(
        workflow_id=workflow_id, **{"status": ExecutionStatus.UNSPECIFIED, **fields}
    )
    try:
        check_context(state)
    except InvalidArgumentError as exc:
        _fail(f"it holds a state no store can keep: {exc.message}")
    return state


def _parse_document(data: bytes) -> dict[str, Any]:
    """Return the top-level JSON object of ``data``, every string free of lone surrogates.

    orjson reads well-formed files; anything it refuses is read again by the standard
    library, which accepts Go's lone-surrogate escapes and names the problem precisely.
    """
    if not data:
        _fail("the file is empty")
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        document = _clean_json(_parse_strictly(data))
    if not isinstance(document, dict):
        _fail(f"expected a JSON object at the top level, got {_kind(document)}")
    return document


def _reject_constant(name: str) -> NoReturn:
    raise _CorruptError(f"not JSON: {name} is not a JSON number")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _CorruptError(f"the number {text} is too large for a float64")
    return value


def _parse_strictly(data: bytes) -> object:
    """Parse ``data`` with the standard library, failing with a precise message."""
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail(f"not UTF-8 text (invalid byte at offset {exc.start})")
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        _fail(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        _fail(f"not valid JSON ({exc})")

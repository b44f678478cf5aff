"""Go's ``encoding/json`` as awf's state files use it: numbers, times, escapes and parsing.

What does not depend on awf's structs lives here: Go's ``float64`` and RFC 3339 time formats,
its HTML-safe escapes and indented layout (:func:`render`), and a parser that reads what Go
writes (lone-surrogate escapes included) and names what is wrong in a broken file
(:class:`CorruptError`, which collects the path to the problem as it unwinds).
:mod:`wfstore.awf_state` maps awf's structs onto these.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final, NoReturn

import orjson

from wfstore.timestamps import NANOS_PER_SECOND, Timestamp, to_unix_nanos, with_nanosecond
from wfstore.validation import NestedValueError, normalize_json

__all__ = [
    "ZERO_TIME",
    "CorruptError",
    "fail",
    "format_go_float",
    "format_time",
    "json_tree",
    "json_value",
    "kind",
    "parse_document",
    "parse_time",
    "render",
]

ZERO_TIME: Final = "0001-01-01T00:00:00Z"
"""Go's zero ``time.Time``, which awf writes for a time that is not set."""
_ZERO_TIME_VALUE: Final = datetime(1, 1, 1, tzinfo=UTC)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_SHORT_NEGATIVE_EXPONENT: Final = re.compile(r"e-0(\d)\Z")


class CorruptError(NestedValueError):
    """A problem found in the document, with the path to it (``States['build'].StartedAt``)."""

    def __str__(self) -> str:
        """Return the path and the problem, e.g. ``States['build'].StartedAt: ...``."""
        path = self.path().removeprefix(".")
        return f"{path}: {self.problem}" if path else self.problem


def fail(problem: str) -> NoReturn:
    """Raise :class:`CorruptError` for ``problem``; the callers on the way up add the path."""
    raise CorruptError(problem)


def kind(raw: object) -> str:
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
)
_SEPARATOR_ESCAPES: Final = (
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)
_SEPARATOR_LEAD: Final = b"\xe2"  # the first UTF-8 byte of U+2028 and U+2029


def render(tree: object) -> bytes:
    """Return the indented JSON text of ``tree``, escaped like Go's encoder."""
    data = orjson.dumps(tree, option=orjson.OPT_INDENT_2)
    for char, escape in _HTML_ESCAPES:
        if char in data:
            data = data.replace(char, escape)
    # Searching for one byte is much faster than for three: look for the others only after.
    if _SEPARATOR_LEAD in data:
        for char, escape in _SEPARATOR_ESCAPES:
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


def format_time(value: object) -> str:
    """Return an aware datetime (or None) in RFC 3339 UTC with up to nine fraction digits."""
    if value is None:
        return ZERO_TIME
    if (type(value) is datetime or type(value) is Timestamp) and value.tzinfo is UTC:
        # Already in UTC: datetime's own formatting gives the date and time in one C call.
        text = datetime.isoformat(value, "T", "seconds")[:19]
        nanos = value.microsecond * 1000
        if type(value) is Timestamp:
            nanos += value.nanosecond
        if nanos:
            text += "." + f"{nanos:09d}".rstrip("0")
        return text + "Z"
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


def parse_time(raw: str) -> datetime | None:
    """Parse an RFC 3339 time into UTC; Go's zero time gives None."""
    match = _RFC3339.fullmatch(raw)
    if match is None:
        fail(f"{raw!r} is not an RFC 3339 time")
    fraction, sign = match.group(7, 8)
    nanosecond = int(fraction[6:9].ljust(3, "0")) if fraction and len(fraction) > 6 else 0
    try:
        if sign is None:  # the form every writer uses: datetime's own parser is fastest
            moment = datetime.fromisoformat(raw)
        else:
            moment = _with_offset(match).astimezone(UTC)
    except ValueError:
        fail(f"{raw!r} is not a valid date and time")
    except OverflowError:
        fail(f"{raw!r} is out of range (years 1-9999 in UTC)")
    if moment == _ZERO_TIME_VALUE and not nanosecond:
        return None
    return with_nanosecond(moment, nanosecond)


def _with_offset(match: re.Match[str]) -> datetime:
    """Return the local time of an RFC 3339 match that has a numeric UTC offset."""
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    fraction, sign, offset_hours, offset_minutes = match.group(7, 8, 9, 10)
    if int(offset_hours) > 23 or int(offset_minutes) > 59:
        fail(f"{match.string!r} has an invalid UTC offset")
    offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
    zone = timezone(-offset if sign == "-" else offset)
    micro = int((fraction or "")[:6].ljust(6, "0"))
    return datetime(year, month, day, hour, minute, second, micro, zone)


def json_tree(value: object) -> object:
    """Return a JSON value (from the domain) as a tree, with floats in Go's format."""
    kind = type(value)  # the exact JSON types first, each with one comparison
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if type(value) is dict:
        return {key: json_tree(value[key]) for key in sorted(value)}
    if type(value) is list:
        return [json_tree(item) for item in value]
    return _other_json_tree(value)


def _other_json_tree(value: object) -> object:
    """Return the tree of a float or of a subclass of a JSON type."""
    if isinstance(value, float):
        return orjson.Fragment(format_go_float(value))
    if isinstance(value, list):
        return [json_tree(item) for item in value]
    if isinstance(value, dict):
        return {key: json_tree(value[key]) for key in sorted(value)}
    return value


def json_value(raw: object) -> Any:  # noqa: ANN401 (any JSON value)
    """Return a decoded JSON value with numbers in their canonical type."""
    try:
        return normalize_json(raw)
    except OverflowError:
        fail("a number is too large for a float64")


def _clean_json(raw: object) -> object:
    """Return ``raw`` with lone surrogates replaced in every string and key."""
    if isinstance(raw, str):
        return _text(raw)
    if isinstance(raw, list):
        return [_clean_json(item) for item in raw]
    if isinstance(raw, dict):
        return {_text(key): _clean_json(item) for key, item in raw.items()}
    return raw


def parse_document(data: bytes) -> dict[str, Any]:
    """Return the top-level JSON object of ``data``, every string free of lone surrogates.

    orjson reads well-formed files; anything it refuses is read again by the standard
    library, which accepts Go's lone-surrogate escapes and names the problem precisely.
    """
    if not data:
        fail("the file is empty")
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        document = _clean_json(_parse_strictly(data))
    if not isinstance(document, dict):
        fail(f"expected a JSON object at the top level, got {kind(document)}")
    return document


def _reject_constant(name: str) -> NoReturn:
    raise CorruptError(f"not JSON: {name} is not a JSON number")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise CorruptError(f"the number {text} is too large for a float64")
    return value


def _parse_strictly(data: bytes) -> object:
    """Parse ``data`` with the standard library, failing with a precise message."""
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(f"not UTF-8 text (invalid byte at offset {exc.start})")
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        fail(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        fail(f"not valid JSON ({exc})")

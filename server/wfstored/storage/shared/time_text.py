"""Times as fixed-width UTC text, to the nanosecond: how history backends store them.

``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ``, always nine fraction digits: text order is time order over
years 1-9999, and no nanosecond is lost. Any backend whose columns compare text byte by byte
(SQLite's ``TEXT``, PostgreSQL's ``text COLLATE "C"``) keeps the listing order with it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar

from wfstore.timestamps import (
    NANOS_PER_MICRO,
    NANOS_PER_SECOND,
    Timestamp,
    from_unix_nanos,
    to_unix_nanos,
    with_nanosecond,
)

__all__ = ["cutoff_text", "format_time", "parse_time", "text_of_parts", "time_parts"]

_TIME_TEXT: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{9})Z"
)
_MIN_NANOS: Final = to_unix_nanos(datetime(1, 1, 1, tzinfo=UTC))
_MICROSECOND: Final = timedelta(microseconds=1)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_CACHE_ENTRIES: Final = 8192
"""The most entries each cache below holds (a full cache starts afresh)."""
# Caches of pure functions, shared by every thread (a dict's get and set are atomic):
# the parts of texts read lately (the newest records are read again and again), the epoch
# second of each day read ("YYYY-MM-DD"), and the text of each minute written
# ("YYYY-MM-DDTHH:MM:"; a burst of writes falls in a few minutes).
_text_parts: dict[str, tuple[int, int]] = {}
_day_seconds: dict[str, int] = {}
_minute_texts: dict[int, str] = {}
KeyT = TypeVar("KeyT")
ValueT = TypeVar("ValueT")


def format_time(value: datetime) -> str:
    """Return the stored text of an aware datetime: UTC, nine fraction digits, ``Z``."""
    moment = value if value.tzinfo is UTC else value.astimezone(UTC)  # keeps nanoseconds
    nanos = moment.microsecond * NANOS_PER_MICRO + (
        moment.nanosecond if isinstance(moment, Timestamp) else 0
    )
    # Not strftime: "%Y" does not pad years below 1000 on every platform.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{nanos:09d}Z"
    )


def parse_time(text: str) -> datetime:
    """Return the datetime stored as ``text`` (a ``Timestamp`` if it has sub-microseconds).

    Raises ``ValueError`` when ``text`` is not in the stored format.
    """
    if _TIME_TEXT.fullmatch(text) is None:
        raise ValueError(f"{text!r} is not a time in the form YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ")
    # The form is checked: datetime's own parser reads it to the microsecond (twice as fast
    # as building it from the parts), and the last three digits are the nanoseconds.
    return with_nanosecond(datetime.fromisoformat(text), int(text[26:29]))


def time_parts(text: str) -> tuple[int, int]:
    """Return the instant stored as ``text`` as (seconds since the Unix epoch, nanoseconds).

    The nanoseconds are 0-999999999 (the seconds floor the instant, as in a protobuf
    Timestamp). Accepts exactly what :func:`parse_time` accepts, else raises ``ValueError``.
    """
    parts = _text_parts.get(text)
    if parts is not None:
        return parts
    if _TIME_TEXT.fullmatch(text) is None:
        parse_time(text)  # raises its ValueError
    day = _day_seconds.get(text[:10])
    hour, minute, second = int(text[11:13]), int(text[14:16]), int(text[17:19])
    if day is None or hour > 23 or minute > 59 or second > 59:
        seconds = to_unix_nanos(parse_time(text)) // NANOS_PER_SECOND  # ValueError if wrong
        day = seconds - hour * 3600 - minute * 60 - second
        _remember(_day_seconds, text[:10], day)
    parts = (day + hour * 3600 + minute * 60 + second, int(text[20:29]))
    _remember(_text_parts, text, parts)
    return parts


def text_of_parts(seconds: int, nanos: int) -> str:
    """Return the stored text of the instant ``seconds`` s and ``nanos`` ns after the epoch.

    The same text as :func:`format_time` of that instant; ``nanos`` must be 0-999999999 and
    the instant in years 1-9999 (``OverflowError`` outside them).
    """
    minute, second = divmod(seconds, 60)
    prefix = _minute_texts.get(minute)
    if prefix is None:
        prefix = format_time(_EPOCH + timedelta(minutes=minute))[:17]
        _remember(_minute_texts, minute, prefix)
    return f"{prefix}{second:02d}.{nanos:09d}Z"


def _remember(cache: dict[KeyT, ValueT], key: KeyT, value: ValueT) -> None:
    """Keep ``value`` under ``key``, starting the cache afresh when it is full."""
    if len(cache) >= _CACHE_ENTRIES:
        cache.clear()
    cache[key] = value


def cutoff_text(now: datetime, older_than: timedelta) -> str | None:
    """Return the stored text of ``now - older_than``, or None when nothing can be older.

    A negative ``older_than`` and a cutoff at or before year 1 delete nothing.
    """
    if older_than < timedelta(0):
        return None
    cutoff = to_unix_nanos(now) - _timedelta_nanos(older_than)
    if cutoff <= _MIN_NANOS:
        return None
    return format_time(from_unix_nanos(cutoff))


def _timedelta_nanos(value: timedelta) -> int:
    return value // _MICROSECOND * NANOS_PER_MICRO

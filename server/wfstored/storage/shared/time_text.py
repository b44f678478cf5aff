"""Times as fixed-width UTC text, to the nanosecond: how history backends store them.

``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ``, always nine fraction digits: text order is time order over
years 1-9999, and no nanosecond is lost. Any backend whose columns compare text byte by byte
(SQLite's ``TEXT``, PostgreSQL's ``text COLLATE "C"``) keeps the listing order with it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

from wfstore.timestamps import (
    NANOS_PER_MICRO,
    Timestamp,
    from_unix_nanos,
    to_unix_nanos,
    with_nanosecond,
)

__all__ = ["cutoff_text", "format_time", "parse_time"]

_TIME_TEXT: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{9})Z"
)
_MIN_NANOS: Final = to_unix_nanos(datetime(1, 1, 1, tzinfo=UTC))
_MICROSECOND: Final = timedelta(microseconds=1)


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

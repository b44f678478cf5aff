"""Timezone-aware UTC datetimes that keep the nanoseconds other languages write.

Python's ``datetime`` stops at microseconds; Go and protobuf go to nanoseconds. Values read from
the wire or from a Go-written file whose sub-microsecond digits are not zero come back as
:class:`Timestamp`, a ``datetime`` that also carries those digits, so that saving them again
loses nothing. Every other value stays a plain ``datetime``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Self

__all__ = ["Timestamp", "from_unix_nanos", "to_unix_nanos", "utc_now"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NANOS_PER_MICRO = 1000


class Timestamp(datetime):
    """A UTC ``datetime`` with a ``nanosecond`` part (0-999) below its microseconds.

    It compares, hashes and pickles by its full nanosecond value. Arithmetic on it returns
    plain ``datetime`` values (without the extra nanoseconds), as any subclass of it would.
    """

    _extra_nanos: int

    def __new__(cls, *args: Any, nanosecond: int = 0, **kwargs: Any) -> Self:  # noqa: ANN401
        """Build it like a ``datetime``, plus ``nanosecond`` (0-999) below the microseconds."""
        if not 0 <= nanosecond < _NANOS_PER_MICRO:
            raise ValueError(f"nanosecond must be in 0..999, not {nanosecond}")
        self = super().__new__(cls, *args, **kwargs)
        self._extra_nanos = nanosecond
        return self

    @property
    def nanosecond(self) -> int:
        """The nanoseconds below the microseconds, 0-999."""
        return self._extra_nanos

    def __eq__(self, other: object) -> bool:
        """Equal when ``other`` is the same instant to the nanosecond."""
        if not isinstance(other, datetime):
            return NotImplemented
        return _pair(self) == _pair(other)

    def __ne__(self, other: object) -> bool:
        """Return the negation of ``==``."""
        if not isinstance(other, datetime):
            return NotImplemented
        return _pair(self) != _pair(other)

    def __lt__(self, other: date) -> bool:
        """Order by instant, to the nanosecond."""
        if not isinstance(other, datetime):
            return NotImplemented
        return _pair(self) < _pair(other)

    def __le__(self, other: date) -> bool:
        """Order by instant, to the nanosecond."""
        if not isinstance(other, datetime):
            return NotImplemented
        return _pair(self) <= _pair(other)

    def __gt__(self, other: date) -> bool:
        """Order by instant, to the nanosecond."""
        if not isinstance(other, datetime):
            return NotImplemented
        return _pair(self) > _pair(other)

    def __ge__(self, other: date) -> bool:
        """Order by instant, to the nanosecond."""
        if not isinstance(other, datetime):
            return NotImplemented
        return _pair(self) >= _pair(other)

    def __hash__(self) -> int:
        """Hash like the plain ``datetime`` when there are no extra nanoseconds."""
        base = datetime.__hash__(self)
        return base if self.nanosecond == 0 else hash((base, self.nanosecond))

    def __reduce_ex__(self, protocol: object) -> tuple[Any, tuple[int]]:
        """Pickle and copy by the exact nanosecond value."""
        return (from_unix_nanos, (to_unix_nanos(self),))

    def __repr__(self) -> str:
        """Show the value the way ``datetime`` does, plus the nanoseconds."""
        return f"Timestamp({self.isoformat()!r}, nanosecond={self.nanosecond})"

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        """Return ISO 8601 with all nine fraction digits when ``timespec`` is ``auto``."""
        text = super().isoformat(sep, timespec)
        if timespec != "auto" or self.nanosecond == 0:
            return text
        head, _, offset = text.partition("+")
        return f"{head}{self.nanosecond:03d}+{offset}" if offset else f"{head}{self.nanosecond:03d}"


def _pair(value: datetime) -> tuple[int, int]:
    """Return (whole microseconds since the epoch, nanoseconds below them) for ordering."""
    delta = value - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return (micros, value.nanosecond if isinstance(value, Timestamp) else 0)


def to_unix_nanos(value: datetime) -> int:
    """Return nanoseconds since the Unix epoch of an aware ``datetime`` (or ``Timestamp``)."""
    micros, nanos = _pair(value)
    return micros * _NANOS_PER_MICRO + nanos


def from_unix_nanos(nanos: int) -> datetime:
    """Return the UTC datetime ``nanos`` after the Unix epoch.

    The result is a :class:`Timestamp` only when it has nanoseconds a ``datetime`` cannot hold.
    Raises ``OverflowError`` outside years 1-9999.
    """
    micros, extra = divmod(nanos, _NANOS_PER_MICRO)
    value = _EPOCH + timedelta(microseconds=micros)
    if extra == 0:
        return value
    return Timestamp(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        UTC,
        nanosecond=extra,
    )


def utc_now() -> datetime:
    """Return the current time as an aware UTC ``datetime``."""
    return datetime.now(UTC)

"""Timezone-aware UTC datetimes that keep the nanoseconds other languages write.

Python's ``datetime`` stops at microseconds; Go and protobuf go to nanoseconds. Values read from
the wire or from a Go-written file whose sub-microsecond digits are not zero come back as
:class:`Timestamp`, a ``datetime`` that also carries those digits, so that saving them again
loses nothing. Every other value stays a plain ``datetime``. Part of the kernel that the
client and the daemon share: public and stable within the ``wfstore`` distribution.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Self

__all__ = [
    "NANOS_PER_MICRO",
    "NANOS_PER_SECOND",
    "Timestamp",
    "from_unix_nanos",
    "to_unix_nanos",
    "utc_now",
    "with_nanosecond",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NANOS_PER_MICRO = 1000
"""Nanoseconds in a microsecond, the finest unit a ``datetime`` holds."""
NANOS_PER_SECOND = 1_000_000_000
"""Nanoseconds in a second (protobuf Timestamp and Go's time hold whole nanoseconds)."""


class Timestamp(datetime):
    """A UTC ``datetime`` with a ``nanosecond`` part (0-999) below its microseconds.

    It compares, hashes and pickles by its full nanosecond value; adding or subtracting a
    ``timedelta``, ``astimezone`` and ``replace`` keep the nanoseconds.
    """

    _extra_nanos: int = 0

    def __new__(cls, *args: Any, nanosecond: int = 0, **kwargs: Any) -> Self:  # noqa: ANN401
        """Build it like a ``datetime``, plus ``nanosecond`` (0-999) below the microseconds."""
        if not 0 <= nanosecond < NANOS_PER_MICRO:
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
        if other.utcoffset() is None:
            return False  # as for any aware datetime compared with a naive one
        return _pair(self) == _pair(other)

    def __ne__(self, other: object) -> bool:
        """Return the negation of ``==``."""
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

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

    def __add__(self, other: timedelta) -> Timestamp:
        """Shift by a ``timedelta``, keeping the nanoseconds."""
        if not isinstance(other, timedelta):
            return NotImplemented
        return _with_nanos(self._plain() + other, self.nanosecond)

    __radd__ = __add__

    def __sub__(self, other: Any) -> Any:  # noqa: ANN401 (timedelta or datetime, as datetime)
        """Shift back by a ``timedelta`` (keeping nanoseconds), or subtract a datetime."""
        if isinstance(other, timedelta):
            return _with_nanos(self._plain() - other, self.nanosecond)
        return self._plain() - other

    def astimezone(self, tz: tzinfo | None = None) -> Timestamp:
        """Convert to ``tz``, keeping the nanoseconds."""
        return _with_nanos(self._plain().astimezone(tz), self.nanosecond)

    def replace(self, *args: Any, **kwargs: Any) -> Timestamp:  # noqa: ANN401
        """Replace fields like ``datetime.replace``, plus ``nanosecond``."""
        nanosecond = kwargs.pop("nanosecond", self.nanosecond)
        return _with_nanos(self._plain().replace(*args, **kwargs), nanosecond)

    def _plain(self) -> datetime:
        """Return the same instant as a plain ``datetime`` (microseconds only)."""
        return datetime(
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.microsecond,
            self.tzinfo,
            fold=self.fold,
        )

    def __reduce_ex__(self, protocol: object) -> tuple[Any, tuple[int]]:
        """Pickle and copy by the exact nanosecond value."""
        return (from_unix_nanos, (to_unix_nanos(self),))

    def __repr__(self) -> str:
        """Show the value the way ``datetime`` does, plus the nanoseconds."""
        return f"Timestamp({self.isoformat()!r}, nanosecond={self.nanosecond})"

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        """Return ISO 8601 with all nine fraction digits when ``timespec`` is ``auto``."""
        if timespec != "auto" or self.nanosecond == 0:
            return super().isoformat(sep, timespec)
        text = super().isoformat(sep, "microseconds")
        fraction_end = len("YYYY-MM-DDTHH:MM:SS.ffffff")
        return f"{text[:fraction_end]}{self.nanosecond:03d}{text[fraction_end:]}"


def with_nanosecond(value: datetime, nanosecond: int) -> datetime:
    """Return ``value`` plus ``nanosecond`` (0-999) below its microseconds.

    The result is a :class:`Timestamp` only when ``nanosecond`` is not 0.
    """
    return _with_nanos(value, nanosecond) if nanosecond else value


def _with_nanos(value: datetime, nanosecond: int) -> Timestamp:
    return Timestamp(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        value.tzinfo,
        fold=value.fold,
        nanosecond=nanosecond,
    )


def _pair(value: datetime) -> tuple[int, int]:
    """Return (whole microseconds since the epoch, nanoseconds below them) for ordering."""
    delta = value - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return (micros, value.nanosecond if isinstance(value, Timestamp) else 0)


def to_unix_nanos(value: datetime) -> int:
    """Return nanoseconds since the Unix epoch of an aware ``datetime`` (or ``Timestamp``)."""
    micros, nanos = _pair(value)
    return micros * NANOS_PER_MICRO + nanos


def from_unix_nanos(nanos: int) -> datetime:
    """Return the UTC datetime ``nanos`` after the Unix epoch.

    The result is a :class:`Timestamp` only when it has nanoseconds a ``datetime`` cannot hold.
    Raises ``OverflowError`` outside years 1-9999.
    """
    micros, extra = divmod(nanos, NANOS_PER_MICRO)
    value = _EPOCH + timedelta(microseconds=micros)
    if extra == 0:
        return value
    return _with_nanos(value, extra)


def utc_now() -> datetime:
    """Return the current time as an aware UTC ``datetime``."""
    return datetime.now(UTC)

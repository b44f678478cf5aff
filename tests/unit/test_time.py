"""Timestamp keeps the nanoseconds a datetime cannot, and behaves like a datetime otherwise."""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest
from wfstore import Timestamp
from wfstore.timestamps import from_unix_nanos, to_unix_nanos

NANOS = 1_741_944_413_589_793_238  # 2025-03-14T09:26:53.589793238Z


def test_unix_nanos_round_trip_keeps_every_digit() -> None:
    value = from_unix_nanos(NANOS)
    assert isinstance(value, Timestamp)
    assert value.nanosecond == 238
    assert to_unix_nanos(value) == NANOS
    assert value.isoformat() == "2025-03-14T09:26:53.589793238+00:00"


def test_whole_microseconds_stay_plain_datetimes() -> None:
    value = from_unix_nanos(NANOS - 238)
    assert type(value) is datetime
    assert value == datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)


def test_equality_ordering_and_hash_use_the_nanoseconds() -> None:
    plain = from_unix_nanos(NANOS - 238)
    fine = from_unix_nanos(NANOS)
    assert fine != plain
    assert plain != fine
    assert plain < fine
    assert fine > plain
    assert fine == from_unix_nanos(NANOS)
    assert hash(fine) == hash(from_unix_nanos(NANOS))
    zero = Timestamp(2025, 3, 14, 9, 26, 53, 589793, UTC, nanosecond=0)
    assert zero == plain
    assert hash(zero) == hash(plain)


def test_pickle_and_copy_keep_the_nanoseconds() -> None:
    fine = from_unix_nanos(NANOS)
    assert pickle.loads(pickle.dumps(fine)) == fine  # noqa: S301 (our own bytes)
    assert copy.deepcopy(fine) == fine


def test_extremes_of_the_supported_range() -> None:
    low = datetime(1, 1, 1, tzinfo=UTC) + timedelta(microseconds=1)
    high = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert from_unix_nanos(to_unix_nanos(low)) == low
    assert from_unix_nanos(to_unix_nanos(high) + 999).nanosecond == 999  # type: ignore[attr-defined]
    with pytest.raises(OverflowError):
        from_unix_nanos(to_unix_nanos(high) + 1000)


def test_nanosecond_must_be_below_a_microsecond() -> None:
    with pytest.raises(ValueError, match="nanosecond"):
        Timestamp(2025, 1, 1, tzinfo=UTC, nanosecond=1000)


def test_arithmetic_conversion_and_replace_keep_the_nanoseconds() -> None:
    fine = from_unix_nanos(NANOS)
    assert isinstance(fine, Timestamp)
    assert to_unix_nanos(fine + timedelta(seconds=1)) == NANOS + 10**9
    assert to_unix_nanos(timedelta(seconds=1) + fine) == NANOS + 10**9
    assert to_unix_nanos(fine - timedelta(seconds=1)) == NANOS - 10**9
    assert fine - fine == timedelta(0)
    shifted = fine.astimezone(timezone(timedelta(hours=-5)))
    assert shifted == fine
    assert shifted.isoformat() == "2025-03-14T04:26:53.589793238-05:00"
    assert fine.replace(tzinfo=UTC) == fine
    assert fine.replace(nanosecond=1).nanosecond == 1


def test_isoformat_when_the_microseconds_are_zero() -> None:
    value = Timestamp(2024, 1, 1, tzinfo=UTC, nanosecond=123)
    assert value.isoformat() == "2024-01-01T00:00:00.000000123+00:00"


def test_comparing_with_a_naive_datetime_is_unequal_as_for_datetime() -> None:
    fine = from_unix_nanos(NANOS)
    assert fine != datetime(2025, 3, 14)  # noqa: DTZ001 (the point of the test)

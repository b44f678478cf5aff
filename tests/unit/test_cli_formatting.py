"""The command line's value formats: awf's durations, times, sizes, and duration arguments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from wfstore.cli.formatting import (
    format_bytes,
    format_duration_ms,
    format_time,
    iso_time,
    parse_duration,
    parse_time_bound,
)
from wfstore.timestamps import with_nanosecond

NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0ms"), (850, "850ms"), (1200, "1.2s"), (59_949, "59.9s"), (204_000, "3.4m")],
)
def test_durations_as_awf_prints_them(ms: int, text: str) -> None:
    assert format_duration_ms(ms) == text


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("30d", timedelta(days=30)),
        ("24h", timedelta(hours=24)),
        ("90m", timedelta(minutes=90)),
        ("1.5h", timedelta(hours=1.5)),
        ("1h30m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("500ms", timedelta(milliseconds=500)),
    ],
)
def test_duration_arguments(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta


@pytest.mark.parametrize("text", ["", "30", "d", "30 days", "1h-", "h1"])
def test_bad_durations_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_time_bounds() -> None:
    assert parse_time_bound("24h", NOW) == NOW - timedelta(hours=24)
    assert parse_time_bound("2026-11-01", NOW) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_time_bound("2026-11-01T08:00:00Z", NOW) == datetime(2026, 11, 1, 8, tzinfo=UTC)
    with pytest.raises(ValueError, match="neither a duration"):
        parse_time_bound("last tuesday", NOW)


def test_times_relative_and_iso() -> None:
    assert format_time(NOW - timedelta(seconds=5), "relative", NOW) == "5s ago"
    assert format_time(NOW - timedelta(minutes=3), "relative", NOW) == "3m ago"
    assert format_time(NOW - timedelta(days=2), "relative", NOW) == "2d ago"
    assert format_time(NOW + timedelta(hours=1), "relative", NOW) == "in 1h"
    assert format_time(None, "iso") == "-"
    assert format_time(NOW, "iso") == "2026-11-05T12:00:00Z"
    assert iso_time(with_nanosecond(NOW.replace(microsecond=123456), 789)) == (
        "2026-11-05T12:00:00.123456789Z"
    )


def test_sizes() -> None:
    assert [format_bytes(n) for n in (None, 512, 1536, 5 * 1024**3)] == [
        "-", "512 B", "1.5 KiB", "5.0 GiB",
    ]  # fmt: skip


def test_the_library_import_loads_neither_click_nor_rich() -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = "import sys, wfstore; sys.exit(bool({'click', 'rich'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

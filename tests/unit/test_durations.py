"""One duration grammar for the command line and the daemon's flags."""

from __future__ import annotations

from datetime import timedelta

import pytest
from wfstore.durations import format_duration, parse_duration
from wfstored.daemon.config_values import ConfigError
from wfstored.daemon.config_values import parse_duration as flag_duration


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=30), "30d"),
        (timedelta(weeks=2), "2w"),
        (timedelta(hours=1), "1h"),
        (timedelta(minutes=90), "90m"),
        (timedelta(seconds=45), "45s"),
        (timedelta(seconds=1.5), "1.5s"),
    ],
)
def test_format_writes_what_parse_reads(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text
    assert parse_duration(text) == delta


def test_the_daemon_takes_what_the_command_line_takes() -> None:
    assert flag_duration("--history-retention", "1h30m") == timedelta(minutes=90)
    assert flag_duration("--history-retention", "1.5d") == timedelta(hours=36)


@pytest.mark.parametrize("text", ["30", "0s", "1y", "9" * 400 + "d"])
def test_the_daemon_refuses_what_is_no_positive_duration(text: str) -> None:
    with pytest.raises(ConfigError, match="must be a duration such as 30d"):
        flag_duration("--history-retention", text)

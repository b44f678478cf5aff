"""Flags and WFSTORE_* variables become one Config; bad values are one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
from wfstored.daemon.config import DEFAULT_LISTEN, ConfigError, parse_config


def test_defaults() -> None:
    config = parse_config([], {})
    assert config.listen == (DEFAULT_LISTEN,)
    assert config.data_dir == Path("wfstore-data")
    assert config.grace_seconds == 10
    assert config.max_message_bytes == 16 * 1024 * 1024


def test_flags_override_the_environment() -> None:
    env = {"WFSTORE_LISTEN": "127.0.0.1:1, unix:///tmp/a.sock", "WFSTORE_DATA_DIR": "/env"}
    assert parse_config([], env).listen == ("127.0.0.1:1", "unix:///tmp/a.sock")
    config = parse_config(["--listen", "[::1]:7", "--data-dir", "/flag"], env)
    assert config.listen == ("[::1]:7",)
    assert config.data_dir == Path("/flag")


@pytest.mark.parametrize(
    "argv",
    [
        ["--listen", "no-port"],
        ["--listen", "host:99999"],
        ["--listen", "unix://"],
        ["--workers", "0"],
        ["--grace-seconds", "nan"],
        ["--max-message-bytes", "12"],
        ["--log-level", "chatty"],
        ["--unknown"],
    ],
)
def test_bad_values_are_config_errors(argv: list[str]) -> None:
    with pytest.raises(ConfigError):
        parse_config(argv, {})

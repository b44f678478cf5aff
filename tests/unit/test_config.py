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


def test_metrics_and_tracing_are_off_by_default_and_set_by_flag_or_variable() -> None:
    config = parse_config([], {})
    assert (config.metrics_listen, config.tracing) == (None, None)
    env = {"WFSTORE_METRICS_LISTEN": "0.0.0.0:9464", "WFSTORE_TRACING": "otlp"}
    config = parse_config([], env)
    assert (config.metrics_listen, config.tracing) == ("0.0.0.0:9464", "otlp")
    config = parse_config(["--metrics-listen", "[::1]:0", "--tracing", "file:/tmp/s.jsonl"], env)
    assert (config.metrics_listen, config.tracing) == ("[::1]:0", "file:/tmp/s.jsonl")
    assert parse_config(["--tracing", "off"], env).tracing is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--metrics-listen", "unix:///tmp/m.sock"], "is not host:port"),
        (["--metrics-listen", "9464"], "is not host:port"),
        (["--tracing", "file:"], "--tracing must be otlp, console, file:PATH or off"),
        (["--tracing", "zipkin"], "--tracing must be otlp, console, file:PATH or off"),
    ],
)
def test_bad_metrics_or_tracing_settings_are_config_errors(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(argv, {})

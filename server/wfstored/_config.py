"""The daemon's configuration: command-line flags, each with a ``WFSTORE_*`` variable."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

__all__ = [
    "DEFAULT_LISTEN",
    "DEFAULT_PORT",
    "Config",
    "ConfigError",
    "check_listen_address",
    "parse_config",
]

DEFAULT_PORT = 50551
"""The TCP port wfstored listens on when no address is given."""
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"
"""The address wfstored listens on when no address is given: loopback only."""
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_TCP_ADDRESS = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})$")


class ConfigError(Exception):
    """The configuration is invalid; the message says which setting and why."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Config:
    """Everything the daemon needs to start."""

    data_dir: Path
    listen: tuple[str, ...]
    grace_seconds: float
    max_message_bytes: int
    workers: int
    log_level: str


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, raised rather than printed."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see wfstored --help)")


def _parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wfstored",
        description="Serve wfstore's execution state and history over gRPC.",
        epilog="Every flag can also be set by the environment variable shown in its help.",
    )
    parser.add_argument(
        "--data-dir",
        default=environ.get("WFSTORE_DATA_DIR", "wfstore-data"),
        help="where state files and history.db live; created 0700 if missing "
        "(WFSTORE_DATA_DIR, default ./wfstore-data)",
    )
    parser.add_argument(
        "--listen",
        action="append",
        metavar="ADDR",
        help="host:port or unix:///path; repeat for several (WFSTORE_LISTEN, comma-separated; "
        f"default {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--grace-seconds",
        default=environ.get("WFSTORE_GRACE_SECONDS", "10"),
        help="how long in-flight calls may finish on SIGTERM (WFSTORE_GRACE_SECONDS, default 10)",
    )
    parser.add_argument(
        "--max-message-bytes",
        default=environ.get("WFSTORE_MAX_MESSAGE_BYTES", str(16 * 1024 * 1024)),
        help="largest request or reply; larger gets RESOURCE_EXHAUSTED "
        "(WFSTORE_MAX_MESSAGE_BYTES, default 16777216)",
    )
    parser.add_argument(
        "--workers",
        default=environ.get("WFSTORE_WORKERS", "16"),
        help="threads serving calls (WFSTORE_WORKERS, default 16)",
    )
    parser.add_argument(
        "--log-level",
        default=environ.get("WFSTORE_LOG_LEVEL", "INFO"),
        help="DEBUG, INFO, WARNING or ERROR (WFSTORE_LOG_LEVEL, default INFO)",
    )
    return parser


def _float(name: str, text: str, minimum: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {text!r}") from None
    if not value >= minimum:  # also rejects NaN
        raise ConfigError(f"{name} must be at least {minimum}, not {text}")
    return value


def _int(name: str, text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {text!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in _LOG_LEVELS:
        raise ConfigError(f"--log-level must be one of {', '.join(_LOG_LEVELS)}, not {text!r}")
    return level


def check_listen_address(address: str) -> str:
    """Return ``address`` if it is ``host:port`` or ``unix:PATH``; raise ConfigError otherwise."""
    if address.startswith("unix:"):
        if not address.removeprefix("unix:").lstrip("/"):
            raise ConfigError(f"listen address {address!r} has no socket path")
        return address
    match = _TCP_ADDRESS.match(address)
    if match is None or int(match["port"]) > 65535:
        raise ConfigError(
            f"listen address {address!r} is not host:port or unix:///path (e.g. 127.0.0.1:50551)"
        )
    return address


def parse_config(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> Config:
    """Return the configuration from ``argv`` (without the program name) and ``environ``."""
    args = _parser(environ).parse_args(list(argv))
    listen = args.listen or [a.strip() for a in environ.get("WFSTORE_LISTEN", "").split(",")]
    listen = [a for a in listen if a] or [DEFAULT_LISTEN]
    return Config(
        data_dir=Path(args.data_dir),
        listen=tuple(check_listen_address(a) for a in listen),
        grace_seconds=_float("--grace-seconds", args.grace_seconds, 0.0),
        max_message_bytes=_int("--max-message-bytes", args.max_message_bytes, 1024),
        workers=_int("--workers", args.workers, 1),
        log_level=_log_level(args.log_level),
    )

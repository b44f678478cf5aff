"""The validators of the daemon's settings: text in, typed value out, or one clear error.

Each takes the ``name`` the error should use: the flag (``--workers``), the variable
(``WFSTORE_WORKERS``) or the config file and key (``/etc/wfstore.toml: workers``), whichever
the value came from, so that every layer's mistakes read the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Final

from wfstore.durations import parse_duration as read_duration

from wfstored.storage.factory import StoreURL, StoreURLError

__all__ = [
    "LOG_LEVELS",
    "TCP_ADDRESS",
    "ConfigError",
    "parse_bool",
    "parse_duration",
    "parse_float",
    "parse_int",
    "parse_log_level",
    "parse_metrics_address",
    "parse_path",
    "parse_socket_mode",
    "parse_store_url",
    "parse_tracing",
]

LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
"""The log levels the daemon accepts."""
TCP_ADDRESS: Final = re.compile(
    r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})$"
)
"""``host:port``, the host a name, an IPv4 literal or a bracketed IPv6 literal."""
_OFF: Final = frozenset({"off", "none", "0"})


class ConfigError(Exception):
    """The configuration is invalid; the message says which setting and why."""


def parse_float(name: str, text: str, minimum: float) -> float:
    """Return ``text`` as a number at least ``minimum`` (NaN is refused)."""
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {text!r}") from None
    if not value >= minimum:  # also rejects NaN
        raise ConfigError(f"{name} must be at least {minimum}, not {text}")
    return value


def parse_int(name: str, text: str, minimum: int) -> int:
    """Return ``text`` as a whole number at least ``minimum``."""
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {text!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def parse_log_level(name: str, text: str) -> str:
    """Return the log level ``text`` names, upper case."""
    level = text.upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"{name} must be one of {', '.join(LOG_LEVELS)}, not {text!r}")
    return level


def parse_bool(name: str, text: str) -> bool:
    """Return ``text`` as a switch: 1/true/yes/on or 0/false/no/off (empty: false)."""
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"", "0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {text!r}")


def parse_socket_mode(name: str, text: str) -> int:
    """Return octal permission bits that let the owner read and write."""
    try:
        mode = int(text, 8)
    except ValueError:
        raise ConfigError(f"{name} must be octal permission bits, not {text!r}") from None
    if not 0 <= mode <= 0o777:
        raise ConfigError(f"{name} must be between 000 and 777, not {text}")
    if mode & 0o600 != 0o600:
        raise ConfigError(f"{name} {text} must let the owner read and write (6xx)")
    return mode


def parse_path(text: str | None) -> Path | None:
    """Return ``text`` as a path; unset or empty is ``None``."""
    return Path(text) if text else None


def parse_store_url(
    name: str, text: str | None, parse: Callable[[str], StoreURL]
) -> StoreURL | None:
    """Return the store URL ``text`` names (``None`` if unset) with ``parse``."""
    if text is None:
        return None
    try:
        return parse(text)
    except StoreURLError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def parse_metrics_address(name: str, text: str | None) -> str | None:
    """Return the metrics address ``host:port`` (None: none given)."""
    if not text:
        return None
    match = TCP_ADDRESS.match(text)
    if match is None or int(match["port"]) > 65535:
        raise ConfigError(
            f"{name} {text!r} is not host:port (e.g. 127.0.0.1:9464); metrics are "
            "served over HTTP on TCP only"
        )
    return text


def parse_tracing(name: str, text: str | None) -> str | None:
    """Return the tracing exporter (None: off)."""
    if not text or text.strip().lower() in {"off", "none"}:
        return None
    if text in {"otlp", "console"}:
        return text
    if text.startswith("file:") and text.removeprefix("file:"):
        return text
    raise ConfigError(f"{name} must be otlp, console, file:PATH or off, not {text!r}")


def parse_duration(name: str, text: str, *, allow_off: bool = False) -> timedelta | None:
    """Return a duration longer than zero, as :func:`wfstore.durations.parse_duration` reads it.

    ``30d``, ``12h``, ``90m``, ``45s``, ``1h30m``, ``1.5h``. With ``allow_off``, ``off`` (or
    ``none``, ``0``) is ``None``.
    """
    value = text.strip().lower()
    if allow_off and value in _OFF:
        return None
    try:
        duration = read_duration(value)
    except ValueError:
        duration = timedelta(0)
    if duration <= timedelta(0):
        off = " or off" if allow_off else ""
        raise ConfigError(
            f"{name} must be a duration such as 30d, 12h, 90m or 45s{off}, not {text!r}"
        )
    return duration

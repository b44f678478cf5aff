"""The daemon's configuration: flags, ``WFSTORE_*`` variables and a TOML config file.

The flags are declared once, in :func:`flag_parser`; :mod:`wfstored.daemon.settings` layers
them (flag > variable > file > default) and :func:`read_config` checks every value with the
validators of :mod:`wfstored.daemon.config_values`, naming the layer a bad value came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from wfstore.transport import is_loopback_host

from wfstored.daemon.config_file import ConfigFileError
from wfstored.daemon.config_values import (
    TCP_ADDRESS,
    ConfigError,
    parse_bool,
    parse_duration,
    parse_float,
    parse_int,
    parse_log_level,
    parse_metrics_address,
    parse_path,
    parse_socket_mode,
    parse_store_url,
    parse_tracing,
)
from wfstored.daemon.flags import DEFAULT_LISTEN, DEFAULT_PORT, flag_parser
from wfstored.daemon.settings import Setting, layer_settings
from wfstored.rpc.server import DEFAULT_SOCKET_MODE
from wfstored.storage.factory import ServerOptions, StoreURL, parse_history_url, parse_state_url

__all__ = [
    "DEFAULT_CLEANUP_INTERVAL",
    "DEFAULT_LISTEN",
    "DEFAULT_PORT",
    "DEFAULT_SOCKET_MODE",
    "Config",
    "ConfigError",
    "ReadConfig",
    "check_listen_address",
    "flag_parser",
    "is_loopback_address",
    "parse_config",
    "read_config",
]

DEFAULT_CLEANUP_INTERVAL = timedelta(hours=1)
"""How often the retention round runs unless ``--cleanup-interval`` says otherwise."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Config:
    """Everything the daemon needs to start."""

    data_dir: Path
    listen: tuple[str, ...]
    grace_seconds: float
    max_message_bytes: int
    workers: int
    max_watchers: int
    log_level: str
    tls_cert: Path | None = None
    """The server's certificate chain (PEM); TCP listeners use TLS when it is set."""
    tls_key: Path | None = None
    """The private key of ``tls_cert`` (PEM)."""
    tls_client_ca: Path | None = None
    """CA certificates (PEM) that sign client certificates; set: clients must present one."""
    auth_token_file: Path | None = None
    """A file of accepted tokens; set: every call but health needs one, on every listener."""
    insecure: bool = False
    """Allow a non-loopback TCP listener with neither TLS nor a token."""
    socket_mode: int = DEFAULT_SOCKET_MODE
    """The permission bits of the Unix sockets."""
    reuse_port: bool = False
    """Share TCP ports with other processes that ask for it too (SO_REUSEPORT)."""
    state_store: StoreURL | None = None
    """Where execution state lives; ``None``: JSON files in ``<data_dir>/state``."""
    history_store: StoreURL | None = None
    """Where execution history lives; ``None``: SQLite in ``<data_dir>/history.db``."""
    server_options: ServerOptions = field(default_factory=ServerOptions)
    """How stores on a database server connect (pool size, start-up timeout)."""
    metrics_listen: str | None = None
    """``host:port`` to serve Prometheus metrics on over HTTP; ``None``: no metrics."""
    tracing: str | None = None
    """Where OpenTelemetry spans go: ``otlp``, ``console`` or ``file:PATH``; ``None``: off."""
    history_retention: timedelta | None = None
    """Delete history records completed longer ago than this; ``None``: keep everything."""
    cleanup_interval: timedelta = DEFAULT_CLEANUP_INTERVAL
    """How often the retention round runs."""

    def state_url(self) -> StoreURL:
        """Return the state store to open: the one named, or the default under data_dir."""
        path = self.data_dir / "state"
        return self.state_store or StoreURL(scheme="file", path=path, text=str(path))

    def history_url(self) -> StoreURL:
        """Return the history store to open: the one named, or the default under data_dir."""
        path = self.data_dir / "history.db"
        return self.history_store or StoreURL(scheme="sqlite", path=path, text=str(path))

    def uses_data_dir(self) -> bool:
        """Whether a store lives in the data directory (so it must exist, mode 0700)."""
        return self.state_store is None or self.history_store is None


def is_loopback_address(address: str) -> bool:
    """Return whether a listen address only accepts connections from this machine.

    Unix sockets are local. A TCP host is loopback when it is ``localhost`` or a loopback IP
    literal (``127.0.0.0/8``, ``::1``); any other name counts as reachable from outside, since
    what it resolves to is not ours to decide.
    """
    if address.startswith("unix:"):
        return True
    return is_loopback_host(address.rpartition(":")[0].strip("[]"))


def _check_security(config: Config) -> None:
    """Refuse settings that do not make sense together, or that expose the data unprotected."""
    if (config.tls_cert is None) != (config.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key must be given together")
    if config.tls_client_ca is not None and config.tls_cert is None:
        raise ConfigError("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS)")
    if config.insecure or config.tls_cert is not None or config.auth_token_file is not None:
        return
    for address in config.listen:
        if not is_loopback_address(address):
            raise ConfigError(
                f"refusing to listen on {address} with neither TLS nor a token: anyone who "
                "can reach it could read and change every workflow; give --tls-cert/--tls-key "
                "or --auth-token-file, or --insecure if the network is trusted"
            )


def check_listen_address(address: str) -> str:
    """Return ``address`` if it is ``host:port`` or ``unix:PATH``; raise ConfigError otherwise."""
    if address.startswith("unix:"):
        if not address.removeprefix("unix:").lstrip("/"):
            raise ConfigError(f"listen address {address!r} has no socket path")
        return address
    match = TCP_ADDRESS.match(address)
    if match is None or int(match["port"]) > 65535:
        raise ConfigError(
            f"listen address {address!r} is not host:port or unix:///path (e.g. 127.0.0.1:50551)"
        )
    return address


@dataclass(frozen=True, slots=True)
class ReadConfig:
    """A checked configuration with the settings it was made of, and the command asked for."""

    config: Config
    settings: Mapping[str, Setting]
    """Every setting by config-file key, with its value as text and its source."""
    print_config: bool = False
    """``--print-config`` was given: show the settings rather than serve."""


def _text(settings: Mapping[str, Setting], key: str) -> tuple[str, str | None]:
    """Return a single-valued setting's error label and value."""
    setting = settings[key]
    if isinstance(setting.value, tuple):  # pragma: no cover (only repeatable flags are tuples)
        raise TypeError(key)
    return setting.label, setting.value


def _required(settings: Mapping[str, Setting], key: str) -> tuple[str, str]:
    label, value = _text(settings, key)
    return label, "" if value is None else value


def _listen(settings: Mapping[str, Setting]) -> tuple[str, ...]:
    value = settings["listen"].value
    addresses = (value,) if isinstance(value, str) else (value or ())
    return tuple(check_listen_address(a) for a in addresses) or (DEFAULT_LISTEN,)


def _build(settings: Mapping[str, Setting]) -> Config:
    """Check every setting and return the configuration they make."""

    def number(key: str, minimum: int) -> int:
        return parse_int(*_required(settings, key), minimum)

    def seconds(key: str, minimum: float) -> float:
        return parse_float(*_required(settings, key), minimum)

    def path(key: str) -> Path | None:
        return parse_path(_text(settings, key)[1])

    interval = parse_duration(*_required(settings, "cleanup-interval"))
    config = Config(
        data_dir=Path(_required(settings, "data-dir")[1]),
        listen=_listen(settings),
        grace_seconds=seconds("grace-seconds", 0.0),
        max_message_bytes=number("max-message-bytes", 1024),
        workers=number("workers", 1),
        max_watchers=number("max-watchers", 1),
        log_level=parse_log_level(*_required(settings, "log-level")),
        tls_cert=path("tls-cert"),
        tls_key=path("tls-key"),
        tls_client_ca=path("tls-client-ca"),
        auth_token_file=path("auth-token-file"),
        insecure=parse_bool(*_required(settings, "insecure")),
        socket_mode=parse_socket_mode(*_required(settings, "socket-mode")),
        reuse_port=parse_bool(*_required(settings, "reuse-port")),
        state_store=parse_store_url(*_text(settings, "state-store"), parse_state_url),
        history_store=parse_store_url(*_text(settings, "history-store"), parse_history_url),
        server_options=ServerOptions(
            pool_size=number("pool-size", 1),
            connect_timeout=seconds("connect-timeout", 0.1),
        ),
        metrics_listen=parse_metrics_address(*_text(settings, "metrics-listen")),
        tracing=parse_tracing(*_text(settings, "tracing")),
        history_retention=parse_duration(*_required(settings, "history-retention"), allow_off=True),
        cleanup_interval=interval or DEFAULT_CLEANUP_INTERVAL,
    )
    _check_security(config)
    return config


def read_config(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> ReadConfig:
    """Return the checked configuration from ``argv``, ``environ`` and the config file.

    Raises :class:`ConfigError` naming the flag, variable or file key that is wrong.
    """
    try:
        settings, given = layer_settings(flag_parser(), argv, environ)
    except ConfigFileError as exc:
        raise ConfigError(str(exc)) from None
    return ReadConfig(
        config=_build(settings),
        settings=settings,
        print_config=bool(getattr(given, "print_config", False)),
    )


def parse_config(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> Config:
    """Return the configuration from ``argv`` (without the program name) and ``environ``."""
    return read_config(argv, environ).config

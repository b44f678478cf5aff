"""The daemon's configuration: command-line flags, each with a ``WFSTORE_*`` variable."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import wfstore
from wfstore.transport import is_loopback_host

from wfstored.rpc.server import DEFAULT_SOCKET_MODE, DEFAULT_WORKERS
from wfstored.rpc.servicers import DEFAULT_MAX_WATCHERS
from wfstored.storage.factory import (
    ServerOptions,
    StoreURL,
    StoreURLError,
    parse_history_url,
    parse_state_url,
)

__all__ = [
    "DEFAULT_LISTEN",
    "DEFAULT_PORT",
    "DEFAULT_SOCKET_MODE",
    "Config",
    "ConfigError",
    "check_listen_address",
    "is_loopback_address",
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
        "--version",
        action="version",
        version=f"%(prog)s {wfstore.__version__}",
        help="print the version",
    )
    parser.add_argument(
        "--data-dir",
        default=environ.get("WFSTORE_DATA_DIR", "wfstore-data"),
        help="where state files and history.db live; created 0700 if missing "
        "(WFSTORE_DATA_DIR, default ./wfstore-data)",
    )
    parser.add_argument(
        "--state-store",
        default=environ.get("WFSTORE_STATE_STORE"),
        metavar="URL",
        help="where execution state lives: file:///dir or a plain path (WFSTORE_STATE_STORE, "
        "default the JSON files in DATA_DIR/state)",
    )
    parser.add_argument(
        "--history-store",
        default=environ.get("WFSTORE_HISTORY_STORE"),
        metavar="URL",
        help="where execution history lives: sqlite:///file.db or a plain path "
        "(WFSTORE_HISTORY_STORE, default SQLite in DATA_DIR/history.db)",
    )
    parser.add_argument(
        "--pool-size",
        default=environ.get("WFSTORE_POOL_SIZE", "10"),
        metavar="N",
        help="connections each store on a database server keeps at most (WFSTORE_POOL_SIZE, "
        "default 10)",
    )
    parser.add_argument(
        "--connect-timeout",
        default=environ.get("WFSTORE_CONNECT_TIMEOUT", "10"),
        metavar="S",
        help="seconds to wait for a store's database at start before exiting 2 "
        "(WFSTORE_CONNECT_TIMEOUT, default 10)",
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
        default=environ.get("WFSTORE_WORKERS", str(DEFAULT_WORKERS)),
        help="threads serving calls (WFSTORE_WORKERS, default 16)",
    )
    parser.add_argument(
        "--max-watchers",
        default=environ.get("WFSTORE_MAX_WATCHERS", str(DEFAULT_MAX_WATCHERS)),
        help="Watch streams served at once, each on a thread of its own; more get "
        f"RESOURCE_EXHAUSTED (WFSTORE_MAX_WATCHERS, default {DEFAULT_MAX_WATCHERS})",
    )
    parser.add_argument(
        "--log-level",
        default=environ.get("WFSTORE_LOG_LEVEL", "INFO"),
        help="DEBUG, INFO, WARNING or ERROR (WFSTORE_LOG_LEVEL, default INFO)",
    )
    observability = parser.add_argument_group("observability (see docs/observability.md)")
    observability.add_argument(
        "--metrics-listen",
        default=environ.get("WFSTORE_METRICS_LISTEN"),
        metavar="ADDR",
        help="serve Prometheus metrics over plain, unauthenticated HTTP on host:port (port 0: "
        "any free port) at /metrics (WFSTORE_METRICS_LISTEN; default: no metrics)",
    )
    observability.add_argument(
        "--tracing",
        default=environ.get("WFSTORE_TRACING"),
        metavar="EXPORTER",
        help="record an OpenTelemetry span per call and send it to otlp (OTEL_EXPORTER_OTLP_* "
        "variables), console (stdout) or file:PATH (JSON lines); needs wfstore[otel] "
        "(WFSTORE_TRACING; default: off)",
    )
    security = parser.add_argument_group("security (see docs/security.md)")
    security.add_argument(
        "--tls-cert",
        default=environ.get("WFSTORE_TLS_CERT"),
        metavar="PEM",
        help="serve TLS on TCP listeners with this certificate chain; needs --tls-key "
        "(WFSTORE_TLS_CERT)",
    )
    security.add_argument(
        "--tls-key",
        default=environ.get("WFSTORE_TLS_KEY"),
        metavar="PEM",
        help="the private key of --tls-cert; must not be readable by others (WFSTORE_TLS_KEY)",
    )
    security.add_argument(
        "--tls-client-ca",
        default=environ.get("WFSTORE_TLS_CLIENT_CA"),
        metavar="PEM",
        help="require client certificates signed by these CAs (mutual TLS) (WFSTORE_TLS_CLIENT_CA)",
    )
    security.add_argument(
        "--auth-token-file",
        default=environ.get("WFSTORE_AUTH_TOKEN_FILE"),
        metavar="FILE",
        help="require 'authorization: Bearer <token>' with one of the tokens in FILE (one a "
        "line, # comments) on every call but health (WFSTORE_AUTH_TOKEN_FILE)",
    )
    security.add_argument(
        "--insecure",
        action="store_const",
        const="true",
        default=environ.get("WFSTORE_INSECURE", "false"),
        help="allow listening on a non-loopback address with neither TLS nor a token "
        "(WFSTORE_INSECURE=true)",
    )
    security.add_argument(
        "--socket-mode",
        default=environ.get("WFSTORE_SOCKET_MODE", f"{DEFAULT_SOCKET_MODE:o}"),
        metavar="OCTAL",
        help="permission bits of Unix sockets, e.g. 660 to let the group connect "
        "(WFSTORE_SOCKET_MODE, default 600)",
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


def _bool(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"", "0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {text!r}")


def _socket_mode(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        raise ConfigError(f"--socket-mode must be octal permission bits, not {text!r}") from None
    if not 0 <= mode <= 0o777:
        raise ConfigError(f"--socket-mode must be between 000 and 777, not {text}")
    if mode & 0o600 != 0o600:
        raise ConfigError(f"--socket-mode {text} must let the owner read and write (6xx)")
    return mode


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None


def _store_url(flag: str, text: str | None, parse: Callable[[str], StoreURL]) -> StoreURL | None:
    if text is None:
        return None
    try:
        return parse(text)
    except StoreURLError as exc:
        raise ConfigError(f"{flag}: {exc}") from None


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
    match = _TCP_ADDRESS.match(address)
    if match is None or int(match["port"]) > 65535:
        raise ConfigError(
            f"listen address {address!r} is not host:port or unix:///path (e.g. 127.0.0.1:50551)"
        )
    return address


def _metrics_address(text: str | None) -> str | None:
    """Return the metrics address ``host:port`` (None: none given); raise ConfigError if bad."""
    if not text:
        return None
    match = _TCP_ADDRESS.match(text)
    if match is None or int(match["port"]) > 65535:
        raise ConfigError(
            f"--metrics-listen {text!r} is not host:port (e.g. 127.0.0.1:9464); metrics are "
            "served over HTTP on TCP only"
        )
    return text


def _tracing(text: str | None) -> str | None:
    """Return the tracing exporter (None: off); raise ConfigError if it is not one we know."""
    if not text or text.strip().lower() in {"off", "none"}:
        return None
    if text in {"otlp", "console"}:
        return text
    if text.startswith("file:") and text.removeprefix("file:"):
        return text
    raise ConfigError(f"--tracing must be otlp, console, file:PATH or off, not {text!r}")


def parse_config(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> Config:
    """Return the configuration from ``argv`` (without the program name) and ``environ``."""
    args = _parser(environ).parse_args(list(argv))
    listen = args.listen or [a.strip() for a in environ.get("WFSTORE_LISTEN", "").split(",")]
    listen = [a for a in listen if a] or [DEFAULT_LISTEN]
    config = Config(
        data_dir=Path(args.data_dir),
        listen=tuple(check_listen_address(a) for a in listen),
        grace_seconds=_float("--grace-seconds", args.grace_seconds, 0.0),
        max_message_bytes=_int("--max-message-bytes", args.max_message_bytes, 1024),
        workers=_int("--workers", args.workers, 1),
        max_watchers=_int("--max-watchers", args.max_watchers, 1),
        log_level=_log_level(args.log_level),
        tls_cert=_path(args.tls_cert),
        tls_key=_path(args.tls_key),
        tls_client_ca=_path(args.tls_client_ca),
        auth_token_file=_path(args.auth_token_file),
        insecure=_bool("--insecure (WFSTORE_INSECURE)", args.insecure),
        socket_mode=_socket_mode(args.socket_mode),
        state_store=_store_url("--state-store", args.state_store, parse_state_url),
        history_store=_store_url("--history-store", args.history_store, parse_history_url),
        server_options=ServerOptions(
            pool_size=_int("--pool-size", args.pool_size, 1),
            connect_timeout=_float("--connect-timeout", args.connect_timeout, 0.1),
        ),
        metrics_listen=_metrics_address(args.metrics_listen),
        tracing=_tracing(args.tracing),
    )
    _check_security(config)
    return config

"""wfstored's flags, declared once: each is also a ``WFSTORE_*`` variable and a config-file key.

A flag's default here is its plain default; :mod:`wfstored.daemon.settings` puts the
environment and the config file between the flag and it. A flag taking a path says so with
the metavar ``DIR``, ``FILE``, ``PEM`` or ``PATH``: the config file resolves it against its
own directory.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

import wfstore

from wfstored.daemon.config_values import ConfigError
from wfstored.rpc.server import DEFAULT_SOCKET_MODE, DEFAULT_WORKERS
from wfstored.rpc.servicers import DEFAULT_MAX_WATCHERS

__all__ = ["DEFAULT_LISTEN", "DEFAULT_PORT", "flag_parser"]

DEFAULT_PORT = 50551
"""The TCP port wfstored listens on when no address is given."""
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"
"""The address wfstored listens on when no address is given: loopback only."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, raised rather than printed."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see wfstored --help)")


def flag_parser() -> argparse.ArgumentParser:
    """Return the parser of wfstored's flags, each with its plain default.

    Every option declared here is also a ``WFSTORE_*`` variable and a config-file key (see
    :mod:`wfstored.daemon.settings`); a flag taking a path should say so with the metavar
    ``DIR``, ``FILE``, ``PEM`` or ``PATH``, so that the config file resolves it.
    """
    parser = _Parser(
        prog="wfstored",
        description="Serve wfstore's execution state and history over gRPC.",
        epilog="Every flag can also be set by the environment variable shown in its help, or "
        "as a key of the --config file (the flag without its dashes, e.g. data-dir). A flag "
        "wins over its variable, the variable over the file, the file over the default; "
        "--print-config shows the outcome. See docs/operations.md.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {wfstore.__version__}",
        help="print the version",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="read settings from this TOML file; flags and variables override it (WFSTORE_CONFIG)",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print every effective setting, its value and where it came from, then exit",
    )
    parser.add_argument(
        "--data-dir",
        default="wfstore-data",
        metavar="DIR",
        help="where state files and history.db live; created 0700 if missing "
        "(WFSTORE_DATA_DIR, default ./wfstore-data)",
    )
    parser.add_argument(
        "--state-store",
        metavar="URL",
        help="where execution state lives: file:///dir or a plain path (WFSTORE_STATE_STORE, "
        "default the JSON files in DATA_DIR/state)",
    )
    parser.add_argument(
        "--history-store",
        metavar="URL",
        help="where execution history lives: sqlite:///file.db or a plain path "
        "(WFSTORE_HISTORY_STORE, default SQLite in DATA_DIR/history.db)",
    )
    parser.add_argument(
        "--pool-size",
        default="10",
        metavar="N",
        help="connections each store on a database server keeps at most (WFSTORE_POOL_SIZE, "
        "default 10)",
    )
    parser.add_argument(
        "--connect-timeout",
        default="10",
        metavar="S",
        help="seconds to wait for a store's database at start before exiting 2 "
        "(WFSTORE_CONNECT_TIMEOUT, default 10)",
    )
    parser.add_argument(
        "--listen",
        action="append",
        default=[DEFAULT_LISTEN],
        metavar="ADDR",
        help="host:port or unix:///path; repeat for several (WFSTORE_LISTEN, comma-separated; "
        f"default {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--reuse-port",
        action="store_const",
        const="true",
        default="false",
        help="let several wfstored processes listen on the same TCP port (SO_REUSEPORT; the "
        "kernel spreads connections over them), to use more cores; without it a port in use "
        "is an error (WFSTORE_REUSE_PORT=true)",
    )
    parser.add_argument(
        "--grace-seconds",
        default="10",
        help="how long in-flight calls may finish on SIGTERM (WFSTORE_GRACE_SECONDS, default 10)",
    )
    parser.add_argument(
        "--max-message-bytes",
        default=str(16 * 1024 * 1024),
        help="largest request or reply; larger gets RESOURCE_EXHAUSTED "
        "(WFSTORE_MAX_MESSAGE_BYTES, default 16777216)",
    )
    parser.add_argument(
        "--workers",
        default=str(DEFAULT_WORKERS),
        help="threads serving calls (WFSTORE_WORKERS, default 16)",
    )
    parser.add_argument(
        "--max-watchers",
        default=str(DEFAULT_MAX_WATCHERS),
        help="Watch streams served at once, each on a thread of its own; more get "
        f"RESOURCE_EXHAUSTED (WFSTORE_MAX_WATCHERS, default {DEFAULT_MAX_WATCHERS})",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        help="DEBUG, INFO, WARNING or ERROR (WFSTORE_LOG_LEVEL, default INFO)",
    )
    retention = parser.add_argument_group("retention (see docs/operations.md)")
    retention.add_argument(
        "--history-retention",
        default="off",
        metavar="DURATION",
        help="delete history records completed longer ago than this, e.g. 30d, 12h or 90m, "
        "in small batches (WFSTORE_HISTORY_RETENTION, default off: keep everything)",
    )
    retention.add_argument(
        "--cleanup-interval",
        default="1h",
        metavar="DURATION",
        help="how often the retention round runs; the first a few seconds after start "
        "(WFSTORE_CLEANUP_INTERVAL, default 1h)",
    )
    observability = parser.add_argument_group("observability (see docs/observability.md)")
    observability.add_argument(
        "--metrics-listen",
        metavar="ADDR",
        help="serve Prometheus metrics over plain, unauthenticated HTTP on host:port (port 0: "
        "any free port) at /metrics (WFSTORE_METRICS_LISTEN; default: no metrics)",
    )
    observability.add_argument(
        "--tracing",
        metavar="EXPORTER",
        help="record an OpenTelemetry span per call and send it to otlp (OTEL_EXPORTER_OTLP_* "
        "variables), console (stdout) or file:PATH (JSON lines); needs wfstore[otel] "
        "(WFSTORE_TRACING; default: off)",
    )
    security = parser.add_argument_group("security (see docs/security.md)")
    security.add_argument(
        "--tls-cert",
        metavar="PEM",
        help="serve TLS on TCP listeners with this certificate chain; needs --tls-key "
        "(WFSTORE_TLS_CERT)",
    )
    security.add_argument(
        "--tls-key",
        metavar="PEM",
        help="the private key of --tls-cert; must not be readable by others (WFSTORE_TLS_KEY)",
    )
    security.add_argument(
        "--tls-client-ca",
        metavar="PEM",
        help="require client certificates signed by these CAs (mutual TLS) (WFSTORE_TLS_CLIENT_CA)",
    )
    security.add_argument(
        "--auth-token-file",
        metavar="FILE",
        help="require 'authorization: Bearer <token>' with one of the tokens in FILE (one a "
        "line, # comments) on every call but health (WFSTORE_AUTH_TOKEN_FILE)",
    )
    security.add_argument(
        "--insecure",
        action="store_const",
        const="true",
        default="false",
        help="allow listening on a non-loopback address with neither TLS nor a token "
        "(WFSTORE_INSECURE=true)",
    )
    security.add_argument(
        "--socket-mode",
        default=f"{DEFAULT_SOCKET_MODE:o}",
        metavar="OCTAL",
        help="permission bits of Unix sockets, e.g. 660 to let the group connect "
        "(WFSTORE_SOCKET_MODE, default 600)",
    )
    return parser

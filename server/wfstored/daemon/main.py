"""The ``wfstored`` command: configure, open the stores, serve until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from types import FrameType

import wfstore
from wfstore.ports import HistoryStore, StateStore

from wfstored.daemon.config import Config, ConfigError, read_config
from wfstored.daemon.protection import (
    ProtectionError,
    describe_protection,
    load_protection,
    warn_about_exposure,
)
from wfstored.daemon.retention import RetentionTask
from wfstored.daemon.serving_line import serving_line
from wfstored.daemon.stores import StoreOpenError, describe_stores, open_stores
from wfstored.rpc import ListenError, Protection, RpcOptions, start_server
from wfstored.rpc.handlers import Interceptor
from wfstored.storage.shared.table_history_store import TableHistoryStore

__all__ = ["EXIT_USAGE", "main"]

_log = logging.getLogger("wfstored")
EXIT_USAGE = 2
"""The exit code when the daemon cannot start: a bad flag, a port in use, an unusable store."""
_SIGNAL_POLL_SECONDS = 0.2


class _StartupError(Exception):
    """The daemon cannot start; the message is the one line printed."""


def _rpc_options(
    config: Config, protection: Protection, observers: list[Interceptor]
) -> RpcOptions:
    return RpcOptions(
        listen=config.listen,
        workers=config.workers,
        max_watchers=config.max_watchers,
        max_message_bytes=config.max_message_bytes,
        socket_mode=config.socket_mode,
        reuse_port=config.reuse_port,
        protection=protection,
        observers=tuple(observers),
    )


def _retention(config: Config, history: HistoryStore, cleanup: ExitStack) -> RetentionTask | None:
    """Start the retention rounds if ``--history-retention`` asks for them."""
    if config.history_retention is None:
        return None
    if not isinstance(history, TableHistoryStore):  # pragma: no cover (every backend is one)
        raise _StartupError("--history-retention: this history store cannot delete in batches")
    task = RetentionTask(history, config.history_retention, config.cleanup_interval)
    task.start()
    cleanup.callback(task.stop)
    return task


def _observers(
    config: Config,
    state: StateStore,
    history: HistoryStore,
    cleanup: ExitStack,
    retention: RetentionTask | None = None,
) -> list[Interceptor]:
    """Start metrics and tracing if asked for; return their interceptors, metrics first.

    Their modules, and the libraries they need, are imported only here: a daemon without
    ``--metrics-listen`` and ``--tracing`` loads neither and installs no interceptor.
    """
    observers: list[Interceptor] = []
    if config.metrics_listen is not None:
        from wfstored.daemon.metrics import MetricsError, start_metrics  # noqa: PLC0415

        try:
            extra = []
            if retention is not None:
                from wfstored.daemon.retention_metrics import RetentionCollector  # noqa: PLC0415

                extra.append(RetentionCollector(retention.counters))
            metrics = start_metrics(config.metrics_listen, state, history, extra)
        except MetricsError as exc:
            raise _StartupError(str(exc)) from None
        cleanup.callback(metrics.stop)
        observers.append(metrics.interceptor)
    if config.tracing is not None:
        from wfstored.daemon.tracing import TracingError, start_tracing  # noqa: PLC0415

        try:
            tracing = start_tracing(config.tracing)
        except TracingError as exc:
            raise _StartupError(str(exc)) from None
        cleanup.callback(tracing.stop)
        observers.append(tracing.interceptor)
    return observers


def _serve(config: Config) -> int:
    try:
        protection = load_protection(config)
        state, history = open_stores(config)
    except (ProtectionError, StoreOpenError) as exc:
        raise _StartupError(str(exc)) from None
    with ExitStack() as cleanup:
        cleanup.callback(state.close)
        cleanup.callback(history.close)
        retention = _retention(config, history, cleanup)
        observers = _observers(config, state, history, cleanup, retention)
        stopped_by = _run(config, protection, state, history, observers)
    _log.info("wfstored stopped on %s", stopped_by)
    return 0


def _run(
    config: Config,
    protection: Protection,
    state: StateStore,
    history: HistoryStore,
    observers: list[Interceptor],
) -> str:
    """Serve until a signal asks to stop; return its name. The caller closes the stores."""
    try:
        running = start_server(_rpc_options(config, protection, observers), state, history)
    except ListenError as exc:
        raise _StartupError(str(exc)) from None
    stop_requested = threading.Event()
    received: list[str] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        del frame
        received.append(signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    _log.info("security: %s", describe_protection(config, protection))
    warn_about_exposure(config, protection)
    _log.info(  # the last start-up line: tests and scripts wait for it
        "%s",
        serving_line(
            f"wfstored {wfstore.__version__}",
            running.addresses,
            describe_stores(config),
            os.getpid(),
        ),
    )
    # Poll rather than block: the kernel may deliver the signal to one of gRPC's threads, and
    # Python then runs the handler only once the main thread wakes up on its own.
    while not stop_requested.wait(_SIGNAL_POLL_SECONDS):
        pass
    running.stop(config.grace_seconds)
    return received[0] if received else "request"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the daemon; return its exit code (0 after a clean stop, 2 when it cannot start).

    ``wfstored migrate ...`` copies stores instead (see :mod:`wfstored.daemon.migrate`).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["migrate"]:
        from wfstored.daemon import migrate  # noqa: PLC0415 (a command of its own)

        return migrate.main(args[1:])
    try:
        read = read_config(args)
    except ConfigError as exc:
        print(f"wfstored: error: {exc}", file=sys.stderr)  # noqa: T201 (no logging yet)
        return EXIT_USAGE
    if read.print_config:
        from wfstored.daemon.print_config import print_settings  # noqa: PLC0415 (a command)

        print_settings(read.settings)
        return 0
    config = read.config
    logging.basicConfig(
        level=config.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The PostgreSQL pool logs every failed connection attempt; the stores report the outage
    # themselves (one line at start-up, UNAVAILABLE on calls), so keep only its errors.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    try:
        return _serve(config)
    except _StartupError as exc:
        _log.error("cannot start: %s", exc)
        return EXIT_USAGE

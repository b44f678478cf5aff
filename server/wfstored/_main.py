"""The ``wfstored`` command: configure, open the stores, serve until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType

from wfstore.errors import StoreError

from wfstored._config import Config, ConfigError, parse_config
from wfstored._json_store import JSONStore
from wfstored._server import ListenError, start_server
from wfstored._sqlite_history import SQLiteHistoryStore

__all__ = ["main"]

_log = logging.getLogger("wfstored")
EXIT_USAGE = 2
_SIGNAL_POLL_SECONDS = 0.2


class _StartupError(Exception):
    """The daemon cannot start; the message is the one line printed."""


def _version() -> str:
    try:
        return version("wfstore")
    except PackageNotFoundError:  # pragma: no cover (running from a source tree)
        return "unknown"


def _open_stores(data_dir: Path) -> tuple[JSONStore, SQLiteHistoryStore]:
    """Create the data directory (0700) and open both stores in it."""
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        state_dir = data_dir / "state"
        state_dir.mkdir(mode=0o700, exist_ok=True)
        state = JSONStore(state_dir)
        state.list()  # sweeps crashed writers' temp files now, and fails now if it cannot
        history = SQLiteHistoryStore(data_dir / "history.db")
    except (OSError, StoreError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _StartupError(f"cannot use data directory {data_dir}: {reason}") from None
    return state, history


def _serve(config: Config) -> int:
    state, history = _open_stores(config.data_dir)
    try:
        running = start_server(config, state, history)
    except ListenError as exc:
        history.close()
        state.close()
        raise _StartupError(str(exc)) from None
    stop_requested = threading.Event()
    received: list[str] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        del frame
        received.append(signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    _log.info(
        "wfstored %s serving on %s (data %s, pid %d)",
        _version(),
        ", ".join(running.addresses),
        config.data_dir.resolve(),
        os.getpid(),
    )
    # Poll rather than block: the kernel may deliver the signal to one of gRPC's threads, and
    # Python then runs the handler only once the main thread wakes up on its own.
    while not stop_requested.wait(_SIGNAL_POLL_SECONDS):
        pass
    running.stop(config.grace_seconds)
    history.close()
    state.close()
    _log.info("wfstored stopped on %s", received[0] if received else "request")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the daemon; return its exit code (0 after a clean stop, 2 when it cannot start)."""
    try:
        config = parse_config(sys.argv[1:] if argv is None else argv)
    except ConfigError as exc:
        print(f"wfstored: error: {exc}", file=sys.stderr)  # noqa: T201 (no logging yet)
        return EXIT_USAGE
    logging.basicConfig(
        level=config.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return _serve(config)
    except _StartupError as exc:
        _log.error("cannot start: %s", exc)
        return EXIT_USAGE

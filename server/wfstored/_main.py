"""The ``wfstored`` command: configure, open the stores, serve until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import stat
import sys
import threading
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType

from wfstore.errors import StoreError

from wfstored._auth import TokenFileError, parse_tokens
from wfstored._config import Config, ConfigError, is_loopback_address, parse_config
from wfstored._json_store import JSONStore
from wfstored._secret_file import SecretFileError, read_secret_file
from wfstored._server import ListenError, Protection, start_server
from wfstored._sqlite_history import SQLiteHistoryStore
from wfstored._tls import TLSError, server_credentials

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


def _make_private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents 0700, whatever the umask; warn if it is open."""
    if path.is_dir():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            _log.warning(
                "data directory %s has mode %03o: other users may reach into it (chmod 700)",
                path,
                mode,
            )
        return
    missing = [path, *(p for p in path.parents if not p.exists())]
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:  # another process made it first
            continue
        directory.chmod(0o700)  # mkdir's mode is cut by the umask; this is exact


def _open_stores(data_dir: Path) -> tuple[JSONStore, SQLiteHistoryStore]:
    """Create the data directory (0700) and open both stores in it."""
    try:
        _make_private_dir(data_dir)
        state_dir = data_dir / "state"
        state = JSONStore(state_dir)
        state.list()  # sweeps crashed writers' temp files now, and fails now if it cannot
        history = SQLiteHistoryStore(data_dir / "history.db")
    except (OSError, StoreError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _StartupError(f"cannot use data directory {data_dir}: {reason}") from None
    return state, history


def _protection(config: Config) -> Protection:
    """Read the TLS files and the token file the configuration names."""
    tls = None
    tokens: tuple[bytes, ...] = ()
    try:
        if config.tls_cert is not None and config.tls_key is not None:
            tls = server_credentials(config.tls_cert, config.tls_key, config.tls_client_ca)
        if config.auth_token_file is not None:
            path = config.auth_token_file
            tokens = parse_tokens(read_secret_file(path, "token file"), path)
    except (TLSError, TokenFileError, SecretFileError) as exc:
        raise _StartupError(str(exc)) from None
    return Protection(tls=tls, tokens=tokens)


def _describe(config: Config, protection: Protection) -> str:
    """Return one line saying how the listeners are protected (never a token)."""
    if protection.tls is None:
        tcp = "plaintext"
    elif config.tls_client_ca is None:
        tcp = "TLS"
    else:
        tcp = "mutual TLS (client certificates required)"
    auth = (
        f"a token ({len(protection.tokens)} accepted) on every call but health"
        if protection.tokens
        else "no token"
    )
    return f"TCP listeners use {tcp}; unix sockets are mode {config.socket_mode:03o}; {auth}"


def _warn_about_exposure(config: Config, protection: Protection) -> None:
    """Log what is allowed but risky: clear-text tokens off this machine, open sockets."""
    exposed = [a for a in config.listen if not is_loopback_address(a)]
    if exposed and protection.tls is None:
        if protection.tokens:
            _log.warning(
                "tokens travel in clear text to %s; anyone on the path can read and reuse them "
                "(give --tls-cert and --tls-key)",
                ", ".join(exposed),
            )
        else:
            _log.warning(
                "--insecure: %s accepts calls from anyone who can reach it", ", ".join(exposed)
            )
    sockets = [a for a in config.listen if a.startswith("unix:")]
    if sockets and config.socket_mode & 0o007 and not protection.tokens:
        _log.warning(
            "socket mode %03o lets every local user call %s with no token",
            config.socket_mode,
            ", ".join(sockets),
        )


def _serve(config: Config) -> int:
    protection = _protection(config)
    state, history = _open_stores(config.data_dir)
    try:
        running = start_server(config, state, history, protection)
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
    _log.info("security: %s", _describe(config, protection))
    _warn_about_exposure(config, protection)
    _log.info(  # the last start-up line: tests and scripts wait for it
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

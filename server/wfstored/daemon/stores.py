"""Opening the stores the configuration names, with the data directory they may need."""

from __future__ import annotations

import logging
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wfstore.errors import StoreError
from wfstore.ports import HistoryStore, StateStore

from wfstored.daemon.config import Config
from wfstored.storage.factory import StoreURL, StoreURLError, open_history_store, open_state_store
from wfstored.storage.shared.private_files import make_private_dirs

__all__ = ["StoreOpenError", "describe_stores", "open_stores"]

_log = logging.getLogger("wfstored")


class StoreOpenError(Exception):
    """A store cannot be opened; the message is the one line the daemon prints."""


def open_stores(config: Config) -> tuple[StateStore, HistoryStore]:
    """Open both stores (creating the data directory 0700 if a store lives there)."""
    if config.uses_data_dir():
        _prepare_data_dir(config.data_dir)
    state = _open_state(config)
    try:
        history = _open_history(config)
    except BaseException:
        state.close()
        raise
    return state, history


def describe_stores(config: Config) -> str:
    """Return where the stores live, for the ready line (``data DIR`` for the defaults)."""
    if config.state_store is None and config.history_store is None:
        return f"data {config.data_dir.resolve()}"
    return f"state {config.state_url().shown()}, history {config.history_url().shown()}"


def _prepare_data_dir(data_dir: Path) -> None:
    try:
        if data_dir.is_dir():
            mode = stat.S_IMODE(data_dir.stat().st_mode)
            if mode & 0o077:
                _log.warning(
                    "data directory %s has mode %03o: other users may reach into it (chmod 700)",
                    data_dir,
                    mode,
                )
            return
        if data_dir.exists():
            raise StoreOpenError(f"cannot use data directory {data_dir}: it is not a directory")
        make_private_dirs(data_dir)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StoreOpenError(f"cannot use data directory {data_dir}: {reason}") from None


def _open_state(config: Config) -> StateStore:
    url = config.state_url()
    with _reported(config, config.state_store, "state", url):
        state = open_state_store(url, config.server_options)
        try:
            state.list()  # sweeps crashed writers' temp files now, and fails now if it cannot
        except BaseException:
            state.close()
            raise
    return state


def _open_history(config: Config) -> HistoryStore:
    url = config.history_url()
    with _reported(config, config.history_store, "history", url):
        return open_history_store(url, config.server_options)
    raise AssertionError  # pragma: no cover (an error leaves the block by raising)


@contextmanager
def _reported(config: Config, named: StoreURL | None, kind: str, url: StoreURL) -> Iterator[None]:
    """Turn a failure to open a store into one line naming the data directory or the URL."""
    try:
        yield
    except (OSError, StoreError, StoreURLError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if named is None:
            raise StoreOpenError(f"cannot use data directory {config.data_dir}: {reason}") from None
        raise StoreOpenError(f"cannot open {kind} store {url.shown()}: {reason}") from None

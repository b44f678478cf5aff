"""Opening the stores a configuration names, by URL: the one table of URL schemes.

State stores:

- ``file:///abs/dir``, ``file:rel/dir`` or a plain path: :class:`JSONStateStore`, one awf
  state file per workflow in that directory.
- ``postgresql://...`` (or ``postgres://``): :class:`PostgresStateStore`, one row per workflow
  in a PostgreSQL database (needs ``wfstore[postgres]``).

History stores:

- ``sqlite:///abs/history.db``, ``sqlite:rel/history.db`` or a plain path:
  :class:`SQLiteHistoryStore`, one SQLite database file.
- ``postgresql://user@host[,host2]/db?...`` (or ``postgres://``): :class:`PostgresHistoryStore`,
  a PostgreSQL database that any number of daemons share; the URL goes to libpq as it is
  (needs ``wfstore[postgres]``; psycopg is imported only then).

In a ``file:`` or ``sqlite:`` URL, ``///`` starts an absolute path (as in ``file:`` URLs;
SQLAlchemy reads ``sqlite:///x`` as relative, wfstore does not), ``//localhost/`` may name this
machine, and the path is percent-decoded. Anything else (another host, a query, a fragment,
an unknown scheme) is a :class:`StoreURLError` naming what is wrong. A backend is added by
adding its scheme to the tables here; nothing else in the daemon changes.
"""

from __future__ import annotations

import importlib
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Final

from wfstore.ports import HistoryStore, StateStore

from wfstored.storage.files.state_store import JSONStateStore
from wfstored.storage.sqlite.history_store import SQLiteHistoryStore

__all__ = [
    "HISTORY_SCHEMES",
    "SERVER_SCHEMES",
    "STATE_SCHEMES",
    "ServerOptions",
    "StoreURL",
    "StoreURLError",
    "open_history_store",
    "open_state_store",
    "parse_history_url",
    "parse_state_url",
]


class StoreURLError(ValueError):
    """A store URL is malformed or names a scheme no backend serves; the message says which."""


@dataclass(frozen=True, slots=True)
class StoreURL:
    """A parsed store URL: the backend's scheme and where its data lives."""

    scheme: str
    """The scheme, lower case (``file``, ``sqlite``, ``postgresql``)."""
    path: Path
    """The local path a ``file:`` or ``sqlite:`` URL names (empty for a database server)."""
    text: str
    """The URL as given: what a database server's driver is handed."""

    def shown(self) -> str:
        """Return the URL for messages and logs, without a password."""
        parts = urllib.parse.urlsplit(self.text)
        if parts.password is None:
            return self.text
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How stores on a database server connect; files and SQLite ignore them."""

    pool_size: int = 10
    """Connections each store keeps at most."""
    connect_timeout: float = 10.0
    """Seconds to wait for the database when the store opens."""


def _json_state_store(url: StoreURL, options: ServerOptions) -> StateStore:
    del options  # a local directory: nothing to connect to
    return JSONStateStore(url.path)


def _postgres(url: StoreURL) -> ModuleType:
    """Import the PostgreSQL backend, or say which extra the URL needs."""
    try:
        return importlib.import_module("wfstored.storage.postgres")
    except ImportError as exc:
        raise StoreURLError(
            f"{url.shown()} needs the PostgreSQL driver: pip install 'wfstore[postgres]' ({exc})"
        ) from None


def _postgres_state_store(url: StoreURL, options: ServerOptions) -> StateStore:
    store: StateStore = _postgres(url).PostgresStateStore(
        url.text, pool_size=options.pool_size, connect_timeout=options.connect_timeout
    )
    return store


def _sqlite_history_store(url: StoreURL, options: ServerOptions) -> HistoryStore:
    del options  # a local file: nothing to connect to
    return SQLiteHistoryStore(url.path)


def _postgres_history_store(url: StoreURL, options: ServerOptions) -> HistoryStore:
    store: HistoryStore = _postgres(url).PostgresHistoryStore(
        url.text, pool_size=options.pool_size, connect_timeout=options.connect_timeout
    )
    return store


STATE_SCHEMES: Final[Mapping[str, Callable[[StoreURL, ServerOptions], StateStore]]] = {
    "file": _json_state_store,
    "postgresql": _postgres_state_store,
    "postgres": _postgres_state_store,
}
"""The state backends, by URL scheme; a plain path means the first."""
HISTORY_SCHEMES: Final[Mapping[str, Callable[[StoreURL, ServerOptions], HistoryStore]]] = {
    "sqlite": _sqlite_history_store,
    "postgresql": _postgres_history_store,
    "postgres": _postgres_history_store,
}
"""The history backends, by URL scheme; a plain path means the first."""
SERVER_SCHEMES: Final = frozenset({"postgresql", "postgres"})
"""Schemes that name a database server: the URL is the driver's, not a local path."""


def parse_state_url(text: str) -> StoreURL:
    """Return the state store URL ``text`` names; raise StoreURLError if it is not one."""
    return _parse("state", text, STATE_SCHEMES)


def parse_history_url(text: str) -> StoreURL:
    """Return the history store URL ``text`` names; raise StoreURLError if it is not one."""
    return _parse("history", text, HISTORY_SCHEMES)


def open_state_store(url: str | StoreURL, options: ServerOptions | None = None) -> StateStore:
    """Open the state store ``url`` names (see the module's docstring for the forms)."""
    parsed = url if isinstance(url, StoreURL) else parse_state_url(url)
    return STATE_SCHEMES[parsed.scheme](parsed, options or ServerOptions())


def open_history_store(url: str | StoreURL, options: ServerOptions | None = None) -> HistoryStore:
    """Open the history store ``url`` names (see the module's docstring for the forms)."""
    parsed = url if isinstance(url, StoreURL) else parse_history_url(url)
    return HISTORY_SCHEMES[parsed.scheme](parsed, options or ServerOptions())


def _parse(kind: str, text: str, schemes: Mapping[str, object]) -> StoreURL:
    known = ", ".join(f"{scheme}:" for scheme in schemes)
    if not text.strip():
        raise StoreURLError(f"the {kind} store URL is empty (known: {known} or a plain path)")
    if not _has_scheme(text):
        return StoreURL(scheme=next(iter(schemes)), path=Path(text), text=text)
    parts = urllib.parse.urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        shown = StoreURL(scheme, Path(), text).shown()
        raise StoreURLError(
            f"unknown {kind} store scheme {parts.scheme!r} in {shown!r} (known: {known} or a "
            "plain path)"
        )
    if scheme in SERVER_SCHEMES:
        return StoreURL(scheme=scheme, path=Path(), text=text)
    if parts.netloc not in {"", "localhost"}:
        raise StoreURLError(
            f"{kind} store URL {text!r} names host {parts.netloc!r}; {scheme}: URLs name a "
            f"local path ({scheme}:///absolute/path or {scheme}:relative/path)"
        )
    if parts.query or parts.fragment:
        raise StoreURLError(f"{kind} store URL {text!r}: {scheme}: URLs take no ?query or #part")
    path = urllib.parse.unquote(parts.path)
    if not path:
        raise StoreURLError(f"{kind} store URL {text!r} has no path")
    return StoreURL(scheme=scheme, path=Path(path), text=text)


def _has_scheme(text: str) -> bool:
    """Whether ``text`` starts with ``scheme:`` (at least two characters, so not ``C:``)."""
    scheme, colon, _ = text.partition(":")
    return (
        bool(colon)
        and len(scheme) > 1
        and scheme[0].isalpha()
        and all(c.isalnum() or c in "+.-" for c in scheme)
    )

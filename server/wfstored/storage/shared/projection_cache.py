"""Projections of stored documents, reused while the bytes they were made from are unchanged.

A reader that turns the same stored state into the same reply again and again (the daemon's
Load: file bytes -> domain state -> protobuf reply) can keep what it made and reuse it as long
as the stored bytes are the same. The cache is checked against the bytes themselves, read anew
on every call, so it can never serve a stale value: a change by any thread or process, however
fast, changes the bytes (or the stamp that goes with them), and the entry is made again. What
it saves is the decoding, validation and encoding, not the read.

Entries are kept per key, least recently used first out, within a budget of bytes (the source
bytes plus the projection's size).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

__all__ = ["DEFAULT_CACHE_BYTES", "ProjectionCache"]

T = TypeVar("T")

DEFAULT_CACHE_BYTES: Final = 16 * 1024 * 1024
"""How many bytes of source documents and projections a store keeps unless told otherwise."""


@dataclass(frozen=True, slots=True)
class _Entry:
    source: bytes | str
    stamp: int
    value: object
    cost: int


class ProjectionCache(Generic[T]):
    """Projections of documents by key, valid while the document's bytes and stamp are equal.

    ``stamp`` is whatever else the projection depends on besides the bytes (a file's mtime,
    for instance). Thread-safe. A budget of 0 keeps nothing.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        """Keep at most ``max_bytes`` of sources and projections."""
        self._max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, source: bytes | str, stamp: int, make: Callable[[], T]) -> T:
        """Return the value kept for ``key`` if it was made from ``source`` and ``stamp``.

        Otherwise return ``make()`` (which must depend on nothing but ``source`` and ``stamp``),
        kept for the next call. Exceptions from ``make`` propagate and nothing is kept.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is not None and entry.stamp == stamp and entry.source == source:
            return entry.value  # type: ignore[return-value] # made by the key's own maker
        value = make()
        cost = len(source) + (len(value) if isinstance(value, bytes) else len(source))
        if cost <= self._max_bytes:
            self._keep(key, _Entry(source, stamp, value, cost))
        return value

    def forget(self, key: Hashable) -> None:
        """Drop the entry of ``key``, if any (to free memory early; never needed for safety)."""
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._bytes -= entry.cost

    @property
    def size_bytes(self) -> int:
        """How many bytes the entries account for now."""
        return self._bytes

    def __len__(self) -> int:
        """How many entries are kept."""
        return len(self._entries)

    def _keep(self, key: Hashable, entry: _Entry) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.cost
            self._entries[key] = entry
            self._bytes += entry.cost
            while self._bytes > self._max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.cost

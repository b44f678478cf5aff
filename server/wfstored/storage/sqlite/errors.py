"""SQLite's errors as the errors wfstore's callers handle.

Lock contention, I/O and permission failures are :class:`~wfstore.errors.UnavailableError`
(retry later); a full disk is :class:`~wfstore.errors.ResourceExhaustedError`; anything else
means the file is not a healthy history database: :class:`~wfstore.errors.DataCorruptedError`.
Messages name the database, what was being done, and SQLite's extended code.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from wfstore.errors import DataCorruptedError, ResourceExhaustedError, UnavailableError

__all__ = ["BUSY_TIMEOUT_MS", "is_undecodable_text", "translate_sqlite_error"]

BUSY_TIMEOUT_MS: Final = 5000
"""How long a writer queues behind another process's write before its call fails."""

# SQLite result codes (the low byte of an extended code) that mean "try again later" rather
# than "the file is damaged": lock contention, an I/O or permission failure.
_UNAVAILABLE_CODES: Final = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_NOMEM,
    }
)
_CONTENTION_CODES: Final = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def translate_sqlite_error(exc: sqlite3.Error, path: str, action: str) -> Exception:
    """Return the wfstore error for an SQLite error raised while doing ``action``."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    name = getattr(exc, "sqlite_errorname", None)  # the extended code, e.g. SQLITE_IOERR_WRITE
    what = f"{action}: {exc}" + (f" [{name}]" if name else "")
    if primary == sqlite3.SQLITE_FULL:
        return ResourceExhaustedError(
            f"history database {path}: the disk is full ({what}); free space and retry"
        )
    if primary in _CONTENTION_CODES:
        return UnavailableError(
            f"history database {path} is locked by another writer and stayed locked for "
            f"{BUSY_TIMEOUT_MS} ms ({what}); retry later"
        )
    if primary in _UNAVAILABLE_CODES:
        return UnavailableError(f"history database {path} is unavailable ({what})")
    return DataCorruptedError(
        f"history database {path} is damaged or not a wfstore history database ({what})"
    )


def is_undecodable_text(exc: sqlite3.OperationalError) -> bool:
    """Whether ``exc`` is Python's "Could not decode" of non-UTF-8 text, not an SQLite error."""
    return getattr(exc, "sqlite_errorcode", None) is None

"""Where a state file keeps its version, and what version a file without one has.

The version is the document's last top-level key, ``"WfstoreVersion"``, written in the same
file (the same atomic rename) as the state, so the two are never out of step. awf and other Go
readers ignore the key. A first save of an id, and a save after the id was deleted, starts
at the current time in microseconds since the Unix epoch: a later incarnation of an id then
always starts above every version an earlier one reached (each save takes far longer than a
microsecond), so no version is handed out twice for one id without keeping tombstones. A file
written by another tool has no such key (awf drops it when it rewrites a file): its version is
its modification time in microseconds, which a later rewrite moves on, and the next save of
it goes on from there. See docs/concurrency.md for what this assumes.
"""

from __future__ import annotations

import re
import time
from typing import Final

__all__ = ["TAIL_BYTES", "VERSION_KEY", "next_version", "stamp", "version_of"]

VERSION_KEY: Final = "WfstoreVersion"
"""The top-level key of a state file that holds its version."""
_TAIL: Final = re.compile(rb',\n  "WfstoreVersion": ([1-9][0-9]{0,18})\n}\Z')
TAIL_BYTES: Final = 48
"""How many bytes at the end of a state file hold its version key: all ``version_of`` reads."""


def stamp(document: bytes, version: int) -> bytes:
    """Return the awf ``document`` (an indented object) with ``version`` as its last key."""
    if not document.endswith(b"\n}"):
        raise ValueError("a state document ends with a newline and '}'")
    return b'%s,\n  "%s": %d\n}' % (document[:-2], VERSION_KEY.encode(), version)


def version_of(data: bytes, mtime_ns: int) -> int:
    """Return the version of a state file's bytes (its last TAIL_BYTES suffice), or of its time."""
    match = _TAIL.search(data[-TAIL_BYTES:])
    if match is not None:
        return int(match.group(1))
    return max(1, mtime_ns // 1000)


def next_version(current: int | None) -> int:
    """Return the version a save gives an id whose stored version is ``current`` (None: none)."""
    if current is None:
        return max(1, time.time_ns() // 1000)
    return current + 1

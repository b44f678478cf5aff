"""What a state backend offers Watch: an ordered log of its changes, and tokens into it.

A backend's log is split into *parts* (the file backend: one per lock stripe; PostgreSQL: one).
Within a part, changes are totally ordered and each has a *position*; a :data:`Cursor` holds
one position per part, and names everything up to and including those positions. Every change
to one id lands in the same part, so an id's changes come out in version order. The watch
hub (:mod:`wfstored.storage.shared.watch_hub`) reads a feed once and serves every watcher.

Tokens are URL-safe base64 of: a format byte, the backend's letter, the log's epoch (random,
made with the log, so a token of another directory or database, or of one made again, is
refused) and the cursor as varints.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal, Protocol

from wfstore.domain import ExecutionContext
from wfstore.errors import InvalidArgumentError, WatchExpiredError

__all__ = ["Change", "ChangeFeed", "Cursor", "decode_token", "encode_token"]

Cursor = tuple[int, ...]
"""One position per part of a feed: everything up to there has been seen."""

_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change in a feed, and where it sits."""

    kind: Literal["saved", "deleted"]
    workflow_id: str
    version: int
    part: int
    position: int
    """The part's position just after this change: a cursor there has seen it."""


class ChangeFeed(Protocol):
    """A state backend's change log, as the watch hub reads it."""

    def head(self) -> Cursor:
        """Return the cursor after every change committed now."""
        ...

    def check(self, cursor: Cursor) -> None:
        """Raise WatchExpiredError if changes after ``cursor`` are no longer all kept."""
        ...

    def read(self, after: Cursor, limit: int) -> tuple[list[Change], Cursor]:
        """Return up to ``limit`` committed changes after ``after``, and the cursor past them.

        Each part's changes come in order. The cursor may move past positions that hold no
        change (a rolled-back write); it never moves past a change not yet returned.
        Raises WatchExpiredError if ``after`` is older than what is kept.
        """
        ...

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` s; return early when a change may have been committed."""
        ...

    def state_at(self, workflow_id: str, version: int) -> ExecutionContext | None:
        """Return the state stored under ``workflow_id`` if its version is still ``version``."""
        ...

    def encode(self, cursor: Cursor) -> str:
        """Return the opaque token of ``cursor``."""
        ...

    def decode(self, token: str) -> Cursor:
        """Return the cursor of ``token``; InvalidArgumentError or WatchExpiredError if unusable."""
        ...

    def close(self) -> None:
        """Release what the feed holds open; idempotent."""
        ...


def encode_token(backend: str, epoch: bytes, cursor: Cursor) -> str:
    """Return the token of ``cursor`` in the log of ``backend`` (one letter) and ``epoch``."""
    out = bytearray((_FORMAT, ord(backend), len(epoch)))
    out += epoch
    for position in cursor:
        value = position
        while value >= 0x80:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
    return base64.urlsafe_b64encode(bytes(out)).decode().rstrip("=")


def decode_token(token: str, backend: str, epoch: bytes, parts: int) -> Cursor:
    """Return the cursor ``token`` holds for this log; refuse anything else.

    A malformed token is InvalidArgumentError; a token of another log of the same kind (the
    directory or database was made again) is WatchExpiredError: its changes are gone.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidArgumentError("invalid resume_token: not a watch token") from None
    if len(raw) < 3 or raw[0] != _FORMAT or raw[1] != ord(backend):
        raise InvalidArgumentError("invalid resume_token: not a watch token of this store")
    size = raw[2]
    if bytes(raw[3 : 3 + size]) != epoch:
        raise WatchExpiredError(
            "resume_token is from another change log (the store was made again or is not the "
            "same one): list what is stored and watch anew"
        )
    cursor: list[int] = []
    value, shift = 0, 0
    for byte in raw[3 + size :]:
        value |= (byte & 0x7F) << shift
        shift += 7
        if shift > 63:
            raise InvalidArgumentError("invalid resume_token: a position out of range")
        if not byte & 0x80:
            cursor.append(value)
            value, shift = 0, 0
    if shift or len(cursor) != parts:
        raise InvalidArgumentError("invalid resume_token: not a watch token of this store")
    return tuple(cursor)

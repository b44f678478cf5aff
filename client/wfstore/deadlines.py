"""The deadline of the call being served, which stores respect (shared kernel).

The daemon sets it around each call from the gRPC deadline the caller sent; embedded users
may set it themselves (``with deadline_after(2.0): store.list(...)``). A store that can bound
its work (the PostgreSQL stores: ``statement_timeout`` and the wait for a pooled connection)
reads :func:`remaining_seconds` and fails with
:class:`~wfstore.errors.DeadlineExceededError` rather than working on for a caller that has
given up. Part of the kernel that the client and the daemon share: public and stable within
the ``wfstore`` distribution.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from typing import Final

from wfstore.errors import DeadlineExceededError

__all__ = ["check_deadline", "deadline_after", "remaining_seconds"]

_NO_DEADLINE_BEYOND: Final = 1e8  # gRPC reports "no deadline" as a very long time
_deadline: ContextVar[float | None] = ContextVar("wfstore_deadline", default=None)


class _DeadlineBlock:
    """The context manager :func:`deadline_after` returns (a class: cheaper than a generator)."""

    __slots__ = ("_seconds", "_token")

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._token: Token[float | None] | None = None

    def __enter__(self) -> None:
        seconds = self._seconds
        if seconds is None or seconds > _NO_DEADLINE_BEYOND:
            return
        deadline = time.monotonic() + max(0.0, seconds)
        outer = _deadline.get()
        self._token = _deadline.set(deadline if outer is None else min(outer, deadline))

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _deadline.reset(self._token)
            self._token = None


def deadline_after(seconds: float | None) -> AbstractContextManager[None]:
    """Run the block with a deadline ``seconds`` from now (None: no deadline).

    A deadline already set further out is tightened, never loosened.
    """
    return _DeadlineBlock(seconds)


def remaining_seconds() -> float | None:
    """Return the seconds left before the current deadline (0 if past), or None if none."""
    deadline = _deadline.get()
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def check_deadline(action: str) -> float | None:
    """Return :func:`remaining_seconds`; raise DeadlineExceededError if none are left."""
    left = remaining_seconds()
    if left is not None and left <= 0:
        raise DeadlineExceededError(f"{action}: the call's deadline has passed")
    return left

"""Exit codes, and the one line each failure prints (never a traceback)."""

from __future__ import annotations

from enum import IntEnum

from wfstore.errors import (
    AlreadyExistsError,
    ConflictError,
    DeadlineExceededError,
    InvalidArgumentError,
    StoreError,
    UnavailableError,
)

__all__ = ["CommandError", "Exit", "exit_for_error"]


class Exit(IntEnum):
    """What ``wfstore`` exits with (``wfstore health`` has its own, see ``health.py``)."""

    OK = 0
    NOT_FOUND = 1
    USAGE = 2
    UNAVAILABLE = 3
    CONFLICT = 4
    OTHER = 5


class CommandError(Exception):
    """A failure the command words itself; ``code`` is what the process exits with."""

    def __init__(self, message: str, code: Exit = Exit.OTHER) -> None:
        """Fail with the one-line ``message`` and exit ``code``."""
        super().__init__(message)
        self.message = message
        self.code = code


def exit_for_error(error: StoreError) -> Exit:
    """Return the exit code of a client error."""
    if isinstance(error, (UnavailableError, DeadlineExceededError)):
        return Exit.UNAVAILABLE
    if isinstance(error, (ConflictError, AlreadyExistsError)):
        return Exit.CONFLICT
    if isinstance(error, InvalidArgumentError):
        return Exit.USAGE
    return Exit.OTHER

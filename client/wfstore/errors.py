"""The errors wfstore raises, embedded or over the wire.

Every failure is a :class:`StoreError`. Where a built-in exception means the same thing, the
error also derives from it, so ``except ValueError`` or ``except TimeoutError`` keep working.
Errors carry only their message and pickle as themselves.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "DataCorruptedError",
    "DeadlineExceededError",
    "InvalidArgumentError",
    "StoreClosedError",
    "StoreError",
    "UnavailableError",
]


class StoreError(Exception):
    """Base class of every wfstore error."""

    def __init__(self, message: str) -> None:
        """Create the error with a message that says what went wrong and with what."""
        super().__init__(message)

    @property
    def message(self) -> str:
        """The message given when the error was raised."""
        return str(self.args[0]) if self.args else ""


class InvalidArgumentError(StoreError, ValueError):
    """An argument is malformed: a bad workflow id, naive datetime, filter or page token."""


class AlreadyExistsError(StoreError):
    """A history record with this id is already stored with different content."""


class DataCorruptedError(StoreError):
    """A stored document cannot be read back (empty, truncated, not JSON, or the wrong shape)."""


class StoreClosedError(StoreError):
    """The store, or this client handle on it, was closed."""


class UnavailableError(StoreError, ConnectionError):
    """The daemon cannot be reached or is shutting down; the call may succeed if retried."""


class DeadlineExceededError(StoreError, TimeoutError):
    """The call did not complete before its deadline."""

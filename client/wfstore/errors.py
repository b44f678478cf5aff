"""The errors wfstore raises, embedded or over the wire.

Every failure is a :class:`StoreError`. Where a built-in exception means the same thing, the
error also derives from it, so ``except ValueError`` or ``except TimeoutError`` keep working.
Errors carry their message (a :class:`ConflictError` also the id and the version stored now)
and pickle as themselves.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "ConflictError",
    "DataCorruptedError",
    "DeadlineExceededError",
    "InvalidArgumentError",
    "ResourceExhaustedError",
    "StoreClosedError",
    "StoreError",
    "UnauthenticatedError",
    "UnavailableError",
    "WatchExpiredError",
    "WatchLaggedError",
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


class ConflictError(StoreError):
    """A conditional save or delete found another version stored than the one expected.

    Nothing was changed. ``current_version`` is the version stored now, ``None`` when no
    state is stored under ``workflow_id``. Load the state again, reapply the change, retry.
    """

    def __init__(self, message: str, *, workflow_id: str, current_version: int | None) -> None:
        """Create the error for ``workflow_id``, whose stored version is ``current_version``."""
        super().__init__(message)
        self.workflow_id = workflow_id
        """The workflow id of the save or delete that failed."""
        self.current_version = current_version
        """The version stored now, or ``None`` when nothing is stored."""

    @classmethod
    def for_versions(cls, workflow_id: str, expected: int, current: int | None) -> ConflictError:
        """Return the error of a call that expected version ``expected`` and found ``current``."""
        wanted = "no stored state" if expected == 0 else f"version {expected}"
        found = "no stored state" if current is None else f"version {current}"
        return cls(
            f"state of {workflow_id!r}: expected {wanted}, found {found}",
            workflow_id=workflow_id,
            current_version=current,
        )

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle with the id and version (the default would pass the message alone)."""
        return (
            _conflict_error,
            (self.message, self.workflow_id, self.current_version),
        )


def _conflict_error(message: str, workflow_id: str, current_version: int | None) -> ConflictError:
    return ConflictError(message, workflow_id=workflow_id, current_version=current_version)


class DataCorruptedError(StoreError):
    """A stored document cannot be read back (empty, truncated, not JSON, or the wrong shape)."""


class StoreClosedError(StoreError):
    """The store, or this client handle on it, was closed."""


class UnavailableError(StoreError, ConnectionError):
    """The daemon or its storage cannot be used now; the call may succeed if retried.

    Raised when the daemon cannot be reached or is shutting down, and when the storage fails
    (a data directory made read-only or removed, an I/O error).
    """


class ResourceExhaustedError(StoreError):
    """A size limit was hit: the disk is full, a file size limit, or a message too large.

    Retrying the same call fails again until space is freed or the request is made smaller.
    """


class UnauthenticatedError(StoreError):
    """The daemon requires a token and the call carried none, or one it does not accept."""


class DeadlineExceededError(StoreError, TimeoutError):
    """The call did not complete before its deadline."""


class WatchExpiredError(StoreError):
    """A watch cannot resume from its token: the changes after it are no longer kept.

    List (or load) what is stored now and watch anew without a token, as after etcd's
    "compacted" or Kubernetes' "410 Gone". On the wire: OUT_OF_RANGE.
    """


class WatchLaggedError(UnavailableError):
    """A watcher read more slowly than changes arrived and was cut off to bound memory.

    Resuming from the last token it received misses nothing; the iterators do so themselves.
    On the wire: UNAVAILABLE.
    """

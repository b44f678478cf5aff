"""PostgreSQL's errors as the errors wfstore's callers handle, by SQLSTATE.

A lost connection, a server shutting down, a read-only standby or a pool with no connection
to give are :class:`~wfstore.errors.UnavailableError` (the client retries idempotent calls,
on another daemon if it has one); a full disk is :class:`~wfstore.errors.ResourceExhaustedError`;
a statement timeout is :class:`~wfstore.errors.DeadlineExceededError`. Serialization failures
and deadlocks never reach the caller: :func:`is_retryable` tells the adapter to run the
transaction again.
"""

from __future__ import annotations

from typing import Final

import psycopg
import psycopg_pool
from wfstore.errors import (
    DeadlineExceededError,
    ResourceExhaustedError,
    StoreError,
    UnavailableError,
)

__all__ = ["is_retryable", "translate_postgres_error"]

_RETRYABLE: Final = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_UNAVAILABLE_STATES: Final = frozenset(
    {
        "25006",  # read_only_sql_transaction: a standby, or a primary being demoted
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: starting up or in recovery
        "53300",  # too_many_connections
        "55P03",  # lock_not_available
    }
)
_NO_SPACE: Final = frozenset({"53100", "53200"})  # disk_full, out_of_memory


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is a serialization failure or deadlock: run the transaction again."""
    return isinstance(exc, psycopg.Error) and exc.sqlstate in _RETRYABLE


def translate_postgres_error(exc: BaseException, database: str, action: str) -> StoreError:
    """Return the wfstore error for a psycopg or pool error raised while doing ``action``."""
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return UnavailableError(
            f"database {database}: no connection could be had ({action}): {exc}"
        )
    state = getattr(exc, "sqlstate", None)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    what = f"{action}: {detail}" + (f" [SQLSTATE {state}]" if state else "")
    if state in _NO_SPACE:
        return ResourceExhaustedError(f"database {database}: out of space ({what})")
    if state == "57014":  # query_canceled: the statement timeout
        return DeadlineExceededError(
            f"database {database}: the statement ran past the call's deadline ({what})"
        )
    if (
        state is None
        or state.startswith("08")  # connection exceptions
        or state in _UNAVAILABLE_STATES
        or isinstance(exc, psycopg.OperationalError)
    ):
        return UnavailableError(f"database {database} is unavailable ({what})")
    return StoreError(f"database {database} failed ({what})")

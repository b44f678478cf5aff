"""wfstore: durable execution state and history for workflow engines.

The domain types and the two ports (:class:`StateStore`, :class:`HistoryStore`) are pure
Python. :class:`Client` implements both ports over gRPC against a ``wfstored`` daemon; the
``wfstored`` package implements them embedded, in-process.

The client and its options are imported on first use, so that embedded users of the
domain types and ports never load gRPC.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wfstore._retry import RetryPolicy
from wfstore._version import distribution_version
from wfstore.domain import (
    ConversationState,
    ExecutionContext,
    ExecutionRecord,
    ExecutionStatus,
    HistoryFilter,
    HistoryStats,
    JSONValue,
    LoopContext,
    Page,
    ServerInfo,
    StateEvent,
    StepState,
    StoredState,
    StoreInfo,
    Turn,
)
from wfstore.errors import (
    AlreadyExistsError,
    ConflictError,
    DataCorruptedError,
    DeadlineExceededError,
    InvalidArgumentError,
    ResourceExhaustedError,
    StoreClosedError,
    StoreError,
    UnauthenticatedError,
    UnavailableError,
    WatchExpiredError,
    WatchLaggedError,
)
from wfstore.ports import HistoryStore, StateStore, StateWatch
from wfstore.timestamps import Timestamp

if TYPE_CHECKING:
    from wfstore._client import DEFAULT_MAX_MESSAGE_BYTES, Client
    from wfstore._security import TLS

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "TLS",
    "AlreadyExistsError",
    "Client",
    "ConflictError",
    "ConversationState",
    "DataCorruptedError",
    "DeadlineExceededError",
    "ExecutionContext",
    "ExecutionRecord",
    "ExecutionStatus",
    "HistoryFilter",
    "HistoryStats",
    "HistoryStore",
    "InvalidArgumentError",
    "JSONValue",
    "LoopContext",
    "Page",
    "ResourceExhaustedError",
    "RetryPolicy",
    "ServerInfo",
    "StateEvent",
    "StateStore",
    "StateWatch",
    "StepState",
    "StoreClosedError",
    "StoreError",
    "StoreInfo",
    "StoredState",
    "Timestamp",
    "Turn",
    "UnauthenticatedError",
    "UnavailableError",
    "WatchExpiredError",
    "WatchLaggedError",
]

__version__: str = distribution_version()
"""The installed ``wfstore`` distribution's version (from its metadata)."""

_LAZY = {
    "Client": "wfstore._client",
    "DEFAULT_MAX_MESSAGE_BYTES": "wfstore._client",
    "TLS": "wfstore._security",
}


def __getattr__(name: str) -> Any:  # noqa: ANN401 (whatever the name is bound to)
    """Import the client's names (which need gRPC) when first used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wfstore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names, the lazily imported ones included."""
    return sorted({*globals(), *__all__})

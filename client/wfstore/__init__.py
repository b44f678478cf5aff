"""wfstore: durable execution state and history for workflow engines.

The domain types and the two ports (:class:`StateStore`, :class:`HistoryStore`) are pure
Python. :class:`Client` implements both ports over gRPC against a ``wfstored`` daemon; the
``wfstored`` package implements them embedded, in-process.
"""

from wfstore._client import DEFAULT_MAX_MESSAGE_BYTES, Client
from wfstore._retry import RetryPolicy
from wfstore._security import TLS
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
    StepState,
    Turn,
)
from wfstore.errors import (
    AlreadyExistsError,
    DataCorruptedError,
    DeadlineExceededError,
    InvalidArgumentError,
    ResourceExhaustedError,
    StoreClosedError,
    StoreError,
    UnauthenticatedError,
    UnavailableError,
)
from wfstore.ports import HistoryStore, StateStore
from wfstore.timestamps import Timestamp

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "TLS",
    "AlreadyExistsError",
    "Client",
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
    "StateStore",
    "StepState",
    "StoreClosedError",
    "StoreError",
    "Timestamp",
    "Turn",
    "UnauthenticatedError",
    "UnavailableError",
]

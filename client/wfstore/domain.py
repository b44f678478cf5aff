"""The domain types: plain dataclasses, compared by value, with no gRPC in sight.

Times are timezone-aware ``datetime`` values (see :mod:`wfstore.timestamps` for nanoseconds);
JSON values (inputs, responses, data, loop items) are ``None``, ``bool``, ``int``, ``float``,
``str``, ``list`` and ``dict`` with ``str`` keys. Part of the kernel that the client and the
daemon share: public and stable within the ``wfstore`` distribution (import the types from
:mod:`wfstore` itself in application code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from wfstore.ids import check_workflow_id
from wfstore.timestamps import utc_now

__all__ = [
    "ConversationState",
    "ExecutionContext",
    "ExecutionRecord",
    "ExecutionStatus",
    "HistoryFilter",
    "HistoryStats",
    "JSONValue",
    "LoopContext",
    "Page",
    "ServerInfo",
    "StateEvent",
    "StepState",
    "StoreInfo",
    "StoredState",
    "Turn",
]

T = TypeVar("T")
JSONValue = Any
"""Any JSON value: None, bool, int, float, str, list of JSON values, dict of str to JSON."""


class ExecutionStatus(StrEnum):
    """The status of a workflow run or step; the values are the strings awf writes."""

    UNSPECIFIED = ""
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(kw_only=True, slots=True)
class Turn:
    """One turn of a conversation with a model."""

    role: str = ""
    content: str = ""
    tokens: int = 0


@dataclass(kw_only=True, slots=True)
class ConversationState:
    """The conversation an agent step had with a model."""

    session_id: str = ""
    turns: list[Turn] = field(default_factory=list)
    total_turns: int = 0
    total_tokens: int = 0
    stopped_by: str = ""


@dataclass(kw_only=True, slots=True)
class LoopContext:
    """The position of a run inside a (possibly nested) loop."""

    item: JSONValue = None
    index: int = 0
    first: bool = False
    last: bool = False
    length: int = 0
    parent: LoopContext | None = None


@dataclass(kw_only=True, slots=True)
class StepState:
    """The state of one step of a workflow run."""

    name: str = ""
    status: ExecutionStatus = ExecutionStatus.UNSPECIFIED
    output: str = ""
    stderr: str = ""
    exit_code: int = 0
    attempt: int = 0
    error: str = ""
    started_at: datetime | None = None
    completed_at: datetime | None = None
    response: dict[str, JSONValue] | None = None
    json: JSONValue = None
    conversation: ConversationState | None = None
    tokens_used: int = 0
    tokens_input: int = 0
    tokens_output: int = 0
    tokens_estimated: bool = False
    output_path: str = ""
    stderr_path: str = ""
    truncated: bool = False
    data: dict[str, JSONValue] | None = None


@dataclass(kw_only=True, slots=True)
class ExecutionContext:
    """The full live state of one workflow run, saved and loaded as a whole."""

    workflow_id: str
    workflow_name: str = ""
    parent_run_id: str = ""
    status: ExecutionStatus = ExecutionStatus.PENDING
    current_step: str = ""
    exit_code: int = 0
    inputs: dict[str, JSONValue] = field(default_factory=dict)
    states: dict[str, StepState] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    started_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    current_loop: LoopContext | None = None
    call_stack: list[str] = field(default_factory=list)

    @classmethod
    def new(cls, workflow_id: str, workflow_name: str) -> ExecutionContext:
        """Return the state of a run that has just been created: pending, started now."""
        check_workflow_id(workflow_id)
        now = utc_now()
        return cls(
            workflow_id=workflow_id, workflow_name=workflow_name, started_at=now, updated_at=now
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredState:
    """A stored state and its version, read together (see :meth:`StateStore.get`)."""

    state: ExecutionContext
    version: int
    """Grows with every save of the workflow id; never the same for two different saves."""


@dataclass(frozen=True, kw_only=True, slots=True)
class StateEvent:
    """One change to a stored state, as a watch delivers it (see :meth:`StateStore.watch`)."""

    kind: Literal["saved", "deleted"]
    workflow_id: str
    version: int
    """The version the change gave the id: a save's returned version; a delete's is one more
    than the version it removed."""
    state: ExecutionContext | None
    """The state saved at ``version``; None for deletes and for watches that asked for ids only,
    and it may be None when a later save replaced it before the event was read (an event for
    that later version follows)."""
    resume_token: str
    """Watch with this token to see the changes after this one, on any daemon."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ExecutionRecord:
    """One finished workflow run, as kept in the history."""

    id: str
    workflow_id: str = ""
    workflow_name: str = ""
    status: str = ""
    exit_code: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: int = 0
    error_message: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class HistoryFilter:
    """Selects history records; empty fields match everything.

    ``since`` and ``until`` are inclusive bounds on ``completed_at``. ``limit`` caps how many
    records ``list`` returns (0 means 20); ``get_stats`` ignores it.
    """

    workflow_name: str = ""
    status: str = ""
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class HistoryStats:
    """Aggregates over the history records that match a filter."""

    total_executions: int = 0
    success_count: int = 0
    failed_count: int = 0
    cancelled_count: int = 0
    avg_duration_ms: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class Page(Generic[T]):
    """One page of a listing and the opaque token of the next (empty on the last page)."""

    items: list[T]
    next_page_token: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class StoreInfo:
    """One store of a daemon and what it holds (see ``wfstore.v1.StoreInfo``)."""

    role: str
    """What it keeps: ``"state"`` or ``"history"``."""
    backend: str
    """``"files"``, ``"sqlite"`` or ``"postgres"``."""
    location: str
    """A directory or file path, or a database URL without its password."""
    item_count: int | None = None
    """Stored states or history records; None when not known (see ``error``)."""
    size_bytes: int | None = None
    """Bytes on disk; None when not known (see ``error``)."""
    error: str = ""
    """Why a figure is None: the store could not be read or counted in time."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerInfo:
    """What a running daemon is and holds (``Client.server_info()``)."""

    version: str
    """The daemon's version, as ``wfstored --version`` prints it."""
    started_at: datetime
    """When the daemon process started."""
    uptime: timedelta
    """How long it has been running (its monotonic clock)."""
    listeners: list[str]
    """The addresses it listens on."""
    stores: list[StoreInfo]
    """Its state store, then its history store."""
    hostname: str
    """The host name of its machine."""
    pid: int
    """Its process id."""
    open_watches: int
    """How many Watch streams are open now."""

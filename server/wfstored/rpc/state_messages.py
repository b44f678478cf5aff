"""The states of watch events as messages, made once for every watcher of a daemon.

A change watched by a hundred streams carries the same state to each; turning a state into a
message is Python work that grows with the state, so it is done once per (id, version) and the
message is copied (in the protobuf runtime) into each stream's reply. The newest
:data:`CACHED_MESSAGES` are kept.
"""

from __future__ import annotations

import collections
import threading
from typing import Final

from wfstore import wire
from wfstore.domain import StateEvent
from wfstore.v1 import state_pb2

__all__ = ["CACHED_MESSAGES", "StateMessages"]

CACHED_MESSAGES: Final = 256
"""How many state messages a daemon keeps for its watch streams."""


class StateMessages:
    """A small shared cache: (workflow id, version) -> the state as a message."""

    def __init__(self, size: int = CACHED_MESSAGES) -> None:
        """Keep the newest ``size`` messages."""
        self._size = size
        self._messages: collections.OrderedDict[tuple[str, int], state_pb2.ExecutionContext] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def reply(self, events: list[StateEvent], token: str) -> state_pb2.StateServiceWatchResponse:
        """Return the Watch reply that carries ``events`` and ends at ``token``."""
        return state_pb2.StateServiceWatchResponse(
            events=[wire.event_to_proto(event, self._message(event)) for event in events],
            resume_token=token,
        )

    def _message(self, event: StateEvent) -> state_pb2.ExecutionContext | None:
        if event.state is None:
            return None
        key = (event.workflow_id, event.version)
        with self._lock:
            message = self._messages.get(key)
            if message is None:
                message = wire.context_to_proto(event.state)
                self._messages[key] = message
                if len(self._messages) > self._size:
                    self._messages.popitem(last=False)
            return message

"""The public names are pinned: changing the API must be a deliberate edit of this file."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest
import wfstore
import wfstore.aio
import wfstore.errors
import wfstored


def test_wfstore_exports() -> None:
    assert wfstore.__all__ == [
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
    for name in wfstore.__all__:
        assert getattr(wfstore, name) is not None


def test_wfstore_aio_exports() -> None:
    assert wfstore.aio.__all__ == ["AsyncHistoryStore", "AsyncStateStore", "Client"]


def test_wfstored_exports() -> None:
    assert wfstored.__all__ == [
        "JSONStateStore",
        "JSONStore",
        "SQLiteHistoryStore",
        "StoreURLError",
        "main",
        "open_history_store",
        "open_state_store",
    ]
    assert wfstored.JSONStore is wfstored.JSONStateStore


def test_the_client_package_never_imports_the_server() -> None:
    code = "import sys, wfstore; sys.exit(any(m.startswith('wfstored') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0


@pytest.mark.parametrize("name", wfstore.errors.__all__)
def test_errors_pickle_and_are_store_errors(name: str) -> None:
    cls = getattr(wfstore.errors, name)
    error = cls("what went wrong")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert type(copy) is cls
    assert copy.message == "what went wrong"
    assert isinstance(copy, wfstore.StoreError)


def test_errors_subclass_the_matching_builtins() -> None:
    assert issubclass(wfstore.InvalidArgumentError, ValueError)
    assert issubclass(wfstore.DeadlineExceededError, TimeoutError)
    assert issubclass(wfstore.UnavailableError, ConnectionError)

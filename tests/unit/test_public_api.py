"""The public names are pinned: changing the API must be a deliberate edit of this file."""

from __future__ import annotations

import importlib
import importlib.metadata
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
    for name in wfstore.__all__:
        assert getattr(wfstore, name) is not None


def test_wfstore_version_is_the_distributions() -> None:
    # A dunder, so not in __all__ (``from wfstore import *`` should not bind it).
    assert wfstore.__version__ == importlib.metadata.version("wfstore")
    assert "__version__" not in wfstore.__all__


def test_wfstore_aio_exports() -> None:
    assert wfstore.aio.__all__ == ["AsyncHistoryStore", "AsyncStateStore", "Client"]


def test_wfstored_exports() -> None:
    assert wfstored.__all__ == [
        "JSONStateStore",
        "JSONStore",
        "PostgresHistoryStore",
        "PostgresStateStore",
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
    if cls is wfstore.ConflictError:
        error = cls("what went wrong", workflow_id="run-1", current_version=None)
    else:
        error = cls("what went wrong")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert type(copy) is cls
    assert copy.message == "what went wrong"
    assert vars(copy) == vars(error)
    assert isinstance(copy, wfstore.StoreError)


def test_errors_subclass_the_matching_builtins() -> None:
    assert issubclass(wfstore.InvalidArgumentError, ValueError)
    assert issubclass(wfstore.DeadlineExceededError, TimeoutError)
    assert issubclass(wfstore.UnavailableError, ConnectionError)


KERNEL = {
    "deadlines": ["check_deadline", "deadline_after", "remaining_seconds"],
    "domain": ["ConversationState", "ExecutionContext", "ExecutionRecord", "ExecutionStatus",
               "HistoryFilter", "HistoryStats", "JSONValue", "LoopContext", "Page", "ServerInfo",
               "StateEvent", "StepState", "StoreInfo", "StoredState", "Turn"],
    "errors": ["AlreadyExistsError", "ConflictError", "DataCorruptedError", "DeadlineExceededError",
               "InvalidArgumentError", "ResourceExhaustedError", "StoreClosedError",
               "StoreError", "UnauthenticatedError", "UnavailableError", "WatchExpiredError",
               "WatchLaggedError"],
    "ids": ["MAX_ID_BYTES", "check_record_id", "check_workflow_id", "utf8_bytes"],
    "ports": ["HistoryStore", "StateStore", "StateWatch"],
    "status": ["DETAILS_KEY", "conflict_details", "conflict_from_metadata", "error_for_status",
               "status_for_error"],
    "timestamps": ["NANOS_PER_MICRO", "NANOS_PER_SECOND", "Timestamp", "from_unix_nanos",
                   "to_unix_nanos", "utc_now", "with_nanosecond"],
    "transport": ["TOKEN_PATTERN", "is_loopback_host"],
    "validation": ["INT32_RANGE", "INT64_RANGE", "MAX_BATCH_RECORDS", "MAX_ID_BYTES",
                   "MAX_JSON_DEPTH", "MAX_LOOP_DEPTH", "MAX_SAFE_INTEGER", "NestedValueError",
                   "check_context", "check_datetime", "check_duration", "check_expected_version",
                   "check_filter",
                   "check_json", "check_page_size", "check_record", "check_record_id",
                   "check_records", "check_watch_selector", "check_workflow_id",
                   "filter_or_default", "normalize_json"],
    "wire": ["context_from_proto", "context_to_proto", "duration_from_proto", "duration_to_proto",
             "event_from_proto", "event_to_proto", "filter_from_proto", "filter_to_proto",
             "record_from_proto", "record_to_proto", "server_info_from_proto",
             "server_info_to_proto", "stats_from_proto", "stats_to_proto"],
}  # fmt: skip
"""The kernel the client and the daemon share: public modules, stable within the distribution."""


@pytest.mark.parametrize("module", sorted(KERNEL))
def test_the_shared_kernel_is_public_and_pinned(module: str) -> None:
    kernel = importlib.import_module(f"wfstore.{module}")
    assert kernel.__all__ == KERNEL[module]
    assert kernel.__doc__ is not None
    for name in kernel.__all__:
        assert getattr(kernel, name) is not None


def test_the_embedded_adapters_load_no_grpc() -> None:
    code = (
        "import sys, wfstored; wfstored.SQLiteHistoryStore; wfstored.JSONStateStore; "
        "sys.exit('grpc' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0

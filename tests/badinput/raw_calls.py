"""A generic gRPC caller (bytes in, bytes out) and a check of what the daemon left on disk."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.message import Message
from wfstore.errors import InvalidArgumentError
from wfstore.v1 import history_pb2, state_pb2
from wfstore.validation import check_workflow_id

SERVICES = (
    state_pb2.DESCRIPTOR.services_by_name["StateService"],
    history_pb2.DESCRIPTOR.services_by_name["HistoryService"],
)
METHODS = tuple(f"/{s.full_name}/{m.name}" for s in SERVICES for m in s.methods)
"""Every method of both services, as gRPC paths."""
STREAMING = frozenset(
    f"/{s.full_name}/{m.name}" for s in SERVICES for m in s.methods if m.server_streaming
)
"""The server-streaming methods: their first reply (or failure) is the answer."""


@dataclass(frozen=True)
class Answer:
    """What the daemon answered: a status code, its details, and the reply bytes if OK."""

    code: grpc.StatusCode
    details: str
    reply: bytes | None = None


def identity(data: bytes) -> bytes:
    """Serialize or deserialize nothing: the bytes go and come as they are."""
    return data


def call(channel: grpc.Channel, method: str, request: bytes | Message) -> Answer:
    """Send ``request`` (raw bytes, or a message to serialize) to ``method``."""
    data = request if isinstance(request, bytes) else request.SerializeToString()
    try:
        if method in STREAMING:
            stream = channel.unary_stream(
                method, request_serializer=identity, response_deserializer=identity
            )
            replies = stream(data, timeout=30)
            reply = next(replies)
            replies.cancel()
        else:
            stub = channel.unary_unary(
                method, request_serializer=identity, response_deserializer=identity
            )
            reply = stub(data, timeout=30)
    except grpc.RpcError as exc:
        failed: grpc.Call = exc  # type: ignore[assignment]  # every RpcError of a call is one
        return Answer(failed.code(), failed.details() or "")
    return Answer(grpc.StatusCode.OK, "", reply)


def big_channel(target: str) -> grpc.Channel:
    """A channel whose own limits never get in the way of what a test sends or receives."""
    limit = 256 * 1024 * 1024
    options = [("grpc.max_send_message_length", limit), ("grpc.max_receive_message_length", limit)]
    return grpc.insecure_channel(target, options=options)


_DATA_FILES = re.compile(r"history\.db(-wal|-shm|-journal)?")
_LOCK_FILE = re.compile(r"[0-9]{1,2}\.lock")
_CHANGE_LOG_FILE = re.compile(r"epoch|[0-9]{1,2}-[0-9a-f]{16}\.log")


def unexpected_files(data_dir: Path) -> list[str]:
    """Return every path under ``data_dir``, and beside it, that the daemon had no business making.

    Expected: ``history.db`` (and its WAL files), ``state/<valid id>.json``, the stripes'
    lock files in ``state/.wfstore-locks/`` and the change log in ``state/.wfstore-changes/``;
    nothing beside ``data_dir`` in its parent.
    """
    found = [p.name for p in data_dir.parent.iterdir() if p != data_dir]
    known_dirs = {
        data_dir / "state",
        data_dir / "state" / ".wfstore-locks",
        data_dir / "state" / ".wfstore-changes",
    }
    for root, dirs, files in os.walk(data_dir):
        here = Path(root)
        found.extend(str(here / name) for name in dirs if here / name not in known_dirs)
        found.extend(str(here / n) for n in files if not _expected_file(data_dir, here, n))
    return found


def _expected_file(data_dir: Path, here: Path, name: str) -> bool:
    if here == data_dir:
        return _DATA_FILES.fullmatch(name) is not None
    if here == data_dir / "state" / ".wfstore-changes":
        return _CHANGE_LOG_FILE.fullmatch(name) is not None
    if here == data_dir / "state" / ".wfstore-locks":
        return _LOCK_FILE.fullmatch(name) is not None and int(name.removesuffix(".lock")) < 64
    if here != data_dir / "state" or not name.endswith(".json"):
        return False
    try:
        check_workflow_id(name.removesuffix(".json"))
    except InvalidArgumentError:
        return False
    return True

"""The rules for workflow and record ids, which every store applies (shared kernel).

Kept apart from :mod:`wfstore.validation` so that the domain types can check an id without
importing the validation of whole states (which imports the domain types). Part of the kernel
that the client and the daemon share: public and stable within the ``wfstore`` distribution.
"""

from __future__ import annotations

from wfstore.errors import InvalidArgumentError

__all__ = ["MAX_ID_BYTES", "check_record_id", "check_workflow_id", "utf8_bytes"]

MAX_ID_BYTES = 250
"""Longest workflow or record id, in UTF-8 bytes: ``<id>.json`` must fit a file name."""


def check_workflow_id(workflow_id: object) -> None:
    """Reject a workflow id that is not a valid file-name stem (see the proto for the rules)."""
    _check_id("workflow id", workflow_id)
    assert isinstance(workflow_id, str)  # noqa: S101 (narrowing for the type checker)
    if any(ord(c) < 0x20 or c in "/\\\x7f" for c in workflow_id):
        raise InvalidArgumentError(
            f"invalid workflow id {workflow_id!r}: it must not contain '/', '\\', "
            "control characters or DEL"
        )
    if workflow_id in {".", ".."}:
        raise InvalidArgumentError(
            f"invalid workflow id {workflow_id!r}: '.' and '..' are reserved"
        )


def check_record_id(record_id: object) -> None:
    """Reject a history record id that is empty, over 250 UTF-8 bytes, or not text."""
    _check_id("record id", record_id)


def _check_id(what: str, value: object) -> None:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"invalid {what}: expected str, got {type(value).__name__}")
    if not value:
        raise InvalidArgumentError(f"invalid {what}: it must not be empty")
    size = len(utf8_bytes(what, value))
    if size > MAX_ID_BYTES:
        raise InvalidArgumentError(
            f"invalid {what} {value[:40]!r}...: {size} UTF-8 bytes, the limit is {MAX_ID_BYTES}"
        )


def utf8_bytes(path: str, value: str) -> bytes:
    """Return ``value`` as UTF-8; InvalidArgumentError naming ``path`` if it cannot be encoded.

    Python strings may hold lone surrogates, which no file, database or wire format can carry.
    """
    try:
        return value.encode()
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(f"{path}: not valid Unicode text ({exc.reason})") from None

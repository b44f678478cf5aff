"""Opaque page tokens (AIP-158) shared by the adapters.

A token is URL-safe base64 of a small JSON object: the position to resume after, and a digest
of the request parameters it was issued for, so that a token replayed with another filter is
rejected instead of silently listing the wrong records.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from wfstore.errors import InvalidArgumentError

__all__ = ["decode_page_token", "encode_page_token", "page_size_or_default"]

_VERSION = 1


def _digest(binding: str) -> str:
    return hashlib.sha256(binding.encode()).hexdigest()[:16]


def encode_page_token(position: dict[str, Any], binding: str) -> str:
    """Return an opaque token that resumes a listing at ``position`` for ``binding``."""
    payload = {"v": _VERSION, "b": _digest(binding), "p": position}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: object, binding: str) -> dict[str, Any] | None:
    """Return the position held in ``token`` (None for "", the first page).

    Reject anything that is not a token issued for ``binding``.
    """
    if not isinstance(token, str):
        raise InvalidArgumentError(
            f"invalid page_token: expected a str, got {type(token).__name__}"
        )
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        # A forged token may carry lone surrogates (JSON escapes such as \ud800), which
        # neither SQLite nor gRPC can encode: refuse them here, as UnicodeEncodeError.
        json.dumps(payload, ensure_ascii=False).encode()
    except (binascii.Error, ValueError, RecursionError):  # RecursionError: "[[[[..."
        raise InvalidArgumentError("invalid page_token: not a token this service issued") from None
    if (
        not isinstance(payload, dict)
        or payload.get("v") != _VERSION
        or not isinstance(payload.get("p"), dict)
    ):
        raise InvalidArgumentError("invalid page_token: not a token this service issued")
    if payload.get("b") != _digest(binding):
        raise InvalidArgumentError(
            "invalid page_token: it was issued for a different request (filter changed)"
        )
    position: dict[str, Any] = payload["p"]
    return position


def page_size_or_default(page_size: int, default: int, maximum: int) -> int:
    """Return the page size to use: ``default`` for 0, at most ``maximum``."""
    return default if page_size == 0 else min(page_size, maximum)

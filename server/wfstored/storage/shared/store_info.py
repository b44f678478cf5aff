"""What a store holds, measured within a time budget and never raising (``describe()``).

Every store's ``describe()`` goes through :func:`measured`: the backend supplies how to count
its items and size its files or tables before a deadline; a failure, or running out of time,
becomes the :class:`~wfstore.StoreInfo`'s ``error`` with its figures unset.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from wfstore.domain import StoreInfo
from wfstore.errors import StoreError

__all__ = ["DESCRIBE_SECONDS", "Deadline", "OutOfTimeError", "directory_size", "measured"]

_log = logging.getLogger("wfstored.storage")

DESCRIBE_SECONDS: Final = 2.0
"""How long ``describe()`` may spend counting, unless told otherwise."""


class OutOfTimeError(Exception):
    """The measurement ran past its deadline; the message says how far it got."""


class Deadline:
    """A point in monotonic time that a measurement checks as it goes."""

    def __init__(self, seconds: float) -> None:
        """Expire ``seconds`` from now."""
        self.seconds = seconds
        self._at = time.monotonic() + seconds

    def left(self) -> float:
        """Return the seconds left (0 once past)."""
        return max(0.0, self._at - time.monotonic())

    def check(self, progress: str) -> None:
        """Raise :class:`OutOfTimeError` naming ``progress`` once the deadline has passed."""
        if time.monotonic() >= self._at:
            raise OutOfTimeError(f"not counted within {self.seconds:g}s ({progress})")


def measured(
    info: StoreInfo, measure: Callable[[Deadline], tuple[int, int]], seconds: float
) -> StoreInfo:
    """Return ``info`` with the (items, bytes) ``measure`` finds within ``seconds``.

    Never raises: an error of the store, of the operating system or of the deadline is put in
    ``error`` (anything else is logged with its traceback, and named only by its type).
    """
    try:
        count, size = measure(Deadline(seconds))
    except OutOfTimeError as exc:
        return _failed(info, str(exc))
    except StoreError as exc:
        return _failed(info, exc.message)
    except OSError as exc:
        return _failed(info, f"{exc.strerror or exc}: {exc.filename or info.location}")
    except Exception as exc:  # noqa: BLE001 (describe() never raises; the log has the trace)
        _log.exception("describing the %s store %s failed", info.role, info.location)
        return _failed(info, f"could not be measured ({type(exc).__name__})")
    return StoreInfo(
        role=info.role,
        backend=info.backend,
        location=info.location,
        item_count=count,
        size_bytes=size,
    )


def _failed(info: StoreInfo, error: str) -> StoreInfo:
    return StoreInfo(role=info.role, backend=info.backend, location=info.location, error=error)


def directory_size(
    directory: Path, deadline: Deadline, *, count: Callable[[os.DirEntry[str]], bool]
) -> tuple[int, int]:
    """Return (top-level entries ``count`` accepts, bytes of every regular file in the tree).

    Walks ``directory`` and its subdirectories without following links, checking
    ``deadline`` every 1024 entries.
    """
    items = size = seen = 0
    pending = [directory]
    top = True
    while pending:
        with os.scandir(pending.pop()) as scan:
            for entry in scan:
                seen += 1
                if not seen % 1024:
                    deadline.check(f"{seen} files seen")
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    size += entry.stat(follow_symlinks=False).st_size
                    if top and count(entry):
                        items += 1
        top = False
    return items, size

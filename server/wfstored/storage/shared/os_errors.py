"""Turn the operating system's storage failures into the errors wfstore's callers handle.

A full disk or a file size limit is :class:`~wfstore.errors.ResourceExhaustedError` (retrying
the same call fails again until space is freed); anything else the file system refuses (a
read-only or removed directory, a permission, an I/O error) is
:class:`~wfstore.errors.UnavailableError`, which callers may retry once it is fixed. The
message names what was being done and the path, never just "internal error".
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from wfstore.errors import ResourceExhaustedError, StoreError, UnavailableError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["storage_error", "translate_os_errors"]

_NO_SPACE: Final = frozenset({errno.ENOSPC, errno.EDQUOT})


def storage_error(exc: OSError, action: str) -> StoreError:
    """Return the wfstore error for ``exc``, raised while doing ``action`` (e.g. "saving 'x'")."""
    reason = exc.strerror or type(exc).__name__
    where = f" ({os.fsdecode(exc.filename)})" if exc.filename is not None else ""
    if exc.errno in _NO_SPACE:
        return ResourceExhaustedError(f"{action}: {reason}{where}; free space and retry")
    if exc.errno == errno.EFBIG:
        return ResourceExhaustedError(
            f"{action}: {reason}{where}; the file would exceed the file size limit "
            "(ulimit -f) or the file system's largest file"
        )
    if exc.errno == errno.ENOENT:
        return UnavailableError(
            f"{action}: {reason}{where}; was the data directory removed while in use? "
            "Restore or recreate it, then retry"
        )
    return UnavailableError(f"{action}: {reason}{where}")


@contextmanager
def translate_os_errors(action: str) -> Iterator[None]:
    """Raise :func:`storage_error` of any ``OSError`` raised inside the block."""
    try:
        yield
    except OSError as exc:
        raise storage_error(exc, action) from exc

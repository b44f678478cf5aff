"""One fsync for many waiters: a group commit of a directory's renames and unlinks.

A writer that renamed or unlinked a file in a directory needs an fsync of the directory that
*started after* its change. When threads change the same directory at once, one fsync started
after all of their changes serves all of them. :class:`SharedFsync` hands out fsyncs so: a
caller either starts one itself (when none is running) or waits for the next one to start and
finish, and gets its outcome. A lone caller pays nothing but a lock; what an acknowledged
change means is unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["SharedFsync"]


class SharedFsync:
    """Runs ``sync`` for callers, merging the calls that arrive while one runs."""

    def __init__(self, sync: Callable[[], None]) -> None:
        """Share ``sync`` (an fsync of one directory, say) between concurrent callers."""
        self._sync = sync
        self._cond = threading.Condition(threading.Lock())
        self._started = 0  # the generation of the newest sync started
        self._finished = 0  # the generation of the newest sync finished
        self._running = False
        self._error: BaseException | None = None  # what the newest finished sync raised
        self.syncs = 0
        """How many times ``sync`` ran (for tests and benchmarks)."""

    def __call__(self) -> None:
        """Return once a ``sync`` that started after this call began has finished.

        Raises what that ``sync`` raised.
        """
        with self._cond:
            wanted = self._started + 1  # one running now may have started before our change
            while self._finished < wanted:
                if not self._running:
                    self._running = True
                    self._started += 1
                    generation = self._started
                    break
                self._cond.wait()
            else:
                if self._error is not None:
                    raise _copy_of(self._error)
                return
        error: BaseException | None = None
        try:
            self._sync()
        except BaseException as exc:
            error = exc
            raise
        finally:
            with self._cond:
                self.syncs += 1
                self._running = False
                self._finished = generation
                self._error = error
                self._cond.notify_all()


def _copy_of(error: BaseException) -> BaseException:
    """Return an exception like ``error`` for one more waiter (each gets its own traceback)."""
    if isinstance(error, OSError):
        return OSError(error.errno, error.strerror, error.filename)
    return error

"""A StateStore that keeps each execution state in ``<directory>/<workflow id>.json``.

The files are awf's own state files (see :mod:`wfstore.awf_state`), so awf
and wfstored can share a state directory.

Writes are atomic and durable: the state goes to a unique temp file in the same directory
(``.wfstore-<stripe>-<random>.tmp``, mode 0600), which is fsynced, renamed onto the target and
followed by an fsync of the directory (started after the rename; concurrent writers share
one, see :mod:`wfstored.storage.shared.shared_fsync`). Readers therefore see the old state or
the new one, never a mix, and need no lock. Each file carries its version as its last key (see
:mod:`wfstored.storage.files.versions`).

Writers and deleters of one id are serialized across threads and processes by a striped lock:
the id's stripe is ``crc32(id) % 64`` and each stripe is a ``threading.Lock`` plus an
``flock`` on ``.wfstore-locks/<stripe>.lock`` (see :mod:`wfstored.storage.files.file_lock`).
A writer holds its stripe's lock for the whole life of its temp file, so a temp file that
exists while its stripe is locked was left by a writer that crashed; those are removed the
first time a store uses the directory.

The directory is created on first use. If it disappears later (removed while in use), calls
fail with :class:`~wfstore.errors.UnavailableError` until it is restored or recreated, rather
than answering "no state" for every id; a full disk or file size limit gives
:class:`~wfstore.errors.ResourceExhaustedError` and leaves the previous state in place.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import os
import re
import secrets
import stat
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

from wfstore.awf_state import decode_state, encode_state
from wfstore.domain import ExecutionContext, Page, StoredState, StoreInfo
from wfstore.errors import (
    ConflictError,
    DataCorruptedError,
    InvalidArgumentError,
    StoreClosedError,
)
from wfstore.validation import (
    check_context,
    check_expected_version,
    check_page_size,
    check_workflow_id,
)

from wfstored.storage.files.change_feed import POLL_SECONDS, FileChangeFeed
from wfstored.storage.files.change_log import ChangeLog, Intent
from wfstored.storage.files.file_lock import FileLock
from wfstored.storage.files.live_listing import LiveListing
from wfstored.storage.files.versions import TAIL_BYTES, next_version, stamp, version_of
from wfstored.storage.shared.os_errors import translate_os_errors
from wfstored.storage.shared.private_files import FILE_MODE, fsync_dir, make_private_dirs, open_fd
from wfstored.storage.shared.projection_cache import DEFAULT_CACHE_BYTES, ProjectionCache
from wfstored.storage.shared.shared_fsync import SharedFsync
from wfstored.storage.shared.state_pages import page_of_ids, resume_after, state_page_size
from wfstored.storage.shared.store_info import (
    DESCRIBE_SECONDS,
    directory_size,
    measured,
)
from wfstored.storage.shared.watch_hub import Watcher, WatchHub

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["LOCK_DIR_NAME", "STRIPES", "JSONStateStore", "JSONStore", "stripe_of"]

STRIPES: Final = 64
"""How many locks the ids share; an id's stripe is ``zlib.crc32(id) % STRIPES``."""
LOCK_DIR_NAME: Final = ".wfstore-locks"
"""The directory, inside the state directory, that holds the stripes' lock files."""

_SUFFIX: Final = ".json"
_PLAIN_STATE_NAME: Final = re.compile(r"[A-Za-z0-9_.: -]{1,250}\.json", re.ASCII)
_DOT_NAMES: Final = frozenset({"..json", "...json"})
_SETTLED_NANOS: Final = 2_000_000_000
_TEMP_NAME: Final = re.compile(r"\.wfstore-(\d+)-.+\.tmp", re.ASCII | re.DOTALL)
_O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_READ_FLAGS: Final = os.O_RDONLY | os.O_NONBLOCK | _O_NOFOLLOW
T = TypeVar("T")


def stripe_of(workflow_id: str) -> int:
    """Return the lock stripe of ``workflow_id``; the same in every process."""
    return zlib.crc32(workflow_id.encode()) % STRIPES


@dataclass(frozen=True, slots=True)
class _Stripe:
    """The lock of one stripe: threads of this process first, then other processes."""

    threads: threading.Lock
    processes: FileLock


class JSONStateStore:
    """Keeps one awf state file per workflow id in a directory; thread- and process-safe."""

    def __init__(
        self, directory: str | os.PathLike[str], *, cache_bytes: int = DEFAULT_CACHE_BYTES
    ) -> None:
        """Use ``directory`` (created with mode 0700 on first use) for the state files.

        ``cache_bytes`` bounds what :meth:`get_projected` keeps (0: nothing).
        """
        self._dir = Path(directory)
        self._dir_prefix = f"{self._dir}{os.sep}"
        self._projections: ProjectionCache[object] = ProjectionCache(cache_bytes)
        self._lock_dir = self._dir / LOCK_DIR_NAME
        self._dir_fsync = SharedFsync(lambda: fsync_dir(self._dir))
        self._guard = threading.Lock()  # the one-time creation and sweep
        self._stripes_guard = threading.Lock()
        self._stripes: dict[int, _Stripe] = {}
        self._ready = False
        self._closed = False
        self._listing: tuple[tuple[int, int, int], tuple[str, ...]] | None = None
        self._live = LiveListing(self._dir, _SUFFIX, _is_listed_id)
        self._log = ChangeLog(self._dir)
        self._epoch = b""
        self._hub: WatchHub | None = None

    # --- The StateStore port -------------------------------------------------------------------

    def save(self, state: ExecutionContext, *, expected_version: int | None = None) -> int:
        """Store ``state`` durably and atomically under its workflow id; return its version.

        With ``expected_version`` (0: nothing stored), only if the stored version is that
        one; otherwise :class:`~wfstore.errors.ConflictError` and nothing changes. The check
        and the write hold the id's lock, against other threads and processes alike.
        """
        self._check_open()
        check_context(state)
        check_expected_version(expected_version)
        document = encode_state(state)
        workflow_id = state.workflow_id
        with translate_os_errors(f"saving the state of {workflow_id!r} in {self._dir}"):
            self._ensure_dir()
            index = stripe_of(workflow_id)
            with self._locked(index), _no_directory(workflow_id, "saved"):
                current = self._version(workflow_id)
                if expected_version is not None and expected_version != (current or 0):
                    raise ConflictError.for_versions(workflow_id, expected_version, current)
                version = next_version(current)
                self._log.begin(index, Intent("saved", version, workflow_id), self._version)
                with self._settled_on_error(index):
                    self._replace(self._file_name(workflow_id), stamp(document, version), index)
                self._log.end(index, done=True)
        return version

    def load(self, workflow_id: str) -> ExecutionContext | None:
        """Return the state stored under ``workflow_id``, or None if there is none.

        Raises :class:`~wfstore.errors.DataCorruptedError` when the file cannot be read back.
        """
        stored = self.get(workflow_id)
        return None if stored is None else stored.state

    def get(self, workflow_id: str) -> StoredState | None:
        """Return the state stored under ``workflow_id`` and its version, or None.

        Both come from one read of one file. Raises
        :class:`~wfstore.errors.DataCorruptedError` when the file cannot be read back.
        """
        read = self._read_for_load(workflow_id)
        return None if read is None else _stored(*read, workflow_id)

    def get_projected(self, workflow_id: str, project: Callable[[StoredState], T]) -> T | None:
        """Return ``project`` of what :meth:`get` returns, or None if nothing is stored.

        For a reader that only reads the value (the daemon's Load turns it into its reply):
        the value may be one ``project`` made before from byte-identical file contents (see
        :class:`~wfstored.storage.shared.projection_cache.ProjectionCache`). The file is read
        on every call, so the value is never stale; what is saved is decoding, validating and
        projecting. ``project`` must depend on nothing but the stored state, and be the same
        object on every call (a module-level function).
        """
        read = self._read_for_load(workflow_id)
        if read is None:
            return None
        data, mtime_ns = read
        key = (workflow_id, project)
        return self._projections.get(  # type: ignore[return-value] # made by this project
            key, data, mtime_ns, lambda: project(_stored(data, mtime_ns, workflow_id))
        )

    def _read_for_load(self, workflow_id: str) -> tuple[bytes, int] | None:
        """Check the store and the id, then return the id's file bytes and mtime, or None."""
        self._check_open()
        check_workflow_id(workflow_id)
        with translate_os_errors(f"loading the state of {workflow_id!r} from {self._dir}"):
            self._ensure_dir()
            return self._read(workflow_id)

    def delete(self, workflow_id: str, *, expected_version: int | None = None) -> None:
        """Delete the state stored under ``workflow_id``; a missing id is not an error.

        With ``expected_version``, only if the stored version is that one (a missing id is
        then a conflict too); otherwise :class:`~wfstore.errors.ConflictError`.
        """
        self._check_open()
        check_workflow_id(workflow_id)
        check_expected_version(expected_version)
        with translate_os_errors(f"deleting the state of {workflow_id!r} from {self._dir}"):
            self._ensure_dir()
            index = stripe_of(workflow_id)
            with self._locked(index), _no_directory(workflow_id, "deleted"):
                current = self._version(workflow_id)
                if expected_version is not None and current != expected_version:
                    raise ConflictError.for_versions(workflow_id, expected_version, current)
                if current is not None:
                    self._log.begin(
                        index, Intent("deleted", current + 1, workflow_id), self._version
                    )
                try:
                    with self._settled_on_error(index):
                        os.unlink(self._file_name(workflow_id))  # noqa: PTH108 (see _file_name)
                except FileNotFoundError:
                    self._require_dir()
                    return
                self._sync_dir()
                if current is not None:
                    self._log.end(index, done=True)

    def list(self) -> list[str]:
        """Return every workflow id that has a stored state, in ascending byte order."""
        self._check_open()
        with translate_os_errors(f"listing the states in {self._dir}"):
            self._ensure_dir()
            live = self._live.page(None, sys.maxsize)
            return live[0] if live is not None else list(self._sorted_ids())

    def _sorted_ids(self) -> tuple[str, ...]:
        """Return the sorted ids, from a cached scan while the directory is unchanged.

        Used where inotify is missing (see :class:`LiveListing`). Any file created, renamed
        or removed in the directory changes its mtime, which invalidates the cache. A
        directory changed within the last two seconds is always rescanned, so file systems
        with coarse timestamps cannot serve a stale listing.
        """
        info = self._dir.stat()
        key = (info.st_dev, info.st_ino, info.st_mtime_ns)
        cached = self._listing
        if cached is not None and cached[0] == key:
            return cached[1]
        with os.scandir(self._dir) as scan:
            ids = tuple(sorted(e.name[: -len(_SUFFIX)] for e in scan if _is_state_file(e)))
        if time.time_ns() - info.st_mtime_ns > _SETTLED_NANOS:
            self._listing = (key, ids)
        return ids

    def list_page(self, page_size: int = 0, page_token: str = "") -> Page[str]:
        """Return one page of sorted workflow ids, starting after ``page_token``'s position.

        ``page_size`` 0 means 1000 and larger sizes are capped at 10000. The next token is
        empty on the last page.
        """
        self._check_open()
        check_page_size(page_size)
        size = state_page_size(page_size)
        after = resume_after(page_token)
        with translate_os_errors(f"listing the states in {self._dir}"):
            self._ensure_dir()
            live = self._live.page(after, size)
            if live is None:
                ids = self._sorted_ids()
                start = bisect.bisect_right(ids, after) if after is not None else 0
                live = list(ids[start : start + size]), start + size < len(ids)
        return page_of_ids(live[0], more=live[1])

    def watch(
        self,
        prefix: str = "",
        *,
        workflow_id: str | None = None,
        resume_token: str | None = None,
        include_state: bool = True,
    ) -> Watcher:
        """Watch the saves and deletes of ids starting with ``prefix`` (or of one id).

        Changes made through any store on this directory, in any process, are seen: this
        process's at once, others' within POLL_SECONDS. See :class:`wfstore.StateStore`.
        """
        self._check_open()
        return self._watch_hub().watch(
            prefix,
            workflow_id=workflow_id,
            resume_token=resume_token,
            include_state=include_state,
        )

    def _watch_hub(self) -> WatchHub:
        with translate_os_errors(f"reading the change log in {self._dir}"):
            self._ensure_dir()
        with self._guard:
            if self._hub is None:
                feed = FileChangeFeed(
                    self._log, self._epoch, STRIPES, get=self.get, settle=self._settle
                )
                self._hub = WatchHub(
                    feed, poll_interval=POLL_SECONDS, name=f"state directory {self._dir}"
                )
            return self._hub

    def _settle(self, index: int) -> None:
        """Give the outcome to an intent whose writer died (a reader found it waiting)."""
        with self._locked(index):
            self._log.settle(index, self._version)

    def describe(self, timeout: float = DESCRIBE_SECONDS) -> StoreInfo:
        """Return the directory, how many state files it holds and the bytes of all its files.

        Never raises; a directory that cannot be read, or not within ``timeout`` seconds,
        gives a :class:`~wfstore.StoreInfo` whose ``error`` says so.
        """
        info = StoreInfo(role="state", backend="files", location=str(self._dir))
        return measured(
            info,
            lambda deadline: directory_size(self._dir, deadline, count=_is_state_file),
            timeout,
        )

    def close(self) -> None:
        """Stop using the directory; idempotent. Every later call raises StoreClosedError."""
        self._closed = True
        with self._guard:
            hub, self._hub = self._hub, None
        if hub is not None:
            hub.close()
        self._live.close()
        with self._stripes_guard:
            stripes = list(self._stripes.values())
        for stripe in stripes:
            with stripe.threads:  # never close a descriptor a writer holds locked
                stripe.processes.close()
        with contextlib.ExitStack() as held:
            for stripe in stripes:
                held.enter_context(stripe.threads)
            self._log.close()

    # --- Files ---------------------------------------------------------------------------------

    def _path(self, workflow_id: str) -> Path:
        return self._dir / f"{workflow_id}{_SUFFIX}"

    def _file_name(self, workflow_id: str) -> str:
        """Return the id's file as a plain string: cheaper than :meth:`_path` to make."""
        return f"{self._dir_prefix}{workflow_id}{_SUFFIX}"

    def _replace(self, target: str, data: bytes, index: int) -> None:
        """Write ``data`` to a temp file, then rename it onto ``target``; caller holds the lock."""
        temp = f"{self._dir_prefix}.wfstore-{index}-{secrets.token_hex(8)}.tmp"
        fd = open_fd(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW)
        try:
            try:
                os.fchmod(fd, FILE_MODE)  # exactly 0600, whatever the umask
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, target)  # noqa: PTH105 (plain strings on the write path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)  # noqa: PTH108 (plain strings on the write path)
            raise
        self._sync_dir()

    @contextlib.contextmanager
    def _settled_on_error(self, index: int) -> Iterator[None]:
        """If the change fails, record at once whether it took effect (the file tells)."""
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                self._log.settle(index, self._version)
            raise

    def _version(self, workflow_id: str) -> int | None:
        """Return the stored version of ``workflow_id``, None if nothing (readable) is stored.

        A directory in the file's place raises ``IsADirectoryError``; a symbolic link or
        other non-file counts as nothing stored, so a save replaces it as it always did.
        """
        try:
            read = self._read(workflow_id, tail=TAIL_BYTES)  # a save needs no more than that
        except DataCorruptedError:
            path = self._path(workflow_id)
            if path.is_dir():
                raise IsADirectoryError(errno.EISDIR, "a directory", str(path)) from None
            return None
        return None if read is None else version_of(*read)

    def _read(self, workflow_id: str, tail: int | None = None) -> tuple[bytes, int] | None:
        """Return the bytes of the id's file and its mtime (ns), or None when there is none.

        With ``tail``, only the file's last ``tail`` bytes.
        """
        try:
            fd = open_fd(self._file_name(workflow_id), _READ_FLAGS)
        except FileNotFoundError:
            self._require_dir()
            return None
        except OSError as exc:
            if not self._path(workflow_id).is_symlink():
                raise
            raise DataCorruptedError(
                f"state of {workflow_id!r} is corrupted: its file is a symbolic link"
            ) from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise DataCorruptedError(
                    f"state of {workflow_id!r} is corrupted: its file is not a regular file"
                )
            if tail is None:
                return _read_all(fd, info.st_size), info.st_mtime_ns
            return os.pread(fd, tail, max(0, info.st_size - tail)), info.st_mtime_ns
        finally:
            os.close(fd)

    def _sync_dir(self) -> None:
        """Make renames and unlinks in the directory durable: an fsync started after them.

        Concurrent savers and deleters share one (see :class:`SharedFsync`).
        """
        self._dir_fsync()

    def _ensure_dir(self) -> None:
        """On first use, create the directories and remove temp files of crashed writers."""
        if self._ready:
            return
        with self._guard:
            if not self._ready:
                make_private_dirs(self._dir)
                make_private_dirs(self._lock_dir)
                self._epoch = self._log.prepare()
                self._sweep()
                self._ready = True

    def _require_dir(self) -> None:
        """Raise ``FileNotFoundError`` if the state directory has gone since first use."""
        if not self._dir.is_dir():
            raise FileNotFoundError(errno.ENOENT, "the state directory is missing", str(self._dir))

    def _sweep(self) -> None:
        """Remove every temp file left by a writer that died; safe while others write."""
        stale: dict[int, list[Path]] = {}
        with os.scandir(self._dir) as scan:
            for entry in scan:
                match = _TEMP_NAME.fullmatch(entry.name)
                if match is not None and int(match.group(1)) < STRIPES:
                    stale.setdefault(int(match.group(1)), []).append(Path(entry.path))
        for index, paths in sorted(stale.items()):
            with self._locked(index):
                for path in paths:
                    path.unlink(missing_ok=True)

    # --- Locks and state -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, index: int) -> Iterator[None]:
        """Hold stripe ``index`` against other threads, then against other processes."""
        stripe = self._stripe(index)
        with stripe.threads:
            try:
                stripe.processes.acquire()
            except FileNotFoundError:
                # A state directory restored without its lock directory: make that again.
                self._require_dir()
                make_private_dirs(self._lock_dir)
                stripe.processes.acquire()
            try:
                yield
            finally:
                stripe.processes.release()

    def _stripe(self, index: int) -> _Stripe:
        with self._stripes_guard:
            stripe = self._stripes.get(index)
            if stripe is None:
                lock_file = self._lock_dir / f"{index}.lock"
                stripe = _Stripe(threading.Lock(), FileLock(lock_file))
                self._stripes[index] = stripe
            return stripe

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"the JSON state store on {str(self._dir)!r} is closed")


@contextlib.contextmanager
def _no_directory(workflow_id: str, action: str) -> Iterator[None]:
    """Report a directory where the id's file should be as corrupted state, not a crash."""
    try:
        yield
    except IsADirectoryError:
        raise DataCorruptedError(
            f"state of {workflow_id!r} cannot be {action}: its file is a directory"
        ) from None


def _stored(data: bytes, mtime_ns: int, workflow_id: str) -> StoredState:
    """Decode a state file's bytes; its version comes from the bytes, or else the mtime."""
    return StoredState(state=decode_state(data, workflow_id), version=version_of(data, mtime_ns))


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_all(fd: int, size: int) -> bytes:
    """Read an open file to its end; ``size`` is what fstat said (it may have grown since)."""
    data = os.read(fd, size + 1)
    if len(data) <= size:
        return data
    chunks = [data]
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _is_state_file(entry: os.DirEntry[str]) -> bool:
    """Whether a directory entry is a regular ``<id>.json`` file with a valid id."""
    if not entry.name.endswith(_SUFFIX) or not entry.is_file(follow_symlinks=False):
        return False
    return _is_listed_id(entry.name[: -len(_SUFFIX)])


def _is_listed_id(workflow_id: str) -> bool:
    """Whether a file named ``<workflow_id>.json`` holds a state List should name."""
    name = f"{workflow_id}{_SUFFIX}"
    if _PLAIN_STATE_NAME.fullmatch(name) and name not in _DOT_NAMES:
        return True  # the common case, without the full id check
    try:
        check_workflow_id(workflow_id)
    except InvalidArgumentError:
        return False
    return True


JSONStore = JSONStateStore
"""The name :class:`JSONStateStore` had before 0.2; kept for existing code."""

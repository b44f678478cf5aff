"""The file backend's change log: one append-only log per lock stripe, written under its lock.

``<state dir>/.wfstore-changes/`` holds ``epoch`` (random, made once: tokens name it) and, per
stripe, segments named ``<stripe>-<start>.log`` (``start``: the position of the segment's first
byte in the stripe's log, in hex). Positions never go back. Each line is one record:

- ``S <version> <id as JSON>``: a save of that version is about to replace the id's file;
- ``D <version> <id as JSON>``: a delete is about to remove it (``version``: one more than
  the version it removes);
- ``+``: the change before it took effect; ``-``: it did not;
- ``>``: this stripe goes on in its next segment.

A writer holds the stripe's lock (the same one that serializes its saves) while it appends the
intent, makes it durable (``fdatasync``), changes the state file, and appends ``+``. A writer
killed in between leaves an intent with no outcome: the next writer of the stripe, or a
reader that finds it waiting too long, takes the lock and settles it from the state file,
which nobody else can have changed meanwhile (versions tell whether the change happened).
Readers need no lock: they take only whole lines, and stop at an intent without an outcome.

Segments roll over at :data:`SEGMENT_BYTES`; a stripe keeps its :data:`KEPT_SEGMENTS` newest,
so a token stays usable for at least ``(KEPT_SEGMENTS - 1) * SEGMENT_BYTES`` bytes of changes
in each stripe after it (some 10,000 changes per stripe, 640,000 in all, with short ids).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from wfstore.errors import DataCorruptedError

from wfstored.storage.shared.private_files import make_private_dirs, open_fd

__all__ = [
    "KEPT_SEGMENTS",
    "LOG_DIR_NAME",
    "SEGMENT_BYTES",
    "ChangeLog",
    "Intent",
    "Segment",
    "parse_tail",
    "read_epoch",
]

LOG_DIR_NAME: Final = ".wfstore-changes"
"""The directory, inside the state directory, that holds the change log."""
SEGMENT_BYTES: Final = 1 << 20
"""A stripe's segment rolls over once it is this large."""
KEPT_SEGMENTS: Final = 4
"""How many segments of each stripe are kept; older ones are removed at a roll-over."""
TAIL_BYTES: Final = 2048
"""Enough of a segment's end to hold its last two lines (an intent is at most ~520 bytes)."""
_SEGMENT_NAME: Final = re.compile(r"(\d+)-([0-9a-f]{16})\.log", re.ASCII)
_EPOCH_FILE: Final = "epoch"


@dataclass(frozen=True, slots=True)
class Intent:
    """A change a writer announced: what it is, and where its line starts."""

    kind: Literal["saved", "deleted"]
    version: int
    workflow_id: str


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment file of a stripe's log."""

    stripe: int
    start: int
    path: Path


def read_epoch(log_dir: Path) -> bytes:
    """Return the log's epoch, making it on first use (``O_EXCL``: one wins, all read it)."""
    path = log_dir / _EPOCH_FILE
    with contextlib.suppress(FileExistsError):
        fd = open_fd(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            os.write(fd, secrets.token_hex(8).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    text = path.read_bytes().strip()
    if not re.fullmatch(rb"[0-9a-f]{16}", text):
        raise DataCorruptedError(f"the change log's epoch file {path} is damaged")
    return bytes.fromhex(text.decode())


def segments(log_dir: Path, stripe: int) -> list[Segment]:
    """Return the stripe's segments, oldest first."""
    return all_segments(log_dir).get(stripe, [])


def all_segments(log_dir: Path) -> dict[int, list[Segment]]:
    """Return every stripe's segments, oldest first, from one scan of the directory."""
    found: dict[int, list[Segment]] = {}
    with os.scandir(log_dir) as scan:
        for entry in scan:
            match = _SEGMENT_NAME.fullmatch(entry.name)
            if match is not None:
                stripe = int(match.group(1))
                segment = Segment(stripe, int(match.group(2), 16), Path(entry.path))
                found.setdefault(stripe, []).append(segment)
    for listed in found.values():
        listed.sort(key=lambda segment: segment.start)
    return found


def segment_path(log_dir: Path, stripe: int, start: int) -> Path:
    """Return the file name of the stripe's segment that starts at ``start``."""
    return log_dir / f"{stripe}-{start:016x}.log"


def encode_intent(intent: Intent) -> bytes:
    """Return the line that announces ``intent``."""
    letter = "S" if intent.kind == "saved" else "D"
    name = json.dumps(intent.workflow_id, ensure_ascii=False)
    return f"{letter} {intent.version} {name}\n".encode()


def decode_intent(line: bytes) -> Intent | None:
    """Return the intent a line holds (without its newline), None if it holds none."""
    letter, _, rest = line.partition(b" ")
    if letter not in {b"S", b"D"}:
        return None
    version, _, name = rest.partition(b" ")
    try:
        workflow_id = json.loads(name)
        number = int(version)
    except ValueError:
        return None
    if not isinstance(workflow_id, str):
        return None
    return Intent("saved" if letter == b"S" else "deleted", number, workflow_id)


@dataclass(frozen=True, slots=True)
class Tail:
    """How a segment ends: where its settled part ends, and what comes after that."""

    settled: int
    """Offset in the file after the last record that needs nothing more."""
    state: Literal["clean", "pending", "partial", "continued"]
    intent: Intent | None = None
    """The intent with no outcome yet, when ``state`` is ``pending``."""
    complete: int = 0
    """Offset after the last whole line, when ``state`` is ``partial``."""


def parse_tail(data: bytes, base: int) -> Tail:
    """Classify a segment's end from its last bytes ``data``, which start at offset ``base``."""
    end = base + len(data)
    if not data:
        return Tail(end, "clean")
    if not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        inner = parse_tail(data[:cut], base) if cut else Tail(base, "clean")
        return Tail(inner.settled, "partial", complete=base + cut)
    last_start = data.rfind(b"\n", 0, len(data) - 1) + 1
    last = data[last_start:-1]
    if last == b">":
        return Tail(end, "continued")
    intent = decode_intent(last)
    if intent is not None:
        return Tail(base + last_start, "pending", intent)
    return Tail(end, "clean")


def read_tail(fd: int, size: int) -> Tail:
    """Classify the end of the open segment ``fd`` of ``size`` bytes."""
    base = max(0, size - TAIL_BYTES)
    return parse_tail(os.pread(fd, size - base, base), base)


class ChangeLog:
    """The writers' side of a state directory's change log; callers hold the stripe's lock."""

    def __init__(self, state_dir: Path) -> None:
        """Keep the log in ``state_dir/.wfstore-changes`` (made by :meth:`prepare`)."""
        self.directory = state_dir / LOG_DIR_NAME
        self._open: dict[int, tuple[Segment, int, int]] = {}  # stripe -> segment, fd, pid
        self.committed: Callable[[], None] = lambda: None
        """Called after every outcome written: the in-process watch hub's wake-up."""
        self.segment_bytes = SEGMENT_BYTES
        """The size at which a segment rolls over (smaller in tests)."""

    def prepare(self) -> bytes:
        """Make the log directory and its epoch if missing; return the epoch."""
        make_private_dirs(self.directory)
        return read_epoch(self.directory)

    def begin(self, stripe: int, intent: Intent, current: Callable[[str], int | None]) -> None:
        """Announce ``intent`` durably; ``current(id)`` is an id's stored version (or None)."""
        _, fd = self._writable(stripe, current)
        os.write(fd, encode_intent(intent))
        os.fdatasync(fd)

    def end(self, stripe: int, *, done: bool) -> None:
        """Record the outcome of the stripe's last intent: it took effect, or it did not."""
        _, fd = self._segment(stripe)
        os.write(fd, b"+\n" if done else b"-\n")
        self.committed()

    def settle(self, stripe: int, current: Callable[[str], int | None]) -> None:
        """Give a dead writer's intent its outcome; a no-op when there is none."""
        self._writable(stripe, current)

    def close(self) -> None:
        """Close the open segments."""
        for _, fd, pid in self._open.values():
            if pid == os.getpid():
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._open.clear()

    # --- Segments ------------------------------------------------------------------------------

    def _writable(self, stripe: int, current: Callable[[str], int | None]) -> tuple[Segment, int]:
        """Return the stripe's current segment, settled and rolled over if it must be."""
        segment, fd = self._segment(stripe)
        while True:
            size = os.fstat(fd).st_size
            tail = read_tail(fd, size)
            if tail.state == "partial":
                os.ftruncate(fd, tail.complete)  # a line cut short by a crash
                continue
            if tail.state == "pending":
                assert tail.intent is not None  # noqa: S101 (pending has its intent)
                os.write(fd, b"+\n" if _took_effect(tail.intent, current) else b"-\n")
                self.committed()
                continue
            if tail.state == "continued":
                segment, fd = self._next_segment(segment, size)
                continue
            if size >= self.segment_bytes:
                os.write(fd, b">\n")
                segment, fd = self._next_segment(segment, size + 2)
                continue
            return segment, fd

    def _segment(self, stripe: int) -> tuple[Segment, int]:
        """Return the stripe's newest segment, opened for appending (made if there is none).

        A segment removed or replaced under an open descriptor (the state directory removed
        and restored) is let go; a missing log directory is made again, with a new epoch.
        """
        cached = self._open.get(stripe)
        if cached is not None and cached[2] == os.getpid():
            if _same_file(cached[0].path, cached[1]):
                return cached[0], cached[1]
            os.close(cached[1])
            del self._open[stripe]
        if not self.directory.is_dir():
            with contextlib.suppress(FileExistsError):
                self.directory.mkdir(mode=0o700)  # not its parents: a missing state dir fails
            read_epoch(self.directory)
        found = segments(self.directory, stripe)
        segment = (
            found[-1] if found else Segment(stripe, 0, segment_path(self.directory, stripe, 0))
        )
        return self._opened(segment)

    def _next_segment(self, segment: Segment, end: int) -> tuple[Segment, int]:
        """Move on from ``segment`` (``end`` bytes long, ``>`` written) to the next one."""
        following = [s for s in segments(self.directory, segment.stripe) if s.start > segment.start]
        if following:
            nxt = following[-1]
        else:
            start = segment.start + end
            nxt = Segment(
                segment.stripe, start, segment_path(self.directory, segment.stripe, start)
            )
        opened = self._opened(nxt)
        for old in segments(self.directory, segment.stripe)[:-KEPT_SEGMENTS]:
            old.path.unlink(missing_ok=True)
        return opened

    def _opened(self, segment: Segment) -> tuple[Segment, int]:
        old = self._open.pop(segment.stripe, None)
        if old is not None and old[2] == os.getpid():
            os.close(old[1])
        fd = open_fd(segment.path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
        self._open[segment.stripe] = (segment, fd, os.getpid())
        return segment, fd


def _same_file(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the open file ``fd``."""
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _took_effect(intent: Intent, current: Callable[[str], int | None]) -> bool:
    """Whether an unfinished change happened, judged from the id's file as it is now."""
    version = current(intent.workflow_id)
    if intent.kind == "saved":
        return version == intent.version
    return version is None or version != intent.version - 1

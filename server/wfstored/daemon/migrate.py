"""``wfstored migrate``: copy every state and record from one pair of stores to another.

Any backend to any other (files and SQLite to PostgreSQL and back, or between two databases),
through the ports only. Safe to run again: what is missing is copied, what is identical is
skipped, and what differs is reported and left alone unless ``--overwrite`` is given (states
only: a history record, once stored, is never changed by wfstore). At the end every state is
compared by a SHA-256 checksum of its awf document, and every record by its content; the
exit code is 0 only if the destination holds everything the source does.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NoReturn, TextIO

from wfstore.awf_state import encode_state
from wfstore.domain import ExecutionContext, ExecutionRecord, HistoryFilter
from wfstore.errors import AlreadyExistsError, StoreError
from wfstore.ports import HistoryStore, StateStore
from wfstore.validation import MAX_BATCH_RECORDS

from wfstored.storage.factory import (
    StoreURLError,
    open_history_store,
    open_state_store,
)

__all__ = ["MigrationReport", "main", "migrate_history", "migrate_states"]

_ALL = HistoryFilter(limit=2**31 - 1)
_Copy = Callable[[argparse.Namespace, TextIO], "MigrationReport"]
_PAGE = 1000
_BATCH = min(1000, MAX_BATCH_RECORDS)


@dataclass
class MigrationReport:
    """What a migration did and found."""

    copied: int = 0
    identical: int = 0
    overwritten: int = 0
    differing: list[str] = field(default_factory=list)
    """Ids stored in both with different content, left as they were."""
    missing_after: list[str] = field(default_factory=list)
    """Ids the verification did not find (or found different) in the destination."""

    @property
    def ok(self) -> bool:
        """Whether the destination now holds everything the source does."""
        return not self.differing and not self.missing_after


class _Progress:
    """A one-line progress counter on a terminal; silent otherwise."""

    def __init__(self, what: str, stream: TextIO) -> None:
        self._what = what
        self._stream = stream
        self._shown = stream.isatty()
        self.count = 0

    def step(self, count: int = 1) -> None:
        self.count += count
        if self._shown and (self.count % 100 == 0 or count > 1):
            self._stream.write(f"\r{self._what}: {self.count:,}")
            self._stream.flush()

    def done(self) -> None:
        if self._shown:
            self._stream.write(f"\r{self._what}: {self.count:,}\n")
            self._stream.flush()


def _checksum(state: ExecutionContext) -> str:
    return hashlib.sha256(encode_state(state)).hexdigest()


def _state_ids(store: StateStore) -> Iterator[str]:
    page = store.list_page(page_size=_PAGE)
    yield from page.items
    while page.next_page_token:
        page = store.list_page(page_size=_PAGE, page_token=page.next_page_token)
        yield from page.items


def _records(store: HistoryStore) -> Iterator[ExecutionRecord]:
    page = store.list_page(_ALL, page_size=_PAGE)
    yield from page.items
    while page.next_page_token:
        page = store.list_page(_ALL, page_size=_PAGE, page_token=page.next_page_token)
        yield from page.items


def migrate_states(
    source: StateStore, target: StateStore, *, overwrite: bool, progress: _Progress
) -> MigrationReport:
    """Copy every state of ``source`` to ``target``, then verify them by checksum."""
    report = MigrationReport()
    checksums: dict[str, str] = {}
    for workflow_id in _state_ids(source):
        state = source.load(workflow_id)
        if state is None:  # deleted meanwhile
            continue
        checksums[workflow_id] = _checksum(state)
        existing = target.load(workflow_id)
        if existing is None:
            target.save(state)
            report.copied += 1
        elif _checksum(existing) == checksums[workflow_id]:
            report.identical += 1
        elif overwrite:
            target.save(state)
            report.overwritten += 1
        else:
            report.differing.append(workflow_id)
        progress.step()
    progress.done()
    for workflow_id, checksum in checksums.items():
        if workflow_id in report.differing:
            continue
        copied = target.load(workflow_id)
        if copied is None or _checksum(copied) != checksum:
            report.missing_after.append(workflow_id)
    return report


def migrate_history(
    source: HistoryStore, target: HistoryStore, *, progress: _Progress
) -> MigrationReport:
    """Copy every record of ``source`` to ``target``, then verify them by content."""
    report = MigrationReport()
    before = target.get_stats().total_executions
    batch: list[ExecutionRecord] = []
    expected: dict[str, ExecutionRecord] = {}
    for record in _records(source):
        expected[record.id] = record
        batch.append(record)
        if len(batch) == _BATCH:
            _copy_batch(target, batch, report)
            progress.step(len(batch))
            batch = []
    if batch:
        _copy_batch(target, batch, report)
        progress.step(len(batch))
    progress.done()
    report.copied = target.get_stats().total_executions - before
    report.identical = len(expected) - report.copied - len(report.differing)
    stored = {record.id: record for record in _records(target)}
    report.missing_after = [
        record_id
        for record_id, record in expected.items()
        if record_id not in report.differing and stored.get(record_id) != record
    ]
    return report


def _copy_batch(
    target: HistoryStore, batch: list[ExecutionRecord], report: MigrationReport
) -> None:
    """Store a batch in one transaction; if some id conflicts, one record at a time."""
    try:
        target.record_batch(batch)
    except AlreadyExistsError:
        for record in batch:
            try:
                target.record(record)  # identical: a no-op
            except AlreadyExistsError:
                report.differing.append(record.id)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"wfstored migrate: error: {message} (see wfstored migrate --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wfstored migrate",
        description="Copy every state and history record from one pair of stores to another.",
        epilog="URLs as for --state-store and --history-store: file:, sqlite:, postgresql:, "
        "or a plain path. Safe to run again; exit code 0 only if everything is in place.",
    )
    parser.add_argument("--from-state", metavar="URL", help="the state store to copy from")
    parser.add_argument("--from-history", metavar="URL", help="the history store to copy from")
    parser.add_argument("--to-state", metavar="URL", help="the state store to copy to")
    parser.add_argument("--to-history", metavar="URL", help="the history store to copy to")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace states that differ in the destination (default: report and keep them)",
    )
    return parser


def _summary(kind: str, report: MigrationReport) -> str:
    line = (
        f"{kind}: {report.copied:,} copied, {report.identical:,} already there, "
        f"{report.overwritten:,} overwritten, {len(report.differing):,} differing (kept)"
    )
    if report.differing:
        shown = ", ".join(repr(i) for i in report.differing[:10])
        line += f": {shown}" + (" ..." if len(report.differing) > 10 else "")
    verdict = (
        "verified"
        if not report.missing_after
        else (f"NOT verified: {len(report.missing_after):,} missing or different after the copy")
    )
    return f"{line}; {verdict}"


def _copy_states(args: argparse.Namespace, err: TextIO) -> MigrationReport:
    source = open_state_store(args.from_state)
    try:
        target = open_state_store(args.to_state)
        try:
            progress = _Progress("states", err)
            return migrate_states(source, target, overwrite=args.overwrite, progress=progress)
        finally:
            target.close()
    finally:
        source.close()


def _copy_history(args: argparse.Namespace, err: TextIO) -> MigrationReport:
    source = open_history_store(args.from_history)
    try:
        target = open_history_store(args.to_history)
        try:
            return migrate_history(source, target, progress=_Progress("history", err))
        finally:
            target.close()
    finally:
        source.close()


def main(argv: Sequence[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run ``wfstored migrate`` with ``argv`` (after ``migrate``); return the exit code.

    0: everything is in the destination and verified; 1: something differs or is missing;
    2: bad arguments, or a store cannot be opened.
    """
    args = _parser().parse_args(list(argv))
    copies: list[tuple[str, _Copy]] = []
    kinds: tuple[tuple[str, str | None, str | None, _Copy], ...] = (
        ("states", args.from_state, args.to_state, _copy_states),
        ("history", args.from_history, args.to_history, _copy_history),
    )
    for kind, source, target, copy in kinds:
        if bool(source) != bool(target):
            err.write(f"wfstored migrate: error: {kind} needs both a --from and a --to URL\n")
            return 2
        if source:
            copies.append((kind, copy))
    if not copies:
        err.write(
            "wfstored migrate: error: give --from-state and --to-state, or --from-history and "
            "--to-history, or all four (see wfstored migrate --help)\n"
        )
        return 2
    ok = True
    for kind, copy in copies:
        try:
            report = copy(args, err)
        except (StoreURLError, OSError) as exc:
            err.write(f"wfstored migrate: error: {kind}: {exc}\n")
            return 2
        except StoreError as exc:
            err.write(f"wfstored migrate: error: {kind}: {exc.message}\n")
            return 1
        out.write(_summary(kind, report) + "\n")
        ok = ok and report.ok
    return 0 if ok else 1

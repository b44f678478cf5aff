"""The payloads every benchmark cell uses: one realistic state, realistic history records.

Shared by the benchmark driver, its client processes and the ceiling server, so that the
ceiling, wfstored, the embedded adapters and the peers all move the same bytes.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wfstore import ExecutionContext, ExecutionRecord, ExecutionStatus, HistoryStats, StepState
from wfstore.awf_state import encode_state
from wfstored.storage.shared.history_schema import COLUMN_NAMES
from wfstored.storage.shared.record_rows import Row
from wfstored.storage.shared.time_text import format_time

STATE_IDS = tuple(f"state-{k:03d}" for k in range(100))
"""The ids stored in every state directory: Load, Save and List work on these."""
LIST_NAME = "deploy"
"""The workflow name the history List and GetStats cells filter on."""
SEED_NAMES = (LIST_NAME, "build", "test", "lint", "release", "nightly", "docs", "migrate")
"""The workflow names of the modest history table."""
FIXED_NOW = datetime(2025, 6, 2, 12, 0, 0, tzinfo=UTC)
"""The instant the state payload is stamped with, so its bytes never change."""
RUN_NOW = datetime.now(UTC).replace(microsecond=0)
"""When this process started: records are stamped a little before it (Cleanup keeps them)."""
ROW_COLUMNS = len(COLUMN_NAMES)
"""How many columns a history row has (the daemon's ``executions`` table)."""

_OUTPUT_LINE = (
    "ok   github.com/acme/widgets/pkg/{name}\t0.{n:03d}s\tcoverage: 8{n}.1% of statements\n"
)


def make_state(workflow_id: str) -> ExecutionContext:
    """Return a realistic running state: inputs, three steps with output and data, env.

    Encoded in awf's file format it is about 4 KiB.
    """
    started = FIXED_NOW - timedelta(minutes=3)
    steps: dict[str, StepState] = {}
    for index, name in enumerate(("checkout", "build", "test")):
        output = "".join(_OUTPUT_LINE.format(name=f"{name}{n}", n=n) for n in range(6))
        steps[name] = StepState(
            name=name,
            status=ExecutionStatus.COMPLETED if index < 2 else ExecutionStatus.RUNNING,
            output=output,
            exit_code=0,
            attempt=1,
            started_at=started + timedelta(seconds=40 * index),
            completed_at=None if index == 2 else started + timedelta(seconds=40 * index + 35),
            data={"files": [f"pkg/{name}/a.go", f"pkg/{name}/b.go"], "ok": True, "count": 17},
            tokens_used=1200 + index,
        )
    return ExecutionContext(
        workflow_id=workflow_id,
        workflow_name=LIST_NAME,
        status=ExecutionStatus.RUNNING,
        current_step="test",
        inputs={
            "repo": "acme/widgets",
            "pr": 4242,
            "labels": ["bug", "urgent"],
            "dry_run": False,
            "target": {"env": "staging", "region": "eu-west-1"},
        },
        states=steps,
        env={
            "HOME": "/home/runner",
            "CI": "true",
            "GOFLAGS": "-mod=readonly",
            "PATH": "/usr/local/go/bin:/usr/bin:/bin",
        },
        started_at=started,
        updated_at=FIXED_NOW,
    )


def state_bytes(workflow_id: str) -> bytes:
    """Return the awf file bytes of :func:`make_state` for ``workflow_id``."""
    return encode_state(make_state(workflow_id))


class StateFileWriter:
    """Writes state files straight into a state directory, by replacing the id in one encoding.

    Much faster than encoding every file: the bytes differ only in the ``WorkflowID`` value.
    Files are not fsynced: they are benchmark fixtures, not data to keep.
    """

    _PLACEHOLDER = "placeholder-id"

    def __init__(self, directory: Path) -> None:
        """Write into ``directory`` (which must exist)."""
        self._dir = directory
        self._template = state_bytes(self._PLACEHOLDER)
        self._needle = f'"WorkflowID": "{self._PLACEHOLDER}"'.encode()
        if self._template.count(self._needle) != 1:
            raise RuntimeError("the state encoding no longer has one WorkflowID field")

    def write(self, workflow_ids: Sequence[str]) -> None:
        """Create or replace ``<id>.json`` (mode 0600) for each of ``workflow_ids``."""
        head, tail = self._template.split(self._needle)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        for workflow_id in workflow_ids:
            fd = os.open(f"{self._dir}/{workflow_id}.json", flags, 0o600)
            try:
                os.write(fd, b"".join((head, b'"WorkflowID": "', workflow_id.encode(), b'"', tail)))
            finally:
                os.close(fd)

    def remove(self, workflow_ids: Sequence[str]) -> int:
        """Remove whichever of ``workflow_ids`` still have a file; return how many did."""
        removed = 0
        for workflow_id in workflow_ids:
            try:
                os.unlink(f"{self._dir}/{workflow_id}.json")  # noqa: PTH108 (many small calls)
            except FileNotFoundError:
                continue
            removed += 1
        return removed


def make_record(record_id: str, workflow_name: str = "recorded") -> ExecutionRecord:
    """Return a realistic finished-run record with ``record_id`` (also its workflow id)."""
    completed = RUN_NOW - timedelta(seconds=5)
    return ExecutionRecord(
        id=record_id,
        workflow_id=record_id,
        workflow_name=workflow_name,
        status="success",
        exit_code=0,
        started_at=completed - timedelta(seconds=93, milliseconds=412),
        completed_at=completed,
        duration_ms=93412,
        error_message="",
    )


CANNED_STATS = HistoryStats(
    total_executions=1250,
    success_count=1131,
    failed_count=97,
    cancelled_count=22,
    avg_duration_ms=61234,
    min_duration_ms=1466,
    max_duration_ms=2400447,
    p50_duration_ms=60405,
    p95_duration_ms=264172,
    p99_duration_ms=482294,
    status_counts={"cancelled": 22, "failed": 97, "success": 1131},
)
"""What the ceiling's GetStats answers: a reply of the same shape as wfstored's."""


def canned_records(count: int) -> list[ExecutionRecord]:
    """Return ``count`` records shaped like the ones the history List cell gets back."""
    return [make_record(f"{LIST_NAME}-{n:07d}", LIST_NAME) for n in range(count)]


class _TimeText:
    """Formats times exactly as ``format_time`` does, caching the text of each minute."""

    def __init__(self) -> None:
        self._minutes: dict[int, str] = {}

    def __call__(self, epoch_nanos: int) -> str:
        """Return the stored text of the instant ``epoch_nanos`` ns after the Unix epoch."""
        seconds, nanos = divmod(epoch_nanos, 1_000_000_000)
        minute, second = divmod(seconds, 60)
        prefix = self._minutes.get(minute)
        if prefix is None:
            prefix = format_time(_EPOCH + timedelta(minutes=minute))[:17]
            self._minutes[minute] = prefix
        return f"{prefix}{second:02d}.{nanos:09d}Z"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def history_rows(  # noqa: PLR0913 (each is a property of the generated data)
    count: int,
    names: Sequence[str],
    weights: Sequence[float],
    *,
    days: int,
    now: datetime,
    seed: int = 7,
    prefix: str = "run",
) -> Iterator[Row]:
    """Yield ``count`` rows in completed_at order over the last ``days`` days.

    Names are drawn with ``weights``; about 8 % of runs fail (exit code 1, an error message)
    and 2 % are cancelled; durations are log-normal around a minute. Times are in the
    daemon's stored text format (``format_time``).
    """
    rng = random.Random(seed)  # noqa: S311 (fixture data, not secrets)
    span = days * 86_400 * 1_000_000_000
    end = int((now - _EPOCH).total_seconds()) * 1_000_000_000
    offsets = sorted(rng.randrange(span) for _ in range(count))
    picks = rng.choices(range(len(names)), weights=weights, k=count)
    text = _TimeText()
    for n, (offset, pick) in enumerate(zip(offsets, picks, strict=True)):
        completed = end - span + offset
        duration_ms = int(min(rng.lognormvariate(11.0, 0.9), 3_600_000))
        roll = rng.random()
        status, exit_code, error = "success", 0, ""
        if roll < 0.08:
            status, exit_code, error = "failed", 1, "step test: exit status 1"
        elif roll < 0.10:
            status, exit_code, error = "cancelled", 130, "cancelled by user"
        record_id = f"{prefix}-{n:08d}"
        yield (
            record_id,
            record_id,
            names[pick],
            status,
            exit_code,
            text(completed - duration_ms * 1_000_000),
            text(completed),
            duration_ms,
            error,
        )

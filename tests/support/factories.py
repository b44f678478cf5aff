"""Domain values for tests: small ones, and one that uses every field of every type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wfstore import (
    ConversationState,
    ExecutionContext,
    ExecutionRecord,
    ExecutionStatus,
    LoopContext,
    StepState,
    Timestamp,
    Turn,
)

T0 = datetime(2025, 6, 2, 12, 5, 7, 123456, tzinfo=UTC)


def nanos_time(offset_seconds: int = 0, nanosecond: int = 789) -> Timestamp:
    """Return a UTC time with sub-microsecond digits, as Go and protobuf write them."""
    base = T0 + timedelta(seconds=offset_seconds)
    return Timestamp(
        base.year,
        base.month,
        base.day,
        base.hour,
        base.minute,
        base.second,
        base.microsecond,
        UTC,
        nanosecond=nanosecond,
    )


def full_context(workflow_id: str = "run-full") -> ExecutionContext:
    """Return a state that sets every field, with nested JSON, unicode and nanoseconds."""
    return ExecutionContext(
        workflow_id=workflow_id,
        workflow_name="code-review",
        parent_run_id="parent-1",
        status=ExecutionStatus.RUNNING,
        current_step="apply_fixes",
        exit_code=3,
        inputs={
            "repo": "github.com/acme/widgets",
            "pr_number": 42,
            "threshold": 0.75,
            "dry_run": False,
            "reviewer": None,
            "labels": ["bug", 7, 2.5, None, True, {"deep": [[1, 2], {"x": "é—<&>"}]}],
            "options": {"depth": 2, "paths": ["src/", "lib/"], "empty": {}, "none": []},
            "big": 2**53,
            "negative": -(2**53),
            "tiny": 1e-7,
            "huge": 1.5e300,
        },
        states={
            "review": StepState(
                name="review",
                status=ExecutionStatus.COMPLETED,
                output='{"verdict":"changes_requested"}',
                stderr="",
                exit_code=0,
                attempt=1,
                started_at=nanos_time(1, 1),
                completed_at=nanos_time(40, 999),
                response={"summary": "Null check <missing> & test gap", "issues": 2},
                json=["any", {"json": "value"}, 1.25],
                conversation=ConversationState(
                    session_id="sess-01",
                    turns=[
                        Turn(role="system", content="You are strict.", tokens=7),
                        Turn(role="user", content="Review PR #42 — café 🚀", tokens=9),
                        Turn(role="assistant", content="Two issues.\nSee above.", tokens=4),
                    ],
                    total_turns=3,
                    total_tokens=20,
                    stopped_by="user_exit",
                ),
                tokens_used=1530,
                tokens_input=1200,
                tokens_output=330,
                tokens_estimated=True,
            ),
            "apply_fixes": StepState(
                name="apply_fixes",
                status=ExecutionStatus.RUNNING,
                output="patching src/a.go\n",
                stderr="warning: 1 hunk offset",
                attempt=2,
                started_at=T0 + timedelta(seconds=47),
                output_path="logs/out.log",
                stderr_path="logs/err.log",
                truncated=True,
                data={"files_changed": 2, "committed": False},
                response={},
            ),
        },
        env={"HOME": "/home/dev", "AWF_LOG_LEVEL": "debug", "EMPTY": ""},
        started_at=nanos_time(0, 5),
        updated_at=nanos_time(48, 0),
        completed_at=None,
        current_loop=LoopContext(
            item={"file": "b.png", "width": 640},
            index=1,
            last=True,
            length=2,
            parent=LoopContext(item="batch-1", index=0, first=True, length=-1),
        ),
        call_stack=["nightly-pipeline", "code-review"],
    )


def record(
    record_id: str,
    *,
    workflow_name: str = "deploy",
    status: str = "success",
    completed_at: datetime = T0,
    duration_ms: int = 1000,
) -> ExecutionRecord:
    """Return a history record; ``started_at`` is derived from the duration."""
    return ExecutionRecord(
        id=record_id,
        workflow_id=f"wf-{record_id}",
        workflow_name=workflow_name,
        status=status,
        exit_code=0 if status in {"success", "completed"} else 1,
        started_at=completed_at - timedelta(milliseconds=duration_ms),
        completed_at=completed_at,
        duration_ms=duration_ms,
        error_message="" if status in {"success", "completed"} else f"{status}: boom",
    )

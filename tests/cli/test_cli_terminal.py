"""``wfstore`` on a pseudo-terminal: colour, tables, progress bars and confirmation prompts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from wfstore import ExecutionContext, ExecutionRecord, HistoryFilter

from tests.cli.runner import run_on_tty
from tests.support.daemon import Daemon

pytestmark = pytest.mark.daemon
ANSI = "\x1b["


def test_tables_have_colour_on_a_terminal(daemon: Daemon) -> None:
    now = datetime.now(UTC)
    with daemon.client() as client:
        client.history.record(
            ExecutionRecord(
                id="r1", workflow_name="deploy", status="failed", exit_code=1,
                started_at=now - timedelta(seconds=2), completed_at=now, duration_ms=1200,
                error_message="exit status 1",
            )
        )  # fmt: skip
    run = run_on_tty("-a", daemon.tcp_target, "history", "ls")
    assert run.returncode == 0, run.output
    assert ANSI in run.output
    assert "1.2s" in run.output
    assert "1 of 1 shown" in run.output
    status = run_on_tty("-a", daemon.tcp_target, "status")
    assert ANSI in status.output
    plain = run_on_tty("-a", daemon.tcp_target, "history", "ls", env={"NO_COLOR": "1"})
    assert "\x1b[31m" not in plain.output  # no red failed row


def test_a_long_listing_shows_a_progress_bar(daemon: Daemon) -> None:
    with daemon.client() as client:
        for i in range(2500):
            client.state.save(ExecutionContext(workflow_id=f"s-{i:05d}"))
    run = run_on_tty("-a", daemon.tcp_target, "state", "ls", timeout=60)
    assert run.returncode == 0
    assert "listing states" in run.output
    assert "s-02499" in run.output


def test_a_big_cleanup_deletes_in_slices_with_a_progress_bar(daemon: Daemon) -> None:
    now = datetime.now(UTC)
    records = [
        ExecutionRecord(
            id=f"old-{i}", workflow_name="deploy", status="success",
            started_at=now - timedelta(days=40 + i % 300, seconds=1),
            completed_at=now - timedelta(days=40 + i % 300), duration_ms=1000,
        )
        for i in range(6000)
    ]  # fmt: skip
    with daemon.client(timeout=60) as client:
        for start in range(0, len(records), 2000):
            client.history.record_batch(records[start : start + 2000])
        client.history.record(
            ExecutionRecord(id="new", completed_at=now, started_at=now, status="success")
        )
    run = run_on_tty(
        "-a", daemon.tcp_target, "history", "cleanup", "--older-than", "30d", "--yes", timeout=60
    )
    assert run.returncode == 0, run.output
    assert "deleting records" in run.output
    assert "deleted 6000 records" in run.output
    with daemon.client() as client:
        assert client.history.get_stats(HistoryFilter()).total_executions == 1


def test_confirmation_on_a_terminal(daemon: Daemon) -> None:
    with daemon.client() as client:
        client.state.save(ExecutionContext.new("doomed", "deploy"))
        client.state.save(ExecutionContext.new("spared", "deploy"))
    no = run_on_tty("-a", daemon.tcp_target, "state", "rm", "spared", answer="n")
    assert no.returncode == 2
    assert "Delete the state of spared" in no.output
    yes = run_on_tty("-a", daemon.tcp_target, "state", "rm", "doomed", answer="y")
    assert yes.returncode == 0, yes.output
    assert "deleted doomed" in yes.output
    with daemon.client() as client:
        assert client.state.list() == ["spared"]


def test_a_confirmed_delete_keeps_a_state_saved_while_the_question_was_open(
    daemon: Daemon,
) -> None:
    with daemon.client() as client:
        client.state.save(ExecutionContext.new("busy", "deploy"))

        def a_worker_saves_meanwhile() -> None:
            client.state.save(ExecutionContext.new("busy", "deploy"))

        done = run_on_tty(
            "-a",
            daemon.tcp_target,
            "state",
            "rm",
            "busy",
            answer="y",
            before_answer=a_worker_saves_meanwhile,
        )
        assert done.returncode == 4, done.output
        assert client.state.load("busy") is not None

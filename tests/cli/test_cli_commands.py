"""``wfstore`` against a real daemon, piped: text, JSON and JSON-lines shapes of every command."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from wfstore import ExecutionContext, ExecutionRecord, HistoryFilter

from tests.cli.runner import cli_command, run_cli
from tests.support.daemon import Daemon

pytestmark = pytest.mark.daemon
AWF_RECORD_KEYS = [
    "id",
    "workflow_id",
    "workflow_name",
    "status",
    "exit_code",
    "started_at",
    "completed_at",
    "duration_ms",
    "error_message",
]
NOW = datetime.now(UTC)


def _records(count: int) -> list[ExecutionRecord]:
    return [
        ExecutionRecord(
            id=f"r{i:03d}",
            workflow_id=f"run-{i}",
            workflow_name="deploy" if i % 2 else "build",
            status="failed" if i % 5 == 0 else "success",
            exit_code=1 if i % 5 == 0 else 0,
            started_at=NOW - timedelta(hours=i, milliseconds=850 + i),
            completed_at=NOW - timedelta(hours=i),
            duration_ms=850 + i,
            error_message="exit status 1" if i % 5 == 0 else "",
        )
        for i in range(count)
    ]


@pytest.fixture
def filled(daemon: Daemon) -> Daemon:
    with daemon.client(timeout=10) as client:
        for name in ("alpha-1", "alpha-2", "beta-1"):
            client.state.save(ExecutionContext.new(name, "deploy"))
        client.history.record_batch(_records(30))
    return daemon


def wfs(daemon: Daemon, *args: str, **options: object) -> subprocess.CompletedProcess[str]:
    done = run_cli("--address", daemon.tcp_target, *args, **options)  # type: ignore[arg-type]
    assert "Traceback" not in done.stderr
    return done


def test_state_ls_text_json_and_jsonl(filled: Daemon) -> None:
    done = wfs(filled, "state", "ls")
    assert (done.returncode, done.stdout) == (0, "alpha-1\nalpha-2\nbeta-1\n")
    done = wfs(filled, "-o", "json", "state", "ls", "--prefix", "alpha")
    assert json.loads(done.stdout) == [{"workflow_id": "alpha-1"}, {"workflow_id": "alpha-2"}]
    done = wfs(filled, "state", "ls", "-n", "2", "-o", "jsonl")
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {"workflow_id": "alpha-1"},
        {"workflow_id": "alpha-2"},
    ]
    assert "\x1b[" not in done.stdout  # plain when piped


GO_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "awf-go-state"


@pytest.mark.parametrize("name", ["completed.json", "minimal.json"])
def test_state_put_takes_an_awf_file_and_get_prints_its_exact_bytes(
    filled: Daemon, name: str
) -> None:
    go_bytes = (GO_FIXTURES / name).read_bytes()
    workflow_id = json.loads(go_bytes)["WorkflowID"]
    done = wfs(filled, "state", "put", workflow_id, stdin=go_bytes.decode())
    assert done.returncode == 0, done.stderr
    shown = wfs(filled, "state", "get", workflow_id)
    assert shown.stdout.encode() == go_bytes + b"\n"
    as_json = json.loads(wfs(filled, "-o", "json", "state", "get", workflow_id).stdout)
    assert as_json["state"] == json.loads(go_bytes)


def test_state_put_refuses_an_awf_file_of_another_id(filled: Daemon) -> None:
    go_text = (GO_FIXTURES / "completed.json").read_text()
    done = wfs(filled, "state", "put", "someone-else", stdin=go_text)
    assert done.returncode == 2
    assert "does not match the id" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_state_get_put_round_trip_and_version(filled: Daemon) -> None:
    shown = wfs(filled, "state", "get", "alpha-1", "--format", "proto")
    document = json.loads(shown.stdout)
    assert document["workflow_id"] == "alpha-1"
    assert document["status"] == "EXECUTION_STATUS_PENDING"
    version = int(wfs(filled, "state", "get", "alpha-1", "--version").stdout)
    document["status"] = "EXECUTION_STATUS_RUNNING"
    stdin = json.dumps(document)
    proto = ("--format", "proto")
    assert wfs(filled, "state", "put", "copy-1", *proto, stdin=stdin).returncode == 2  # not its id
    blank_id = json.dumps({**document, "workflow_id": ""})
    done = wfs(filled, "state", "put", "copy-1", *proto, stdin=blank_id)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("saved copy-1 (version ")
    put = wfs(
        filled,
        "-o",
        "json",
        "state",
        "put",
        "alpha-1",
        "--expected-version",
        str(version),
        *proto,
        stdin=stdin,
    )
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["version"] > version
    with filled.client() as client:
        assert client.state.load("copy-1").status == "running"  # type: ignore[union-attr]
    full = json.loads(wfs(filled, "-o", "json", "state", "get", "alpha-1").stdout)
    assert set(full) == {"workflow_id", "version", "state"}


def test_state_rm_with_yes(filled: Daemon) -> None:
    done = wfs(filled, "state", "rm", "beta-1", "--yes")
    assert (done.returncode, done.stdout) == (0, "deleted beta-1\n")
    assert wfs(filled, "state", "get", "beta-1").returncode == 1


def test_state_watch_prints_one_json_line_per_event(filled: Daemon) -> None:
    args = cli_command(
        "-a", filled.tcp_target, "-o", "jsonl", "state", "watch", "-p", "w-", "--count", "2"
    )
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as watcher:
        time.sleep(1.5)  # the watch has started (it resumes from where it began either way)
        with filled.client() as client:
            client.state.save(ExecutionContext.new("w-1", "deploy"))
            client.state.save(ExecutionContext.new("other", "deploy"))
            client.state.delete("w-1")
        out, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["kind"], e["workflow_id"]) for e in events] == [("saved", "w-1"), ("deleted", "w-1")]
    assert events[0]["status"] == "pending"
    assert all(e["resume_token"] for e in events)


def test_history_ls_defaults_to_20_and_says_of_how_many(filled: Daemon) -> None:
    done = wfs(filled, "history", "ls")
    lines = done.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "WORKFLOW",
        "STATUS",
        "EXIT",
        "COMPLETED",
        "DURATION",
        "ERROR",
    ]
    assert len(lines) == 21
    assert lines[1].split()[:3] == ["r000", "build", "failed"]
    assert "850ms" in lines[1]
    assert done.stderr == "20 of 30 shown\n"


def test_history_ls_filters_and_awf_json_keys(filled: Daemon) -> None:
    done = wfs(
        filled, "-o", "json", "history", "ls", "-w", "deploy", "-s", "failed", "--since", "24h"
    )
    records = json.loads(done.stdout)
    assert [r["id"] for r in records] == ["r005", "r015"]
    assert list(records[0]) == AWF_RECORD_KEYS
    assert records[0]["completed_at"].endswith("Z")
    assert done.stderr == ""  # JSON output alone, piped
    jsonl = wfs(filled, "history", "ls", "-n", "25", "-o", "jsonl", "--time-format", "iso")
    assert len(jsonl.stdout.splitlines()) == 25
    until = (NOW - timedelta(hours=28)).date().isoformat()
    older = wfs(filled, "-o", "json", "history", "ls", "--until", until, "-n", "100")
    expected = [
        r.id
        for r in _records(30)
        if r.completed_at < datetime.fromisoformat(until).replace(tzinfo=UTC)
    ]  # type: ignore[operator]
    assert [r["id"] for r in json.loads(older.stdout)] == expected


def test_history_stats_text_and_json(filled: Daemon) -> None:
    done = wfs(filled, "history", "stats", "-w", "deploy")
    header, values = done.stdout.splitlines()[:2]
    assert header.split()[:5] == ["RUNS", "OK", "FAILED", "CANCELLED", "AVG"]
    assert values.split()[:4] == ["15", "12", "3", "0"]
    assert "P95" in header
    assert "statuses: failed 3, success 12" in done.stdout
    stats = json.loads(wfs(filled, "-o", "json", "history", "stats").stdout)
    assert stats["total_executions"] == 30
    assert stats["failed_count"] == 6
    assert stats["status_counts"] == {"failed": 6, "success": 24}
    assert stats["max_duration_ms"] == 879
    assert stats["p99_duration_ms"] > 0


def test_history_stats_without_percentiles(filled: Daemon) -> None:
    done = wfs(filled, "history", "stats", "-w", "deploy", "--no-percentiles")
    header, values = done.stdout.splitlines()[:2]
    assert header.split() == ["RUNS", "OK", "FAILED", "CANCELLED", "AVG", "MIN", "MAX"]
    assert values.split()[:4] == ["15", "12", "3", "0"]
    with_them = json.loads(wfs(filled, "-o", "json", "history", "stats").stdout)
    stats = json.loads(wfs(filled, "-o", "json", "history", "stats", "--no-percentiles").stdout)
    assert stats == {**with_them, "p50_duration_ms": 0, "p95_duration_ms": 0, "p99_duration_ms": 0}


def test_history_stats_by_workflow(filled: Daemon) -> None:
    text = wfs(filled, "history", "stats", "--by", "workflow").stdout.splitlines()
    assert [line.split()[:2] for line in text[:4]] == [
        ["WORKFLOW", "RUNS"], ["build", "15"], ["deploy", "15"], ["(all)", "30"],
    ]  # fmt: skip
    document = json.loads(wfs(filled, "-o", "json", "history", "stats", "--by", "workflow").stdout)
    assert [g["workflow_name"] for g in document["groups"]] == ["build", "deploy"]
    assert document["groups"][0]["failed_count"] == 3
    assert document["total"]["total_executions"] == 30


def test_history_cleanup_dry_run_then_yes(filled: Daemon) -> None:
    dry = wfs(filled, "-o", "json", "history", "cleanup", "--older-than", "20h", "--dry-run")
    assert json.loads(dry.stdout)["would_delete"] == 10
    done = wfs(filled, "-o", "json", "history", "cleanup", "--older-than", "20h", "--yes")
    assert json.loads(done.stdout)["deleted_count"] == 10
    with filled.client() as client:
        assert client.history.get_stats(HistoryFilter()).total_executions == 20


def test_status_json_shape(filled: Daemon) -> None:
    info = json.loads(wfs(filled, "-o", "json", "status").stdout)
    assert info["pid"] == filled.process.pid
    assert set(info) == {
        "version", "hostname", "pid", "started_at", "uptime_seconds", "listeners",
        "open_watches", "stores",
    }  # fmt: skip
    assert [(s["role"], s["item_count"]) for s in info["stores"]] == [("state", 3), ("history", 30)]
    text = wfs(filled, "status").stdout
    assert f"(pid {filled.process.pid})" in text
    assert "STORE" in text
    assert "sqlite" in text


def test_the_unix_socket_address_and_the_env_variable(filled: Daemon) -> None:
    assert filled.unix_target is not None
    done = run_cli("state", "ls", env={"WFSTORE_ADDRESS": filled.unix_target})
    assert (done.returncode, done.stdout) == (0, "alpha-1\nalpha-2\nbeta-1\n")
    done = run_cli("-a", filled.unix_target, "health")
    assert (done.returncode, done.stdout) == (0, "SERVING\n")


def test_python_dash_m_and_the_version(filled: Daemon) -> None:
    done = wfs(filled, "--version")
    assert done.returncode == 0
    assert done.stdout.startswith("wfstore, version ")

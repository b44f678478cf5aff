"""The daemon as its users meet it: a real wfstored process, its flags, health and signals."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import zlib
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from filelock import FileLock
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from wfstore import (
    Client,
    DeadlineExceededError,
    ExecutionContext,
    HistoryFilter,
    ResourceExhaustedError,
    RetryPolicy,
    StoreClosedError,
    UnavailableError,
)
from wfstored import JSONStateStore

from tests.support.daemon import Daemon, start_daemon, wfstored_command
from tests.support.factories import full_context, record

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
NO_RETRY = RetryPolicy(max_attempts=1)


def _stripe_lock(state_dir: Path, workflow_id: str) -> FileLock:
    """The cross-process lock JSONStateStore takes to write ``workflow_id``."""
    stripe = zlib.crc32(workflow_id.encode()) % 64
    return FileLock(state_dir / ".wfstore-locks" / f"{stripe}.lock", thread_local=False)


def _run_and_fail(*args: str, timeout: float = 20) -> str:
    """Run wfstored expecting exit code 2; return its stderr."""
    done = subprocess.run(
        wfstored_command(*args), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_health_reports_serving_overall_and_per_service(daemon: Daemon, transport: str) -> None:
    target = daemon.tcp_target if transport == "tcp" else daemon.unix_target
    assert target is not None
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ["", "wfstore.v1.StateService", "wfstore.v1.HistoryService"]:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == SERVING
        with pytest.raises(grpc.RpcError) as caught:
            stub.Check(health_pb2.HealthCheckRequest(service="nope.Service"), timeout=5)
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]


def test_reflection_lists_and_describes_both_services(daemon: Daemon) -> None:
    with grpc.insecure_channel(daemon.tcp_target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {"wfstore.v1.StateService", "wfstore.v1.HistoryService"} <= services
        assert "grpc.health.v1.Health" in services
        described = database.FindFileContainingSymbol("wfstore.v1.StateService")
        assert [m.name for m in described.service[0].method] == [
            "Save",
            "Load",
            "List",
            "Delete",
            "Watch",
        ]


def test_files_and_socket_are_private(daemon: Daemon) -> None:
    with daemon.client() as client:
        client.state.save(ExecutionContext.new("run-1", "wf"))
        client.history.record(record("r-1"))
    assert stat.S_IMODE(daemon.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((daemon.data_dir / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE((daemon.data_dir / "state" / "run-1.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((daemon.data_dir / "history.db").stat().st_mode) == 0o600
    assert daemon.unix_target is not None
    sock = Path(daemon.unix_target.removeprefix("unix://"))
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600


def test_start_and_stop_are_logged_once(daemon: Daemon) -> None:
    assert daemon.stop() == 0
    lines = daemon.stderr().splitlines()
    assert sum("serving on" in line for line in lines) == 1
    assert sum("stopped on SIGTERM" in line for line in lines) == 1


def test_failed_calls_are_logged_one_line_each(daemon: Daemon) -> None:
    with daemon.client() as client:
        client.history.record(record("r-1", duration_ms=1))
        with pytest.raises(Exception, match="r-1"):
            client.history.record(record("r-1", duration_ms=2))
    daemon.stop()
    failures = [line for line in daemon.stderr().splitlines() if " failed: " in line]
    assert len(failures) == 1
    assert "HistoryService/Record failed: ALREADY_EXISTS" in failures[0]


def test_sigterm_finishes_in_flight_calls_and_refuses_new_ones(daemon: Daemon) -> None:
    state = full_context("slow")
    lock = _stripe_lock(daemon.data_dir / "state", "slow")
    outcome: list[object] = []
    lock.acquire()
    with (
        daemon.client(timeout=30, retry=NO_RETRY) as client,
        grpc.insecure_channel(daemon.tcp_target) as channel,
    ):
        health_stub = health_pb2_grpc.HealthStub(channel)
        watch = health_stub.Watch(health_pb2.HealthCheckRequest())
        assert next(watch).status == SERVING

        def save() -> None:
            try:
                client.state.save(state)
                outcome.append("saved")
            except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
                outcome.append(exc)

        writer = threading.Thread(target=save)
        writer.start()
        time.sleep(0.5)  # the save is now waiting for the lock this test holds
        daemon.process.send_signal(signal.SIGTERM)
        assert next(watch).status == NOT_SERVING
        check = health_stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert check.status == NOT_SERVING
        with daemon.client(timeout=5, retry=NO_RETRY) as late, pytest.raises(UnavailableError):
            late.state.load("slow")
        assert outcome == []
        assert daemon.process.poll() is None
        lock.release()
        writer.join(10)
    assert outcome == ["saved"]
    assert daemon.process.wait(10) == 0
    assert JSONStateStore(daemon.data_dir / "state").load("slow") == state


def test_sigint_stops_cleanly(daemon: Daemon) -> None:
    assert daemon.stop(signal.SIGINT) == 0
    assert "stopped on SIGINT" in daemon.stderr()


def test_a_deadline_becomes_deadline_exceeded(daemon: Daemon) -> None:
    with _stripe_lock(daemon.data_dir / "state", "held"), daemon.client(timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError) as caught:
            client.state.save(ExecutionContext(workflow_id="held"))
        assert isinstance(caught.value, TimeoutError)
        assert time.monotonic() - started < 5


def test_unreachable_daemon_is_unavailable_never_a_grpc_error(tmp_path: Path) -> None:
    retry = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02)
    with Client(f"unix://{tmp_path}/nobody.sock", timeout=5, retry=retry) as client:
        with pytest.raises(UnavailableError):
            client.state.load("x")
        with pytest.raises(UnavailableError):
            client.history.cleanup(timedelta(days=1))
        with pytest.raises(DeadlineExceededError):
            client.wait_until_ready(0.3)


def test_idempotent_calls_retry_until_the_daemon_comes_up(tmp_path: Path) -> None:
    sock_dir = Path(tempfile.mkdtemp(prefix="wfs-", dir="/tmp"))
    target = f"unix://{sock_dir}/late.sock"
    retry = RetryPolicy(max_attempts=40, initial_backoff=0.05, max_backoff=0.2)
    loaded: list[object] = []
    with Client(target, timeout=30, retry=retry) as client:
        caller = threading.Thread(target=lambda: loaded.append(client.state.load("x")))
        caller.start()
        time.sleep(0.3)
        process = subprocess.Popen(
            wfstored_command("--data-dir", str(tmp_path / "data"), "--listen", target),
            stderr=subprocess.DEVNULL,
        )
        try:
            caller.join(20)
            assert loaded == [None]
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(20) == 0


def test_wait_until_ready_returns_once_serving(daemon: Daemon) -> None:
    with daemon.client("unix") as client:
        client.wait_until_ready(5)


def test_closing_one_history_handle_leaves_the_daemon_serving(daemon: Daemon) -> None:
    with daemon.client() as first, daemon.client() as second:
        first.history.record(record("r-1"))
        first.history.close()
        with pytest.raises(StoreClosedError):
            first.history.list(HistoryFilter())
        first.state.save(ExecutionContext(workflow_id="still-open"))
        second.history.record(record("r-2"))
        assert len(second.history.list(HistoryFilter())) == 2
    with daemon.client() as client:
        client.close()
        with pytest.raises(StoreClosedError):
            client.state.load("x")


def test_go_state_files_load_through_the_daemon(daemon: Daemon, go_fixtures: Path) -> None:
    embedded = JSONStateStore(daemon.data_dir / "state")
    with daemon.client() as client:
        for path in sorted(go_fixtures.glob("*.json")):
            workflow_id = json.loads(path.read_bytes())["WorkflowID"]
            (daemon.data_dir / "state" / f"{workflow_id}.json").write_bytes(path.read_bytes())
            loaded = client.state.load(workflow_id)
            assert loaded is not None
            assert loaded == embedded.load(workflow_id)
            client.state.save(loaded)
            assert embedded.load(workflow_id) == loaded


def test_many_clients_on_many_and_on_the_same_ids(daemon: Daemon) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with daemon.client("tcp" if n % 2 else "unix", timeout=30) as client:
                for i in range(10):
                    client.state.save(full_context(f"own-{n}-{i}"))
                    client.state.save(ExecutionContext(workflow_id="shared", current_step=str(n)))
                    client.history.record(record(f"r-{n}-{i}"))
                    assert client.state.load(f"own-{n}-{i}") == full_context(f"own-{n}-{i}")
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with daemon.client() as client:
        assert len(client.state.list()) == 81
        shared = client.state.load("shared")
        assert shared is not None
        assert shared.current_step in {str(n) for n in range(8)}
        assert client.history.get_stats(HistoryFilter()).total_executions == 80


def test_two_daemons_on_one_data_dir_never_tear_a_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first, second = start_daemon(data), start_daemon(data)
    versions = [
        ExecutionContext(
            workflow_id=f"id-{i % 4}", current_step=f"v{i}", inputs={"b": "x" * 20000 * i}
        )
        for i in range(1, 13)
    ]
    errors: list[BaseException] = []

    def writer(daemon: Daemon, batch: list[ExecutionContext], tag: str) -> None:
        try:
            with daemon.client(timeout=30) as client:
                for n, state in enumerate(batch * 3):
                    client.state.save(state)
                    client.history.record(record(f"{tag}-{n}"))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(d, versions[i::4], f"{i}"))
        for i, d in enumerate([first, second, first, second])
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        for daemon in (first, second):
            with daemon.client() as client:
                assert client.state.list() == ["id-0", "id-1", "id-2", "id-3"]
                for workflow_id in client.state.list():
                    assert client.state.load(workflow_id) in versions
                assert client.history.get_stats(HistoryFilter()).total_executions == 36
    finally:
        assert first.stop() == 0
        assert second.stop() == 0
    assert [p.name for p in (data / "state").iterdir() if p.name.endswith(".tmp")] == []


def test_configuration_from_the_environment(tmp_path: Path) -> None:
    sock_dir = Path(tempfile.mkdtemp(prefix="wfs-", dir="/tmp"))
    target = f"unix://{sock_dir}/env.sock"
    env = {**os.environ, "WFSTORE_DATA_DIR": str(tmp_path / "env-data"), "WFSTORE_LISTEN": target}
    process = subprocess.Popen(wfstored_command(), env=env, stderr=subprocess.PIPE, text=True)
    try:
        with Client(target, timeout=10) as client:
            client.wait_until_ready(10)
            client.state.save(ExecutionContext(workflow_id="from-env"))
        assert (tmp_path / "env-data" / "state" / "from-env.json").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert process.returncode == 0


def test_bad_flags_exit_2_with_one_line() -> None:
    assert "unrecognized arguments: --bogus" in _run_and_fail("--bogus")
    assert "not host:port" in _run_and_fail("--listen", "nonsense")
    assert "--workers" in _run_and_fail("--workers", "zero")
    assert "--grace-seconds" in _run_and_fail("--grace-seconds", "-1")
    assert "--log-level" in _run_and_fail("--log-level", "loud")


def test_a_port_in_use_exits_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _run_and_fail("--data-dir", str(tmp_path), "--listen", f"127.0.0.1:{port}")
    assert f"127.0.0.1:{port}" in line


def test_a_socket_another_daemon_serves_is_not_stolen(daemon: Daemon, tmp_path: Path) -> None:
    assert daemon.unix_target is not None
    line = _run_and_fail("--data-dir", str(tmp_path), "--listen", daemon.unix_target)
    assert "another server is listening" in line
    with daemon.client("unix") as client:
        client.wait_until_ready(5)


def test_a_socket_in_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "dir" / "s.sock"
    line = _run_and_fail("--data-dir", str(tmp_path / "data"), "--listen", f"unix://{missing}")
    assert "does not exist" in line
    assert "add_port" not in line


def test_a_data_dir_that_is_a_file_is_not_a_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    line = _run_and_fail("--data-dir", str(blocker), "--listen", "127.0.0.1:0")
    assert "not a directory" in line


def test_the_security_line_names_only_the_listeners_there_are(tmp_path: Path) -> None:
    socket_path = Path(tempfile.mkdtemp(prefix="wfs-", dir="/tmp")) / "s.sock"
    command = wfstored_command(
        "--data-dir", str(tmp_path / "data"), "--listen", f"unix://{socket_path}"
    )
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stderr is not None
            lines = []
            for line in process.stderr:
                lines.append(line)
                if " serving on " in line:
                    break
        finally:
            process.terminate()
            process.wait(timeout=20)
    security = next(line for line in lines if "security:" in line)
    assert "TCP" not in security
    assert "unix sockets are mode 600" in security


def test_an_unusable_data_dir_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    line = _run_and_fail("--data-dir", str(blocker / "data"), "--listen", "127.0.0.1:0")
    assert "cannot use data directory" in line


def test_oversized_messages_are_refused_and_the_daemon_keeps_serving(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data", extra=["--max-message-bytes", "65536"])
    try:
        big = ExecutionContext(workflow_id="big", inputs={"blob": "x" * 100_000})
        with daemon.client(timeout=10) as client:
            with pytest.raises(ResourceExhaustedError, match="larger than max"):
                client.state.save(big)
            assert client.state.load("big") is None
            client.state.save(ExecutionContext(workflow_id="small"))
            assert client.state.list() == ["small"]
    finally:
        assert daemon.stop() == 0, daemon.stderr()


@pytest.mark.parametrize(("level", "logged"), [("INFO", False), ("DEBUG", True)])
def test_a_load_of_a_missing_id_is_logged_at_debug_only(
    tmp_path: Path, level: str, logged: bool
) -> None:
    daemon = start_daemon(tmp_path / "data", extra=["--log-level", level])
    try:
        with daemon.client(timeout=10) as client:
            assert client.state.load("no-such-run") is None
            client.state.save(ExecutionContext(workflow_id="after"))  # a call after the Load
    finally:
        assert daemon.stop() == 0, daemon.stderr()
    assert ("NOT_FOUND" in daemon.stderr()) is logged, daemon.stderr()


def test_version_prints_the_distributions_version() -> None:
    done = subprocess.run(
        wfstored_command("--version"), capture_output=True, text=True, timeout=20, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wfstored {importlib.metadata.version('wfstore')}"


def test_daemons_with_reuse_port_share_one_port_and_one_data_dir(tmp_path: Path) -> None:
    first = start_daemon(tmp_path, unix=False, extra=["--reuse-port"])
    try:
        port = int(first.tcp_target.rsplit(":", 1)[1])
        second = start_daemon(tmp_path, unix=False, tcp_port=port, extra=["--reuse-port"])
        try:
            assert second.tcp_target == first.tcp_target
            pids: set[int] = set()
            for n in range(24):  # each client its own connection; the kernel spreads them
                with Client(
                    first.tcp_target, channel_options=[("grpc.use_local_subchannel_pool", 1)]
                ) as client:
                    pids.add(client.server_info().pid)
                    client.state.save(ExecutionContext(workflow_id=f"w-{n}"))
            assert pids == {first.process.pid, second.process.pid}
            with first.client() as client:
                assert client.state.list() == sorted(f"w-{n}" for n in range(24))
            line = _run_and_fail("--data-dir", str(tmp_path), "--listen", f"127.0.0.1:{port}")
            assert f"127.0.0.1:{port}" in line  # without the flag, a port in use stays an error
        finally:
            assert second.stop() == 0, second.stderr()
    finally:
        assert first.stop() == 0, first.stderr()

"""``wfstore health``: grpc_health_probe's exit codes, for container and Kubernetes probes."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
import zlib
from pathlib import Path

import pytest
from filelock import FileLock
from wfstore import ExecutionContext, RetryPolicy

from tests.cli.runner import one_error_line, run_cli
from tests.support.daemon import Daemon, start_daemon

pytestmark = pytest.mark.daemon


def test_serving_is_0(daemon: Daemon) -> None:
    done = run_cli("-a", daemon.tcp_target, "health")
    assert (done.returncode, done.stdout, done.stderr) == (0, "SERVING\n", "")
    done = run_cli(
        "-a", daemon.tcp_target, "-o", "json", "health", "--service", "wfstore.v1.HistoryService"
    )
    assert json.loads(done.stdout) == {
        "address": daemon.tcp_target,
        "service": "wfstore.v1.HistoryService",
        "status": "SERVING",
    }


def test_cannot_connect_is_2(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    done = run_cli("-a", address, "health")
    assert done.returncode == 2
    assert one_error_line(done.stderr) == f"wfstore: error: cannot connect to {address}"
    assert time.monotonic() - started < 10
    assert run_cli("-a", f"unix://{tmp_path}/none.sock", "health").returncode == 2


def test_an_unknown_service_is_rpc_failed_3(daemon: Daemon) -> None:
    done = run_cli("-a", daemon.tcp_target, "health", "--service", "no.such.Service")
    assert done.returncode == 3
    assert "NOT_FOUND" in one_error_line(done.stderr)


def test_a_draining_daemon_is_not_serving_4(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data", extra=["--grace-seconds", "30"])
    stripe = zlib.crc32(b"slow") % 64
    lock = FileLock(
        daemon.data_dir / "state" / ".wfstore-locks" / f"{stripe}.lock", thread_local=False
    )
    lock.acquire()
    try:
        with daemon.client(timeout=30, retry=RetryPolicy(max_attempts=1)) as client:
            writer = threading.Thread(
                target=lambda: client.state.save(ExecutionContext(workflow_id="slow"))
            )
            writer.start()
            time.sleep(0.5)  # the save now waits for the lock: a call in flight
            daemon.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            done = run_cli("-a", daemon.tcp_target, "health")
            assert (done.returncode, done.stdout) == (4, "NOT_SERVING\n")
            lock.release()
            writer.join(10)
    finally:
        if lock.is_locked:
            lock.release()
        assert daemon.stop() == 0

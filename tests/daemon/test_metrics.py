"""``--metrics-listen``: a real wfstored serves Prometheus metrics over HTTP, scraped as-is."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families
from wfstore import Client, ExecutionContext, RetryPolicy
from wfstore.v1 import state_pb2, state_pb2_grpc
from wfstored.daemon.metrics import METRICS_LINE

from tests.support.daemon import Daemon, run_wfstored, serving
from tests.support.factories import record

pytestmark = pytest.mark.daemon

STATE = "wfstore.v1.StateService"
HISTORY = "wfstore.v1.HistoryService"
NO_RETRY = RetryPolicy(max_attempts=1)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def metrics_url(daemon: Daemon) -> str:
    match = METRICS_LINE.search(daemon.stderr())
    assert match is not None, daemon.stderr()
    return match["url"]


def scrape(url: str) -> tuple[str, Samples]:
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 (http to loopback)
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = reply.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def rpc(method: str, *, service: str = STATE, **extra: str) -> dict[str, str]:
    kind = "server_stream" if method == "Watch" else "unary"
    return {"grpc_type": kind, "grpc_service": service, "grpc_method": method, **extra}


@pytest.fixture
def metered(tmp_path: Path) -> Iterator[Daemon]:
    with serving(tmp_path / "data", extra=["--metrics-listen", "127.0.0.1:0"]) as daemon:
        yield daemon


def _wait_for(url: str, name: str, expected: float, **labels: str) -> Samples:
    deadline = time.monotonic() + 10
    while True:
        _, samples = scrape(url)
        if value(samples, name, **labels) == expected or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def test_calls_are_counted_by_method_and_code(metered: Daemon) -> None:
    url = metrics_url(metered)
    with Client(metered.tcp_target, timeout=10, retry=NO_RETRY) as client:
        client.state.save(ExecutionContext.new("run-1", "deploy"))
        assert client.state.load("run-1") is not None
        assert client.state.load("missing") is None  # NOT_FOUND
        assert client.state.load("missing-too") is None
        client.history.record(record("rec-1"))
        client.history.record(record("rec-2"))

    _, samples = scrape(url)
    assert value(samples, "grpc_server_started_total", **rpc("Save")) == 1
    assert value(samples, "grpc_server_started_total", **rpc("Load")) == 3
    assert value(samples, "grpc_server_handled_total", **rpc("Load", grpc_code="OK")) == 1
    assert value(samples, "grpc_server_handled_total", **rpc("Load", grpc_code="NOT_FOUND")) == 2
    assert value(samples, "grpc_server_handled_total", **rpc("Save", grpc_code="OK")) == 1
    record_ok = rpc("Record", service=HISTORY, grpc_code="OK")
    assert value(samples, "grpc_server_handled_total", **record_ok) == 2
    assert value(samples, "grpc_server_handling_seconds_count", **rpc("Load")) == 3
    assert value(samples, "grpc_server_handling_seconds_bucket", **rpc("Load", le="+Inf")) == 3
    assert value(samples, "grpc_server_msg_received_total", **rpc("Load")) == 3
    assert value(samples, "grpc_server_msg_sent_total", **rpc("Load")) == 1  # only the OK one
    assert value(samples, "wfstore_rpc_calls_in_flight", **rpc("Load")) == 0
    codes = {
        dict(labels)["grpc_code"]
        for name, labels in samples
        if name == "grpc_server_handled_total" and dict(labels)["grpc_method"] == "Load"
    }
    assert codes == {"OK", "NOT_FOUND"}
    # What the stores hold, from their describe(): one state file, two history records.
    assert value(samples, "wfstore_store_items", role="state", backend="files") == 1
    assert value(samples, "wfstore_store_items", role="history", backend="sqlite") == 2
    assert value(samples, "wfstore_store_figures_known", role="state", backend="files") == 1
    state_bytes = value(samples, "wfstore_store_size_bytes", role="state", backend="files")
    history_bytes = value(samples, "wfstore_store_size_bytes", role="history", backend="sqlite")
    assert state_bytes is not None
    assert history_bytes is not None
    assert state_bytes > 0
    assert history_bytes > 0
    # Two Records, each its own transaction (one after the other): two batches of one write.
    assert value(samples, "wfstore_history_commit_batch_writes_count") == 2
    assert value(samples, "wfstore_history_commit_batch_writes_sum") == 2
    assert value(samples, "wfstore_history_commit_batch_writes_bucket", le="1.0") == 2


def test_a_watch_is_open_while_it_streams_and_counted_when_cancelled(metered: Daemon) -> None:
    url = metrics_url(metered)
    with grpc.insecure_channel(metered.tcp_target) as channel:
        stream = state_pb2_grpc.StateServiceStub(channel).Watch(
            state_pb2.StateServiceWatchRequest(prefix="run-"), timeout=30
        )
        next(stream)  # the first bookmark: the stream is open
        with Client(metered.tcp_target, timeout=10) as client:
            client.state.save(ExecutionContext.new("run-7", "deploy"))
        assert next(stream).events[0].workflow_id == "run-7"
        _, samples = scrape(url)
        assert value(samples, "wfstore_watch_streams_open") == 1
        assert value(samples, "wfstore_rpc_calls_in_flight", **rpc("Watch")) == 1
        assert value(samples, "grpc_server_started_total", **rpc("Watch")) == 1
        assert value(samples, "grpc_server_msg_sent_total", **rpc("Watch")) == 2
        stream.cancel()
    samples = _wait_for(url, "wfstore_watch_streams_open", 0)
    assert value(samples, "wfstore_watch_streams_open") == 0
    cancelled = rpc("Watch", grpc_code="CANCELLED")
    assert value(samples, "grpc_server_handled_total", **cancelled) == 1
    assert value(samples, "grpc_server_handling_seconds_count", **rpc("Watch")) == 1


def test_refused_and_failing_calls_get_their_codes(metered: Daemon) -> None:
    url = metrics_url(metered)
    with grpc.insecure_channel(metered.tcp_target) as channel:
        stub = state_pb2_grpc.StateServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Load(state_pb2.StateServiceLoadRequest(workflow_id="../etc"), timeout=10)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
        with pytest.raises(grpc.RpcError) as caught:
            channel.unary_unary("/wfstore.v1.StateService/Nope")(b"", timeout=10)
        assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED  # type: ignore[attr-defined]
    text, samples = scrape(url)
    invalid = rpc("Load", grpc_code="INVALID_ARGUMENT")
    assert value(samples, "grpc_server_handled_total", **invalid) == 1
    assert "Nope" not in text  # unknown methods get no labels of their own


def test_store_and_commit_metrics_are_declared_in_the_exposition(metered: Daemon) -> None:
    text, _ = scrape(metrics_url(metered))
    for name in (
        "grpc_server_started_total",
        "grpc_server_handled_total",
        "grpc_server_handling_seconds",
        "grpc_server_msg_received_total",
        "grpc_server_msg_sent_total",
        "wfstore_rpc_calls_in_flight",
        "wfstore_watch_streams_open",
        "wfstore_history_commit_batch_writes",
    ):
        assert f"# TYPE {name} " in text, name


def test_without_the_flag_nothing_listens_and_nothing_is_loaded(daemon: Daemon) -> None:
    assert METRICS_LINE.search(daemon.stderr()) is None
    code = (
        "import sys, wfstored.daemon.main; "
        "sys.exit(any(m.split('.')[0] in ('prometheus_client', 'opentelemetry') "
        "or m in ('wfstored.rpc.call_metrics', 'wfstored.rpc.call_tracing') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert done.returncode == 0, "the daemon imports the metrics or tracing modules up front"


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("unix:///tmp/m.sock", "is not host:port"),
        ("127.0.0.1", "is not host:port"),
        ("127.0.0.1:70000", "is not host:port"),
    ],
)
def test_a_bad_metrics_address_is_a_one_line_error(address: str, message: str) -> None:
    done = run_wfstored("--metrics-listen", address)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_metrics_port_in_use_stops_the_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_wfstored(
            "--data-dir",
            str(tmp_path / "data"),
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            f"127.0.0.1:{port}",
        )
    assert done.returncode == 2
    assert f"cannot serve metrics on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr

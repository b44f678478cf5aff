"""``--tracing``: a real wfstored records one OpenTelemetry span per call, in the caller's trace.

The Node worker's traceparent is tested in tests/interop; these use raw gRPC calls, so that
the metadata sent is exactly what the test says.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import grpc
import pytest
from wfstore.v1 import state_pb2, state_pb2_grpc

from tests.support.daemon import run_wfstored, serving

pytestmark = pytest.mark.daemon

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
TRACEPARENT = (("traceparent", f"00-{TRACE_ID}-{PARENT}-01"),)


def exported(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_unary_and_stream_spans_continue_the_callers_trace(tmp_path: Path) -> None:
    spans = tmp_path / "spans.jsonl"
    with (
        serving(tmp_path / "data", unix=False, extra=["--tracing", f"file:{spans}"]) as daemon,
        grpc.insecure_channel(daemon.tcp_target) as channel,
    ):
        stub = state_pb2_grpc.StateServiceStub(channel)
        request = state_pb2.StateServiceLoadRequest(workflow_id="../bad")
        with pytest.raises(grpc.RpcError):
            stub.Load(request, metadata=TRACEPARENT, timeout=10)
        stream = stub.Watch(state_pb2.StateServiceWatchRequest(), metadata=TRACEPARENT)
        next(stream)
        stream.cancel()
        stub.List(state_pb2.StateServiceListRequest(), timeout=10)  # no traceparent
    found = {span["name"]: span for span in exported(spans)}
    load = found["wfstore.v1.StateService/Load"]
    watch = found["wfstore.v1.StateService/Watch"]
    for span in (load, watch):
        assert span["context"]["trace_id"] == f"0x{TRACE_ID}"
        assert span["parent_id"] == f"0x{PARENT}"
    assert load["attributes"]["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert watch["attributes"]["rpc.grpc.status_code"] == grpc.StatusCode.CANCELLED.value[0]
    listing = found["wfstore.v1.StateService/List"]
    assert listing["parent_id"] is None
    assert listing["resource"]["attributes"]["service.name"] == "wfstored"


def test_tracing_without_opentelemetry_is_a_clear_start_up_error(tmp_path: Path) -> None:
    path = os.environ.get("PYTHONPATH", "")
    blocker = tmp_path / "no-otel" / "opentelemetry"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ImportError('hidden by the test', name='opentelemetry')\n"
    )
    done = run_wfstored(
        "--data-dir",
        str(tmp_path / "data"),
        "--listen",
        "127.0.0.1:0",
        "--tracing",
        "console",
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(blocker.parent), path])),
        },
    )
    assert done.returncode == 2, done.stderr
    assert "--tracing console needs OpenTelemetry" in done.stderr
    assert "pip install 'wfstore[otel]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_exporter_is_a_one_line_error() -> None:
    done = run_wfstored("--tracing", "jaeger")
    assert done.returncode == 2
    assert "--tracing must be otlp, console, file:PATH or off, not 'jaeger'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1

"""The benchmark's plain gRPC ceiling answers like wfstored, and its report pairs repetitions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from wfstore.v1 import state_pb2
from wfstored.rpc import RpcOptions, start_server

from scripts.bench._ceiling import NullHistoryStore, NullStateStore
from scripts.bench._plain_ceiling import build_server
from scripts.bench._plain_messages import PATHS, request_bytes
from scripts.bench._report import render_markdown
from scripts.bench._yardstick import paired_ratios, target_lines, yardstick_section

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def plain_target() -> Iterator[str]:
    server = build_server(workers=4)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None).wait()


@pytest.fixture
def stack_target() -> Iterator[str]:
    running = start_server(
        RpcOptions(listen=("127.0.0.1:0",), workers=4), NullStateStore(), NullHistoryStore()
    )
    yield running.addresses[0]
    running.stop(0.5)


def _raw_call(target: str, path: str, request: bytes) -> bytes:
    with grpc.insecure_channel(target) as channel:
        method = channel.unary_unary(path, request_serializer=None, response_deserializer=None)
        reply: bytes = method(request, timeout=10)
        return reply


@pytest.mark.parametrize("op", sorted(PATHS))
def test_the_plain_ceiling_replies_as_wfstoreds_stack_does(
    op: str, plain_target: str, stack_target: str
) -> None:
    request = request_bytes(op, 3)
    plain = _raw_call(plain_target, PATHS[op], request)
    stack = _raw_call(stack_target, PATHS[op], request)
    if PATHS[op].endswith("StateService/Save"):  # the version differs: 1 there, a run's here
        assert state_pb2.StateServiceSaveResponse.FromString(plain).version > 1
        assert state_pb2.StateServiceSaveResponse.FromString(stack).version == 1
    else:
        assert plain == stack


def _cell(impl: str, op: str, conc: int, rates: list[float], p50: float = 1.0) -> dict[str, Any]:
    return {
        "impl": impl,
        "op": op,
        "transport": "tcp",
        "concurrency": conc,
        "batch": 1,
        "reps": [{"rate": r, "cpu_ms_per_call": None, "cpu_us": {}} for r in rates],
        "p50_ms": p50,
        "p99_ms": p50,
    }


def test_ratios_pair_each_repetition_with_the_ceiling_measured_in_its_round() -> None:
    plain = _cell("plain", "Load", 8, [1000, 2000, 4000])
    mine = _cell("wfstored", "Load", 8, [900, 1000, 3000])
    assert paired_ratios(mine, plain) == [0.9, 0.5, 0.75]
    index = {(c["impl"], c["op"], "tcp", c["concurrency"]): c for c in (plain, mine)}
    [_, _, load] = target_lines(index)
    assert load == "| StateService.Load | >= 0.80 | 0.75 (0.50-0.90) | no |"


def test_the_c1_p50_gap_is_checked_against_its_target() -> None:
    cells = [
        _cell("plain", "Load", 8, [1000]),
        _cell("wfstored", "Load", 8, [850]),
        _cell("plain", "Load", 1, [100], p50=0.40),
        _cell("wfstored", "Load", 1, [90], p50=0.50),
        _cell("plain", "Delete", 1, [100], p50=0.40),
        _cell("wfstored", "Delete", 1, [90], p50=0.60),
    ]
    lines = "\n".join(yardstick_section(cells, pinned=True))
    assert "| StateService.Load | >= 0.80 | 0.85 (0.85-0.85) | yes |" in lines
    assert "| StateService.Load, p50 at c=1 - plain p50 | <= 0.15 ms | +0.100 ms | yes |" in lines
    assert "| StateService.Delete, p50 at c=1 - plain p50 | <= 0.15 ms | +0.200 ms | no |" in lines


def test_results_saved_before_the_plain_ceiling_still_render() -> None:
    doc = json.loads((ROOT / "docs" / "bench" / "latest.json").read_text())
    doc["cells"] = [cell for cell in doc["cells"] if cell["impl"] != "plain"]
    markdown = render_markdown(doc)
    assert "## Against the plain gRPC ceiling" not in markdown
    assert "| StateService.Load | wfstored | tcp | 8 |" in markdown

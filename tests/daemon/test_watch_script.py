"""The watch latency benchmark runs end to end: a tiny run, every event seen, a table and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WATCH = [sys.executable, "-m", "scripts.bench", "watch"]  # run from ROOT


def test_a_tiny_watch_run_sees_every_event_and_writes_its_results(tmp_path: Path) -> None:
    out = tmp_path / "watch.json"
    flags = ["--saves", "5", "--warmup", "2", "--watchers", "1,2", "--backends", "files"]
    run = subprocess.run(
        [*WATCH, *flags, "--window", "0.3", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "| cross-daemon | files | 2 | 10 |" in run.stdout
    cells = json.loads(out.read_text())["cells"]
    latency = [cell for cell in cells if cell["kind"] == "latency"]
    names = {cell["cell"] for cell in latency}
    assert names == {"daemon", "cross-daemon", "embedded", "embedded, two stores"}
    assert len(latency) == 8
    assert [cell["watchers"] for cell in cells if cell["kind"] == "throughput"] == [0, 100]
    for cell in latency:
        assert cell["missed"] == 0, cell["cell"]
        assert cell["unexpected"] == 0, cell["cell"]
        assert cell["n"] == 5 * cell["watchers"] == len(cell["latencies_ms"])
        assert 0 < cell["p50_ms"] <= cell["max_ms"]

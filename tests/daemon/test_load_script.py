"""The load test script runs end to end: a short run, no errors, every write verified."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

_VERIFIED = re.compile(
    r"verified (\d+) states and ([\d,]+) acknowledged records \(([\d,]+) stored\): 0 problems"
)
ROOT = Path(__file__).resolve().parents[2]
LOAD = [sys.executable, "-m", "scripts.bench", "load"]  # run from ROOT


def test_a_short_load_run_has_no_errors_and_verifies_every_write() -> None:
    run = subprocess.run(
        [*LOAD, "--seconds", "2", "--clients", "4", "--processes", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "| all |" in run.stdout
    verified = [line for line in run.stdout.splitlines() if line.startswith("verified ")]
    assert len(verified) == 2  # on the running daemon, and again after a restart
    for line in verified:
        counts = _VERIFIED.fullmatch(line)
        assert counts is not None, line
        assert int(counts[1]) > 0
        assert int(counts[2].replace(",", "")) > 0

"""SIGKILL under load, 20 times on one data directory (8 on PostgreSQL): no acknowledged write lost.

And SIGTERM under load: the daemon exits 0, in-flight calls finish and are kept, later calls
get UNAVAILABLE and nothing else.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.kill_driver import KillLoop

ROUNDS = 20
POSTGRES_ROUNDS = 8

pytestmark = pytest.mark.daemon


def _kill_rounds(loop: KillLoop, rounds: int) -> None:
    """Run ``rounds`` rounds of load and SIGKILL; every acknowledged write must survive."""
    saves = records = 0
    try:
        for _ in range(rounds):
            result = loop.run_round()
            assert result.problems == [], f"round {loop.rounds}: {result.problems}"
            saves += result.acked_saves
            records += result.acked_records
        events, problems = loop.verify_watch()
        assert problems == []
        assert events >= len(loop.ledger.acked_versions)
    finally:
        loop.close()
    # The load was real: the daemon was killed in the middle of acknowledged writes.
    assert saves > rounds
    assert records > rounds
    assert len(loop.ledger.records) >= records


@pytest.mark.timeout(120)
def test_every_acknowledged_write_survives_sigkill_under_load(tmp_path: Path) -> None:
    _kill_rounds(KillLoop(tmp_path / "data", seed=20261124), ROUNDS)


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_every_acknowledged_write_survives_sigkill_on_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    loop = KillLoop(tmp_path / "data", seed=20261204, database_url=postgres_url)
    _kill_rounds(loop, POSTGRES_ROUNDS)


def test_sigterm_under_load_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    loop = KillLoop(tmp_path / "data", seed=20261125)
    try:
        for _ in range(3):
            result = loop.run_round(stop_signal=signal.SIGTERM)
            assert result.problems == [], f"round {loop.rounds}: {result.problems}"
            assert result.acked_saves > 0
    finally:
        loop.close()

"""Shared fixtures: a real wfstored per test, and clients on each transport."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, serving

GO_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "awf-go-state"


@pytest.fixture(scope="session")
def go_fixtures() -> Path:
    """The state files written by awf's Go JSONStateStore (``../shared/fixtures/awf-go-state``)."""
    if not GO_FIXTURES.is_dir():
        pytest.skip(f"the awf Go fixtures are not at {GO_FIXTURES}")
    return GO_FIXTURES


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A wfstored subprocess on 127.0.0.1:0 and a Unix socket, with its own data dir."""
    with serving(tmp_path / "data") as running:
        yield running

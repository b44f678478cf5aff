"""Shared fixtures: a real wfstored per test, and clients on each transport."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, serving
from tests.support.postgres import (
    REQUIRED as POSTGRES_REQUIRED,
)
from tests.support.postgres import (
    PostgresCluster,
    PostgresUnavailableError,
    running_cluster,
)

GO_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "awf-go-state"


@pytest.fixture(scope="session")
def go_fixtures() -> Path:
    """The state files written by awf's Go JSONStore (``tests/fixtures/awf-go-state``)."""
    return GO_FIXTURES


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A wfstored subprocess on 127.0.0.1:0 and a Unix socket, with its own data dir."""
    with serving(tmp_path / "data") as running:
        yield running


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throw-away PostgreSQL cluster for the session; skips (fails in CI) without one."""
    try:
        with running_cluster() as cluster:
            yield cluster
    except PostgresUnavailableError as exc:
        if POSTGRES_REQUIRED:
            pytest.fail(f"WFSTORE_REQUIRE_POSTGRES=1, but {exc}")
        pytest.skip(f"no PostgreSQL: {exc}")


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """The URL of a new, empty database in the session's cluster."""
    return postgres_cluster.new_database()

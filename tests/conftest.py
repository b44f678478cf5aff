"""Shared fixtures: a real wfstored per test, and clients on each transport."""

from __future__ import annotations

import random
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


def _pool_jitter_off_the_global_random() -> None:
    """Give psycopg_pool's expiry jitter a Random of its own, in the tests.

    The pool draws it (``from random import random``) in its own thread whenever it opens a
    connection. When that lands while Hypothesis draws an example, Hypothesis sees the global
    ``random`` move and, to word its warning, renders the whole strategy first, which for a
    complete state can take minutes (a property test then hit its timeout under load). The
    jitter itself is kept; it just no longer touches the global generator.
    """
    try:
        import psycopg_pool.base  # noqa: PLC0415 (only where the PostgreSQL extra is installed)
    except ImportError:
        return
    psycopg_pool.base.random = random.Random().random  # type: ignore[attr-defined]  # noqa: S311


_pool_jitter_off_the_global_random()


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

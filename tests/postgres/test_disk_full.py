"""A database whose disk fills up: RESOURCE_EXHAUSTED, nothing acknowledged lost, and recovery.

The database lives in a tablespace on a small tmpfs of its own, so its disk really fills
(PostgreSQL fails to extend a file with SQLSTATE 53100); remounting it larger gives room again
(no database operation could: even DROP TABLE writes catalog pages, on the same full disk).
While the disk is full, reads can fail as well (a backend that writes out a dirty page gets
ENOSPC), so the test checks what is stored after.
Mounting needs root, as in CI; elsewhere the test skips.
"""

from __future__ import annotations

import os
import pwd
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
import pytest
from wfstore import ExecutionContext, HistoryFilter, ResourceExhaustedError

from tests.support.daemon import start_daemon
from tests.support.factories import record
from tests.support.postgres import PostgresCluster
from tests.support.small_disk import grow, small_tmpfs

pytestmark = [pytest.mark.postgres, pytest.mark.daemon]

_DISK_MIB = 24
"""The tmpfs: a new database's catalog (~8 MiB) and what fills it."""


@dataclass
class SmallDisk:
    """A database in a tablespace on a small filesystem that can be made larger."""

    url: str
    mount: Path

    def grow(self) -> None:
        """Give the filesystem room again (a remount with a larger size keeps its files)."""
        grow(self.mount, _DISK_MIB * 4)


def _noise(size: int) -> str:
    return "".join(uuid.uuid4().hex for _ in range(size // 32))


def _owner(cluster: PostgresCluster) -> tuple[int, int]:
    if not cluster.run_as:
        return os.getuid(), os.getgid()
    user = pwd.getpwnam(cluster.run_as[2])  # runuser -u NAME --
    return user.pw_uid, user.pw_gid


@pytest.fixture
def small_disk(postgres_cluster: PostgresCluster) -> Iterator[SmallDisk]:
    # Under the cluster's directory: the server's (unprivileged) user must reach it.
    with small_tmpfs(_DISK_MIB, parent=postgres_cluster.directory) as mount:
        os.chown(mount, *_owner(postgres_cluster))
        name = f"small_{os.getpid()}"
        try:
            with psycopg.connect(postgres_cluster.conninfo(), autocommit=True) as conn:
                conn.execute(f"CREATE TABLESPACE {name} LOCATION '{mount}'")
                conn.execute(f"CREATE DATABASE {name} TABLESPACE {name}")
            yield SmallDisk(postgres_cluster.url(name), mount)
        finally:
            grow(mount, _DISK_MIB * 4)  # room for the teardown, whatever the test left
            with psycopg.connect(postgres_cluster.conninfo(), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                conn.execute(f"DROP TABLESPACE IF EXISTS {name}")


def test_a_full_disk_is_resource_exhausted_and_loses_nothing(
    small_disk: SmallDisk, tmp_path: Path
) -> None:
    url = small_disk.url
    daemon = start_daemon(tmp_path / "data", extra=["--state-store", url, "--history-store", url])
    try:
        with daemon.client(timeout=30) as client:
            acknowledged: list[str] = []
            with pytest.raises(ResourceExhaustedError, match=r"53100|space"):  # noqa: PT012
                for batch in range(200):  # ~0.5 MiB each: the disk is full long before
                    message = _noise(1024)
                    records = [
                        replace(record(f"r-{batch}-{n}"), error_message=message) for n in range(500)
                    ]
                    client.history.record_batch(records)
                    acknowledged += [r.id for r in records]
            assert acknowledged, "the disk was full before anything was written"
            big = ExecutionContext(workflow_id="big", inputs={"blob": _noise(200_000)})
            with pytest.raises(ResourceExhaustedError):
                client.state.save(big)

            # Reads may fail too while the disk is full (a backend that must write out a
            # dirty page to make room gets ENOSPC): check what is stored once there is room.
            small_disk.grow()
            stats = client.history.get_stats(HistoryFilter())
            assert stats.total_executions == len(acknowledged)  # nothing torn, nothing lost
            assert client.state.load("big") is None
            client.history.record(record("after"))
            client.state.save(big)
            assert client.state.load("big") == big
            stats = client.history.get_stats(HistoryFilter())
            assert stats.total_executions == len(acknowledged) + 1
    finally:
        daemon.stop()

"""Nothing the daemon writes is readable by other users, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.daemon import Daemon
from tests.support.factories import full_context, record

pytestmark = pytest.mark.daemon


def _modes(root: Path) -> dict[str, int]:
    """Return the permission bits of ``root`` and of everything under it, by relative path."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(directory, name)
            found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_everything_written_under_umask_0_is_private(
    start: Callable[..., Daemon],
) -> None:
    daemon = start(umask=0)
    with daemon.client(timeout=10) as client:
        for number in range(3):
            client.state.save(full_context(f"run-{number}"))
        client.state.delete("run-2")
        now = datetime.now(UTC)
        client.history.record_batch(
            [record(f"rec-{n}", completed_at=now - timedelta(minutes=n)) for n in range(5)]
        )
        client.history.cleanup(timedelta(days=365))
        modes = _modes(daemon.data_dir)  # while running: the WAL and shm files exist
    assert modes["."] == 0o700
    assert modes["state"] == 0o700
    assert {"state/run-0.json", "state/run-1.json", "history.db"} <= modes.keys()
    assert any(name.endswith("-wal") for name in modes), modes
    assert any(name.startswith("state/.wfstore-locks/") for name in modes), modes
    exposed = {name: f"{mode:03o}" for name, mode in modes.items() if mode & 0o077}
    assert exposed == {}


def test_missing_parents_of_the_data_dir_are_private_too(
    start: Callable[..., Daemon], tmp_path: Path
) -> None:
    nested = tmp_path / "srv" / "wfstore" / "data"
    daemon = start(umask=0, data_dir=nested)
    with daemon.client(timeout=10) as client:
        client.state.save(full_context("run-1"))
    for path in (tmp_path / "srv", tmp_path / "srv" / "wfstore", nested):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path


def test_an_existing_open_data_dir_is_warned_about_and_left_alone(
    start: Callable[..., Daemon], tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    daemon = start(data_dir=shared)
    assert "data directory" in daemon.stderr()
    assert "has mode 755" in daemon.stderr()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755  # the operator's choice stands

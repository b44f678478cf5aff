"""Storage that fails under a running daemon: full disk, file size limit, I/O errors,
read-only and vanished data directories. Each failure gets a clear status, the previous state
stays readable, no temp file is left, the daemon keeps serving, and it recovers once fixed."""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from wfstore import (
    Client,
    ExecutionContext,
    HistoryFilter,
    ResourceExhaustedError,
    RetryPolicy,
    UnavailableError,
)
from wfstored import JSONStateStore

from tests.support.daemon import Daemon, serving, start_daemon
from tests.support.factories import full_context, record
from tests.support.small_disk import small_tmpfs

pytestmark = pytest.mark.daemon

_NO_RETRY = RetryPolicy(max_attempts=1)
_IS_ROOT = os.geteuid() == 0


def _big_state(workflow_id: str, size: int) -> ExecutionContext:
    return ExecutionContext(workflow_id=workflow_id, inputs={"blob": "x" * size})


def _temp_files(data: Path) -> list[str]:
    return sorted(p.name for p in (data / "state").glob(".wfstore-*.tmp"))


@contextlib.contextmanager
def _running(data: Path) -> Iterator[tuple[Daemon, Client]]:
    with serving(data, unix=False) as daemon, daemon.client(timeout=10, retry=_NO_RETRY) as client:
        yield daemon, client


def _assert_still_serving(client: Client, workflow_id: str, expected: ExecutionContext) -> None:
    assert client.state.load(workflow_id) == expected
    assert workflow_id in client.state.list()


# --- Disk full -------------------------------------------------------------------------------


def _fill(directory: Path) -> Path:
    """Write a file in ``directory`` until the file system is full; return it."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0"):  # the last bytes in small steps
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, chunk)
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_is_resource_exhausted_and_keeps_the_previous_state() -> None:
    with small_tmpfs(4) as mount, _running(mount / "data") as (daemon, client):
        previous = full_context("victim")
        client.state.save(previous)
        client.history.record(record("before"))
        filler = _fill(mount)

        with pytest.raises(ResourceExhaustedError, match="No space left on device") as saved:
            client.state.save(_big_state("victim", 200_000))
        assert "saving the state of 'victim'" in saved.value.message
        with pytest.raises(ResourceExhaustedError, match="disk is full"):
            client.history.record_batch([record(f"full-{n}") for n in range(2000)])

        _assert_still_serving(client, "victim", previous)
        assert _temp_files(mount / "data") == []
        assert [r.id for r in client.history.list(HistoryFilter())] == ["before"]
        assert "Traceback" not in daemon.stderr()

        filler.unlink()  # space is back: the same calls now succeed
        client.state.save(_big_state("victim", 200_000))
        client.history.record_batch([record(f"full-{n}") for n in range(2000)])
        assert client.history.get_stats(HistoryFilter()).total_executions == 2001


# --- File size limit -------------------------------------------------------------------------


@contextlib.contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    """Lower RLIMIT_FSIZE for the processes started inside the block (they inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_the_file_size_limit_is_resource_exhausted_and_keeps_the_previous_state(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with _file_size_limit(256 * 1024):  # above history.db and its WAL, below the big state
        daemon = start_daemon(data, unix=False)
    try:
        with daemon.client(timeout=10, retry=_NO_RETRY) as client:
            previous = full_context("victim")
            client.state.save(previous)
            with pytest.raises(ResourceExhaustedError, match="file size limit") as caught:
                client.state.save(_big_state("victim", 400_000))
            assert "saving the state of 'victim'" in caught.value.message
            _assert_still_serving(client, "victim", previous)
            assert _temp_files(data) == []
            client.state.save(full_context("small"))  # smaller writes still work
            client.history.record(record("still-recording"))
    finally:
        assert daemon.stop() == 0, daemon.stderr()
    assert "Traceback" not in daemon.stderr()


# --- I/O errors (injected at the adapter's write boundary) -----------------------------------


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_an_io_error_is_unavailable_and_keeps_the_previous_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    store = JSONStateStore(tmp_path / "state")
    previous = full_context("victim")
    store.save(previous)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    with monkeypatch.context() as patch:
        if failing == "fsync":
            patch.setattr(os, "fsync", broken)
        else:
            patch.setattr(os, "replace", broken)
        with pytest.raises(UnavailableError, match="Input/output error") as caught:
            store.save(_big_state("victim", 10))
    assert "saving the state of 'victim'" in caught.value.message
    assert store.load("victim") == previous
    assert sorted(p.name for p in (tmp_path / "state").glob("*.tmp")) == []
    store.save(_big_state("victim", 10))  # the store is usable at once
    assert store.load("victim") == _big_state("victim", 10)


# --- Read-only data directory ----------------------------------------------------------------


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable: chattr +i as root (root ignores modes), chmod otherwise."""
    if _IS_ROOT:
        command = ["chattr", "+i", str(path)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot make {path} immutable as root: {done.stderr.strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        return
    mode = path.stat().st_mode
    path.chmod(0o500 if path.is_dir() else 0o400)
    try:
        yield
    finally:
        path.chmod(mode)


def test_a_read_only_data_dir_is_unavailable_for_writes_and_recovers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with _running(data) as (daemon, client):
        previous = full_context("kept")
        client.state.save(previous)
        client.history.record(record("kept"))
        with _read_only(data / "state"):
            for call in (
                lambda: client.state.save(full_context("new")),
                lambda: client.state.save(full_context("kept")),
                lambda: client.state.delete("kept"),
            ):
                with pytest.raises(UnavailableError, match="state") as caught:
                    call()
                assert "not permitted" in caught.value.message or "denied" in caught.value.message
            _assert_still_serving(client, "kept", previous)  # reads still work
        # WAL mode: a commit writes the -wal file, a checkpoint the database itself.
        with _read_only(data / "history.db"), _read_only(data / "history.db-wal"):
            with pytest.raises(UnavailableError, match="history database"):
                client.history.record(record("refused"))
            assert [r.id for r in client.history.list(HistoryFilter())] == ["kept"]
        client.state.save(full_context("new"))  # writable again: it just works
        client.history.record(record("refused"))
        assert client.state.list() == ["kept", "new"]
        assert client.history.get_stats(HistoryFilter()).total_executions == 2
        assert _temp_files(data) == []
        assert "Traceback" not in daemon.stderr()


# --- Vanished data directory -----------------------------------------------------------------


def _backup(database: Path, copy: Path) -> None:
    """Copy a live SQLite database consistently (its WAL included) with the backup API."""
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def test_a_vanished_data_dir_is_unavailable_until_it_is_restored(tmp_path: Path) -> None:
    data = tmp_path / "data"
    backup = tmp_path / "backup"
    with _running(data) as (daemon, client):
        previous = full_context("kept")
        client.state.save(previous)
        client.history.record(record("kept"))
        backup.mkdir()
        shutil.copytree(data / "state", backup / "state")
        _backup(data / "history.db", backup / "history.db")
        shutil.rmtree(data)

        for call in (
            lambda: client.state.load("kept"),
            lambda: client.state.save(full_context("lost")),
            client.state.list,
            lambda: client.history.record(record("lost")),
            lambda: client.history.list(HistoryFilter()),
        ):
            with pytest.raises(UnavailableError, match="removed while in use"):
                call()
        assert not data.exists()  # nothing was silently made anew
        client.wait_until_ready(5)  # the daemon itself is fine

        shutil.copytree(backup, data)  # the operator restores the backup
        _assert_still_serving(client, "kept", previous)
        client.state.save(full_context("after"))
        client.history.record(record("after"))
        assert {r.id for r in client.history.list(HistoryFilter())} == {"after", "kept"}
        assert "Traceback" not in daemon.stderr()
    # The records written after the restore are in the restored file, not in a deleted one.
    with _running(data) as (_, client):
        assert {r.id for r in client.history.list(HistoryFilter())} == {"after", "kept"}
        assert client.state.list() == ["after", "kept"]

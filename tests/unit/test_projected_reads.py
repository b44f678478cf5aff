"""Projected reads (the daemon's Load path): reused while the bytes are the same, never stale.

The cache is checked against the bytes read on every call, so the adversarial cases here are
the ones a (inode, size, mtime) key would get wrong: the same file rewritten in place with other
bytes of the same length and its mtime set back, and an unstamped Go file whose version is its
mtime.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from wfstore.awf_state import encode_state
from wfstore.domain import ExecutionContext, ExecutionStatus, StoredState
from wfstore.errors import DataCorruptedError
from wfstored.storage.files.state_store import JSONStateStore
from wfstored.storage.shared.projection_cache import ProjectionCache

GO_FIXTURES = Path(__file__).parents[1] / "fixtures" / "awf-go-state"

calls: list[str] = []


def project(stored: StoredState) -> tuple[str, str, int]:
    """A projection that records each time it runs."""
    calls.append(stored.state.workflow_id)
    return (stored.state.workflow_id, stored.state.current_step, stored.version)


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    calls.clear()


def make_state(workflow_id: str, step: str) -> ExecutionContext:
    """A small state whose current step names it."""
    return ExecutionContext(
        workflow_id=workflow_id,
        workflow_name="deploy",
        status=ExecutionStatus.RUNNING,
        current_step=step,
    )


def test_an_unchanged_file_is_projected_once(tmp_path: Path) -> None:
    store = JSONStateStore(tmp_path)
    version = store.save(make_state("w", "a"))
    first = store.get_projected("w", project)
    second = store.get_projected("w", project)
    assert first == ("w", "a", version)
    assert second is first
    assert calls == ["w"]


def test_a_missing_id_is_none_and_a_save_is_seen_at_once(tmp_path: Path) -> None:
    store = JSONStateStore(tmp_path)
    assert store.get_projected("w", project) is None
    store.save(make_state("w", "a"))
    assert store.get_projected("w", project)[1] == "a"  # type: ignore[index]
    version = store.save(make_state("w", "b"))
    assert store.get_projected("w", project) == ("w", "b", version)
    store.delete("w")
    assert store.get_projected("w", project) is None


def test_a_write_by_another_store_is_seen(tmp_path: Path) -> None:
    reader, writer = JSONStateStore(tmp_path), JSONStateStore(tmp_path)
    writer.save(make_state("w", "a"))
    assert reader.get_projected("w", project)[1] == "a"  # type: ignore[index]
    version = writer.save(make_state("w", "b"))
    assert reader.get_projected("w", project) == ("w", "b", version)


def test_same_length_bytes_written_in_place_with_the_old_mtime_are_seen(tmp_path: Path) -> None:
    store = JSONStateStore(tmp_path)
    store.save(make_state("w", "aaaa"))
    path = tmp_path / "w.json"
    before = path.stat()
    assert store.get_projected("w", project)[1] == "aaaa"  # type: ignore[index]
    data = path.read_bytes()
    with path.open("r+b") as file:  # same inode, same size
        file.write(data.replace(b'"aaaa"', b'"bbbb"'))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    assert store.get_projected("w", project)[1] == "bbbb"  # type: ignore[index]


def test_an_unstamped_go_file_gets_its_new_version_when_only_its_mtime_changes(
    tmp_path: Path,
) -> None:
    workflow_id = "b1e2c3d4-5f60-4a7b-8c9d-0e1f2a3b4c5d"  # the fixture's own id
    shutil.copy(GO_FIXTURES / "running.json", tmp_path / f"{workflow_id}.json")
    store = JSONStateStore(tmp_path)
    first = store.get_projected(workflow_id, project)
    assert first is not None
    path = tmp_path / f"{workflow_id}.json"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    second = store.get_projected(workflow_id, project)
    assert second is not None
    assert second[2] != first[2]
    assert second == (first[0], first[1], store.get(workflow_id).version)  # type: ignore[union-attr]


def test_a_corrupted_file_raises_every_time_and_is_not_kept(tmp_path: Path) -> None:
    store = JSONStateStore(tmp_path)
    store.save(make_state("w", "a"))
    (tmp_path / "w.json").write_bytes(b'{"WorkflowID": "w", "Status": ')
    for _ in range(2):
        with pytest.raises(DataCorruptedError):
            store.get_projected("w", project)
    store.save(make_state("w", "c"))
    assert store.get_projected("w", project)[1] == "c"  # type: ignore[index]


def test_the_projection_agrees_with_get(tmp_path: Path) -> None:
    store = JSONStateStore(tmp_path)
    store.save(make_state("w", "a"))
    assert store.get_projected("w", lambda stored: stored) == store.get("w")


def test_the_budget_bounds_what_is_kept(tmp_path: Path) -> None:
    one_file = len(encode_state(make_state("w-000", "a"))) + 64
    store = JSONStateStore(tmp_path, cache_bytes=10 * 2 * one_file)
    for n in range(50):
        store.save(make_state(f"w-{n:03d}", "a"))
        store.get_projected(f"w-{n:03d}", project)
    store.get_projected("w-000", project)  # evicted long ago: projected again
    assert calls.count("w-000") == 2
    assert store.get_projected("w-049", project) is not None
    assert calls.count("w-049") == 1


def test_a_zero_budget_keeps_nothing() -> None:
    cache: ProjectionCache[int] = ProjectionCache(0)
    made: list[int] = []
    for _ in range(3):
        cache.get("k", b"x", 1, lambda: made.append(1) or len(made))
    assert len(made) == 3
    assert len(cache) == 0
    assert cache.size_bytes == 0


def test_the_cache_accounts_for_replaced_and_forgotten_entries() -> None:
    cache: ProjectionCache[bytes] = ProjectionCache(1000)
    cache.get("k", b"a" * 10, 1, lambda: b"r" * 5)
    assert cache.size_bytes == 15
    cache.get("k", b"b" * 20, 1, lambda: b"r" * 5)
    assert cache.size_bytes == 25
    cache.forget("k")
    assert (len(cache), cache.size_bytes) == (0, 0)

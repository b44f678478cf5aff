"""List from inotify (LiveListing): every change by anyone is seen at once, without rescans.

The truth each listing is checked against is a fresh scan of the directory. Changes are made
by the store, by another store (as another daemon would), by another process, and by hand:
files written, renamed in and out, replaced by directories and symbolic links.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from wfstore import ExecutionContext
from wfstore.errors import UnavailableError
from wfstored.storage.files import live_listing
from wfstored.storage.files.state_store import JSONStateStore


def truth(directory: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids a fresh scan finds (regular ``*.json`` files with valid ids), without inotify."""
    with monkeypatch.context() as patch:
        patch.setattr(live_listing, "open_inotify", lambda *_: None)
        store = JSONStateStore(directory, cache_bytes=0)
        try:
            return store.list()
        finally:
            store.close()


def scans(store: JSONStateStore) -> int:
    return store._live.scans


def state(workflow_id: str) -> ExecutionContext:
    return ExecutionContext(workflow_id=workflow_id, workflow_name="deploy")


def test_saves_and_deletes_by_anyone_are_listed_at_once_from_one_scan(tmp_path: Path) -> None:
    store, other = JSONStateStore(tmp_path), JSONStateStore(tmp_path)
    store.save(state("a"))
    assert store.list() == ["a"]
    other.save(state("c"))
    assert store.list() == ["a", "c"]
    store.save(state("b"))
    other.delete("a")
    assert store.list() == ["b", "c"]
    assert store.list_page(page_size=1).items == ["b"]
    script = textwrap.dedent(
        f"""
        from wfstore import ExecutionContext
        from wfstored import JSONStateStore
        s = JSONStateStore({str(tmp_path)!r})
        s.save(ExecutionContext(workflow_id="from-a-process"))
        s.delete("c")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert store.list() == ["b", "from-a-process"]
    assert scans(store) == 1


def test_files_made_by_hand_are_judged_as_a_scan_judges_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = JSONStateStore(tmp_path)
    store.save(state("keep"))
    assert store.list() == ["keep"]
    data = (tmp_path / "keep.json").read_bytes()
    (tmp_path / "by-hand.json").write_bytes(data)
    (tmp_path / "notes.txt").write_bytes(b"x")
    (tmp_path / "..json").write_bytes(data)  # not a valid id
    (tmp_path / "a-dir.json").mkdir()
    (tmp_path / "link.json").symlink_to(tmp_path / "keep.json")
    (tmp_path / "elsewhere.tmp").write_bytes(data)
    (tmp_path / "elsewhere.tmp").rename(tmp_path / "moved-in.json")
    assert store.list() == ["by-hand", "keep", "moved-in"] == truth(tmp_path, monkeypatch)
    (tmp_path / "moved-in.json").rename(tmp_path / "moved-out.txt")
    (tmp_path / "by-hand.json").unlink()
    (tmp_path / "by-hand.json").mkdir()  # a directory where the file was
    assert store.list() == ["keep"] == truth(tmp_path, monkeypatch)
    (tmp_path / "by-hand.json").rmdir()
    (tmp_path / "by-hand.json").write_bytes(data)
    assert store.list() == ["by-hand", "keep"] == truth(tmp_path, monkeypatch)
    assert scans(store) == 1


def test_random_changes_always_list_as_a_fresh_scan_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, other = JSONStateStore(tmp_path), JSONStateStore(tmp_path)
    rng = random.Random(13)  # noqa: S311 (a reproducible test, not cryptography)
    ids = [f"id-{n:02d}" for n in range(30)]
    for _ in range(400):
        workflow_id = rng.choice(ids)
        writer = rng.choice((store, other))
        action = rng.random()
        if action < 0.45:
            writer.save(state(workflow_id))
        elif action < 0.8:
            writer.delete(workflow_id)
        elif action < 0.9:
            (tmp_path / f"{workflow_id}.json").unlink(missing_ok=True)
        else:
            other_id = rng.choice(ids)
            source = tmp_path / f"{workflow_id}.json"
            if source.exists():
                source.rename(tmp_path / f"{other_id}.json")
        if rng.random() < 0.3:
            assert store.list() == truth(tmp_path, monkeypatch)
            page = store.list_page(page_size=7)
            assert page.items == truth(tmp_path, monkeypatch)[:7]
    assert store.list() == truth(tmp_path, monkeypatch)
    assert scans(store) == 1


def test_a_removed_directory_is_unavailable_and_a_new_one_is_scanned(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    store = JSONStateStore(directory)
    store.save(state("a"))
    assert store.list() == ["a"]
    for path in directory.rglob("*"):
        if path.is_file():
            path.unlink()
    for path in sorted(directory.rglob("*"), reverse=True):
        path.rmdir()
    directory.rmdir()
    with pytest.raises(UnavailableError):
        store.list()
    directory.mkdir()
    (directory / "b.json").write_bytes(b"{}")
    assert store.list() == ["b"]
    assert scans(store) == 2


def test_a_queue_overflow_makes_the_next_list_scan_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 50_000:
        pytest.skip(f"max_queued_events is {limit}: too many files to overflow it here")
    store = JSONStateStore(tmp_path)
    store.save(state("first"))
    assert store.list() == ["first"]
    data = (tmp_path / "first.json").read_bytes()
    for n in range(limit + 10):  # one event each: more than the kernel queues
        fd = os.open(tmp_path / f"f-{n:06d}.json", os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, data)
        os.close(fd)
    listed = store.list()
    assert len(listed) == limit + 11
    assert listed == truth(tmp_path, monkeypatch)
    assert scans(store) == 2


def test_without_inotify_list_scans_and_stays_correct(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_listing, "open_inotify", lambda *_: None)
    store = JSONStateStore(tmp_path)
    store.save(state("a"))
    store.save(state("b"))
    store.delete("a")
    assert store.list() == ["b"]
    assert store.list_page(page_size=1).items == ["b"]
    assert scans(store) == 0


def test_a_closed_store_lets_its_watch_go(tmp_path: Path) -> None:
    store = JSONStateStore(tmp_path)
    store.save(state("a"))
    assert store.list() == ["a"]
    store.close()
    assert store._live._fd == -1

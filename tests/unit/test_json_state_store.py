"""JSONStateStore: atomic files, striped locks, path safety, corruption, concurrency and paging."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from filelock import FileLock
from wfstore.awf_state import decode_state, encode_state
from wfstore.domain import ExecutionContext, ExecutionStatus, StepState
from wfstore.errors import (
    ConflictError,
    DataCorruptedError,
    InvalidArgumentError,
    StoreClosedError,
    UnavailableError,
)
from wfstore.ports import StateStore
from wfstore.timestamps import Timestamp
from wfstored.storage.files import live_listing
from wfstored.storage.files.state_store import LOCK_DIR_NAME, JSONStateStore, stripe_of
from wfstored.storage.files.versions import stamp
from wfstored.storage.shared.page_tokens import encode_page_token

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def make_state(workflow_id: str, writer: str = "main", n: int = 0) -> ExecutionContext:
    """A state whose payload size varies and whose content can be checked for consistency."""
    return ExecutionContext(
        workflow_id=workflow_id,
        workflow_name="demo",
        status=ExecutionStatus.RUNNING,
        inputs={"writer": writer, "n": n, "payload": f"{writer}:{n}:" + "x" * (n * 97 % 5000)},
        states={"s": StepState(name="s", attempt=n % 7)},
        started_at=Timestamp(2025, 3, 14, 9, 26, 53, 589793, UTC, nanosecond=238),
        updated_at=datetime(2025, 3, 14, 9, 27, tzinfo=UTC),
    )


def assert_consistent(state: ExecutionContext) -> None:
    """A loaded state must be one complete save, never a mix of two."""
    writer, n = state.inputs["writer"], state.inputs["n"]
    assert state.inputs["payload"] == f"{writer}:{n}:" + "x" * (n * 97 % 5000)
    assert state.states["s"].attempt == n % 7


def temp_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def snapshot(root: Path) -> dict[str, int]:
    """Every path under root with its size (0 for directories)."""
    return {
        str(p.relative_to(root)): (p.lstat().st_size if p.is_file() else 0) for p in root.rglob("*")
    }


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "data" / "state"


@pytest.fixture
def store(directory: Path) -> Iterator[JSONStateStore]:
    store = JSONStateStore(directory)
    yield store
    store.close()


# --- Layout -------------------------------------------------------------------------------------


def test_implements_the_state_store_port(store: JSONStateStore) -> None:
    assert isinstance(store, StateStore)


def test_constructor_touches_nothing(directory: Path) -> None:
    JSONStateStore(directory)
    assert not directory.parent.exists()


def test_save_writes_one_awf_file_atomically(store: JSONStateStore, directory: Path) -> None:
    state = make_state("run-1", n=3)
    version = store.save(state)
    path = directory / "run-1.json"
    assert path.read_bytes() == stamp(encode_state(state), version)
    assert path.read_bytes().endswith(b',\n  "WfstoreVersion": %d\n}' % version)
    assert mode(path) == 0o600
    assert mode(directory) == 0o700
    assert mode(directory.parent) == 0o700
    lock_dir = directory / LOCK_DIR_NAME
    assert mode(lock_dir) == 0o700
    lock_files = list(lock_dir.iterdir())
    assert [p.name for p in lock_files] == [f"{stripe_of('run-1')}.lock"]
    assert all(mode(p) == 0o600 for p in lock_files)
    assert sorted(p.name for p in directory.iterdir()) == [
        ".wfstore-changes",
        LOCK_DIR_NAME,
        "run-1.json",
    ]
    change_log = directory / ".wfstore-changes"
    assert mode(change_log) == 0o700
    assert all(mode(p) == 0o600 for p in change_log.iterdir())
    assert store.load("run-1") == state


def test_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    store = JSONStateStore(directory)
    store.save(make_state("a"))
    assert mode(directory) == 0o755
    assert mode(directory / "a.json") == 0o600


def test_stripe_is_stable_across_processes() -> None:
    code = (
        "from wfstored.storage.files.state_store import stripe_of;"
        " print(stripe_of('run-1'), stripe_of('é'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == [str(stripe_of("run-1")), str(stripe_of("é"))]
    assert all(0 <= stripe_of(f"id-{i}") < 64 for i in range(200))
    assert len({stripe_of(f"id-{i}") for i in range(200)}) > 32


def test_save_replaces_and_delete_removes(store: JSONStateStore, directory: Path) -> None:
    store.save(make_state("a", n=1))
    store.save(make_state("a", n=2))
    loaded = store.load("a")
    assert loaded is not None
    assert loaded.inputs["n"] == 2
    assert store.list() == ["a"]
    store.delete("a")
    assert store.load("a") is None
    assert store.list() == []
    assert not (directory / "a.json").exists()
    store.delete("a")  # missing is fine
    assert temp_files(directory) == []


def test_load_and_delete_of_unknown_ids(store: JSONStateStore) -> None:
    assert store.load("never-saved") is None
    store.delete("never-saved")
    assert store.list() == []


def test_go_written_file_is_loaded(store: JSONStateStore, directory: Path) -> None:
    directory.mkdir(parents=True)
    state = make_state("from-awf")
    (directory / "from-awf.json").write_bytes(encode_state(state))
    assert store.load("from-awf") == state


# --- Stale temp files -----------------------------------------------------------------------------


def test_stale_temp_files_are_removed_on_first_use(directory: Path) -> None:
    directory.mkdir(parents=True)
    (directory / "keep.json").write_bytes(encode_state(make_state("keep")))
    stale = [".wfstore-5-0123abcd.tmp", ".wfstore-63-ffff.tmp", ".wfstore-0-x.tmp"]
    for name in stale:
        (directory / name).write_bytes(b'{"WorkflowID": "half')
    others = ["notes.tmp", ".wfstore-64-abcd.tmp", ".wfstore-x-abcd.tmp", "user.json.tmp"]
    for name in others:
        (directory / name).write_bytes(b"not ours")
    store = JSONStateStore(directory)
    assert store.list() == ["keep"]
    assert temp_files(directory) == sorted(others)
    assert store.load("keep") == make_state("keep")


def test_sweep_waits_for_a_live_writer_of_the_stripe(directory: Path) -> None:
    (directory / LOCK_DIR_NAME).mkdir(parents=True)
    temp = directory / ".wfstore-7-live.tmp"
    temp.write_bytes(b"{")
    other_process_lock = FileLock(directory / LOCK_DIR_NAME / "7.lock")
    store = JSONStateStore(directory)
    with other_process_lock:
        worker = threading.Thread(target=store.list)
        worker.start()
        time.sleep(0.3)
        assert worker.is_alive()
        assert temp.exists()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert not temp.exists()


def test_save_waits_for_the_stripe_file_lock(store: JSONStateStore, directory: Path) -> None:
    store.save(make_state("locked", n=1))
    lock_path = directory / LOCK_DIR_NAME / f"{stripe_of('locked')}.lock"
    other_process_lock = FileLock(lock_path)
    with other_process_lock:
        worker = threading.Thread(target=store.save, args=(make_state("locked", n=2),))
        worker.start()
        time.sleep(0.3)
        assert worker.is_alive()
        loaded = store.load("locked")  # reads need no lock
        assert loaded is not None
        assert loaded.inputs["n"] == 1
    worker.join(timeout=10)
    loaded = store.load("locked")
    assert loaded is not None
    assert loaded.inputs["n"] == 2


# --- Listing ------------------------------------------------------------------------------------


def test_list_ignores_everything_but_state_files(store: JSONStateStore, directory: Path) -> None:
    store.save(make_state("a"))
    store.save(make_state("b"))
    (directory / "notes.txt").write_text("x")
    (directory / "b.json.bak").write_text("x")
    (directory / ".json").write_text("{}")
    (directory / "bad\x01id.json").write_text("{}")
    (directory / ".wfstore-3-abcdef.tmp").write_text("{}")
    (directory / "sub.json").mkdir()
    (directory / "link.json").symlink_to(directory / "a.json")
    (directory / "dangling.json").symlink_to(directory / "missing.json")
    assert store.list() == ["a", "b"]
    assert store.list_page().items == ["a", "b"]


def test_list_is_sorted_by_code_point(store: JSONStateStore) -> None:
    ids = ["z", "B", "a", "\u00e9", "A1", "a b", ".hidden", "\U0001f600", "\uffff"]
    for workflow_id in ids:
        store.save(make_state(workflow_id))
    listed = store.list()
    assert listed == sorted(ids)
    assert listed == sorted(ids, key=lambda i: i.encode())
    assert listed[:3] == [".hidden", "A1", "B"]


def test_a_directory_removed_in_use_is_unavailable_until_it_is_back(
    store: JSONStateStore, directory: Path
) -> None:
    store.save(make_state("a"))
    shutil.rmtree(directory)
    calls = [
        lambda: store.save(make_state("b")),
        lambda: store.load("a"),
        lambda: store.delete("a"),
        store.list,
        store.list_page,
    ]
    for call in calls:
        with pytest.raises(UnavailableError, match="removed while in use") as caught:
            call()
        assert str(directory) in caught.value.message
    assert not directory.exists()  # never silently made again, empty
    directory.mkdir()  # restored (empty, without the lock directory)
    assert store.load("a") is None
    store.save(make_state("b"))
    assert store.list() == ["b"]
    assert (directory / LOCK_DIR_NAME).is_dir()
    assert (directory / ".wfstore-changes").is_dir()


# --- Path safety --------------------------------------------------------------------------------

BAD_IDS = [
    "",
    ".",
    "..",
    "a/b",
    "../escape",
    "/abs",
    "a\\b",
    "nul\x00",
    "tab\tx",
    "del\x7f",
    "x" * 251,
]


@pytest.mark.parametrize("bad_id", BAD_IDS, ids=repr)
def test_invalid_ids_are_rejected_and_touch_nothing(tmp_path: Path, bad_id: str) -> None:
    directory = tmp_path / "state"
    store = JSONStateStore(directory)
    store.save(make_state("existing"))
    before = snapshot(tmp_path)
    with pytest.raises(InvalidArgumentError):
        store.load(bad_id)
    with pytest.raises(InvalidArgumentError):
        store.delete(bad_id)
    with pytest.raises(InvalidArgumentError):
        store.save(make_state(bad_id))
    assert snapshot(tmp_path) == before


def test_escaping_ids_do_not_reach_outside(tmp_path: Path) -> None:
    outside = tmp_path / "escape.json"
    outside.write_bytes(encode_state(make_state("escape")))
    store = JSONStateStore(tmp_path / "state")
    with pytest.raises(InvalidArgumentError):
        store.delete("../escape")
    with pytest.raises(InvalidArgumentError):
        store.load("../escape")
    assert outside.exists()


@pytest.mark.parametrize(
    "good_id", ["v1.2.3", "a b", ".hidden", "...", "x.json", "caf\u00e9", "a" * 250, "-rf"]
)
def test_unusual_but_valid_ids_work(store: JSONStateStore, directory: Path, good_id: str) -> None:
    state = make_state(good_id)
    store.save(state)
    assert (directory / f"{good_id}.json").is_file()
    assert store.load(good_id) == state
    assert store.list() == [good_id]
    store.delete(good_id)
    assert store.list() == []


# --- Corruption and failures --------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"null", b"\xff\xfe", b'{"Status": "done"}', b'{"WorkflowID": "someone-else"}'],
)
def test_corrupted_file_raises_and_other_ids_keep_working(
    store: JSONStateStore, directory: Path, content: bytes
) -> None:
    store.save(make_state("good"))
    (directory / "bad.json").write_bytes(content)
    with pytest.raises(DataCorruptedError, match=r"state of 'bad' is corrupted"):
        store.load("bad")
    assert store.list() == ["bad", "good"]
    assert store.load("good") == make_state("good")
    store.save(make_state("bad", n=5))  # a save repairs it
    assert store.load("bad") == make_state("bad", n=5)


def test_non_regular_files_are_corrupted_states(store: JSONStateStore, directory: Path) -> None:
    store.save(make_state("target"))
    (directory / "link.json").symlink_to(directory / "target.json")
    (directory / "dir.json").mkdir()
    os.mkfifo(directory / "fifo.json")
    for workflow_id in ["link", "dir", "fifo"]:
        with pytest.raises(DataCorruptedError, match=rf"state of '{workflow_id}' is corrupted"):
            store.load(workflow_id)
    assert store.load("target") == make_state("target")


def test_failed_rename_leaves_no_temp_file(store: JSONStateStore, directory: Path) -> None:
    store.save(make_state("other"))
    (directory / "blocked.json").mkdir()
    with pytest.raises(DataCorruptedError, match="'blocked' cannot be saved: its file is a dir"):
        store.save(make_state("blocked"))
    assert temp_files(directory) == []
    assert (directory / "blocked.json").is_dir()
    assert store.load("other") == make_state("other")


FAILING_WRITE = textwrap.dedent(
    """
    import errno, resource, signal, sys
    from wfstored.storage.files.state_store import JSONStateStore
    from wfstore.domain import ExecutionContext
    from wfstore.errors import ResourceExhaustedError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
    big = ExecutionContext(workflow_id="victim", inputs={"blob": "y" * 100_000})
    try:
        JSONStateStore(sys.argv[1]).save(big)
    except ResourceExhaustedError as exc:
        print(exc.message)
        sys.exit(0 if exc.__cause__.errno == errno.EFBIG else 3)
    sys.exit(2)
    """
)


def test_failed_write_keeps_the_previous_file(store: JSONStateStore, directory: Path) -> None:
    previous = make_state("victim", n=4)
    store.save(previous)
    before = (directory / "victim.json").read_bytes()
    result = subprocess.run(
        [sys.executable, "-c", FAILING_WRITE, str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "saving the state of 'victim'" in result.stdout
    assert "file size limit" in result.stdout
    assert (directory / "victim.json").read_bytes() == before
    assert temp_files(directory) == []
    assert store.load("victim") == previous


# --- Concurrency --------------------------------------------------------------------------------


THREAD_IDS = ["t-0", "t-1", "t-2"]


def write_in_thread(store: JSONStateStore, writer: int, errors: list[BaseException]) -> None:
    try:
        for n in range(25):
            store.save(make_state(THREAD_IDS[n % len(THREAD_IDS)], writer=f"w{writer}", n=n))
    except BaseException as exc:  # noqa: BLE001 (reported by the test thread)
        errors.append(exc)


def read_in_thread(
    store: JSONStateStore, done: threading.Event, errors: list[BaseException]
) -> None:
    try:
        while not done.is_set():
            for workflow_id in THREAD_IDS:
                state = store.load(workflow_id)
                if state is not None:
                    assert_consistent(state)
            store.list()
    except BaseException as exc:  # noqa: BLE001 (reported by the test thread)
        errors.append(exc)


def test_concurrent_threads_never_tear_a_file(store: JSONStateStore, directory: Path) -> None:
    errors: list[BaseException] = []
    done = threading.Event()
    writers = [threading.Thread(target=write_in_thread, args=(store, i, errors)) for i in range(8)]
    readers = [
        threading.Thread(target=read_in_thread, args=(store, done, errors)) for _ in range(2)
    ]
    for thread in writers + readers:
        thread.start()
    for thread in writers:
        thread.join(timeout=30)
    done.set()
    for thread in readers:
        thread.join(timeout=30)
    assert errors == []
    assert store.list() == THREAD_IDS
    for workflow_id in THREAD_IDS:
        state = store.load(workflow_id)
        assert state is not None
        assert_consistent(state)
    assert temp_files(directory) == []


WRITER_PROCESS = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from wfstored.storage.files.state_store import JSONStateStore
    from wfstore.domain import ExecutionContext, StepState

    directory, writer, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    store = JSONStateStore(directory)
    deadline = time.monotonic() + 20
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    for n in range(30):
        workflow_id = ("p-0", "p-1")[n % 2]
        store.save(ExecutionContext(
            workflow_id=workflow_id,
            workflow_name="demo",
            status="running",
            inputs={"writer": writer, "n": n,
                    "payload": f"{writer}:{n}:" + "x" * (n * 97 % 5000)},
            states={"s": StepState(name="s", attempt=n % 7)},
        ))
    store.close()
    """
)


def test_concurrent_processes_never_tear_a_file(store: JSONStateStore, tmp_path: Path) -> None:
    directory = tmp_path / "data" / "state"
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER_PROCESS, str(directory), f"proc{i}", str(go)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    seen: set[str] = set()
    try:
        go.touch()
        while any(p.poll() is None for p in processes):
            for workflow_id in ["p-0", "p-1"]:
                state = store.load(workflow_id)
                if state is not None:
                    assert_consistent(state)
                    seen.add(state.inputs["writer"])
    finally:
        outputs = [p.communicate(timeout=30)[1] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    assert store.list() == ["p-0", "p-1"]
    for workflow_id in ["p-0", "p-1"]:
        state = store.load(workflow_id)
        assert state is not None
        assert_consistent(state)
        assert state.inputs["n"] in {28, 29}
    assert temp_files(directory) == []
    assert seen  # the reader did see states while the writers ran


# --- Close --------------------------------------------------------------------------------------


def test_close_is_idempotent_and_final(store: JSONStateStore, directory: Path) -> None:
    store.save(make_state("kept"))
    store.close()
    store.close()
    calls: list[Callable[[], object]] = [
        lambda: store.save(make_state("x")),
        lambda: store.load("kept"),
        lambda: store.delete("kept"),
        store.list,
        store.list_page,
        lambda: store.list_page(5, "token"),
    ]
    for call in calls:
        with pytest.raises(StoreClosedError):
            call()
    assert JSONStateStore(directory).load("kept") == make_state("kept")


# --- Paging -------------------------------------------------------------------------------------


def test_paging_walks_every_id_once(store: JSONStateStore) -> None:
    ids = [f"id-{i:02d}" for i in range(25)]
    for workflow_id in reversed(ids):
        store.save(make_state(workflow_id))
    pages: list[list[str]] = []
    token = ""
    while True:
        page = store.list_page(10, token)
        pages.append(page.items)
        token = page.next_page_token
        if not token:
            break
    assert [len(items) for items in pages] == [10, 10, 5]
    assert [i for items in pages for i in items] == ids == store.list()


def test_exact_last_page_has_no_next_token(store: JSONStateStore) -> None:
    for i in range(4):
        store.save(make_state(f"id-{i}"))
    first = store.list_page(2)
    assert first.next_page_token
    second = store.list_page(2, first.next_page_token)
    assert second.items == ["id-2", "id-3"]
    assert second.next_page_token == ""


def test_paging_resumes_after_a_deleted_id(store: JSONStateStore) -> None:
    for i in range(6):
        store.save(make_state(f"id-{i}"))
    first = store.list_page(3)
    assert first.items == ["id-0", "id-1", "id-2"]
    store.delete("id-2")
    store.delete("id-3")
    store.save(make_state("id-25"))
    rest = store.list_page(3, first.next_page_token)
    assert rest.items == ["id-25", "id-4", "id-5"]
    assert rest.next_page_token == ""


def test_page_size_default_and_cap(store: JSONStateStore, directory: Path) -> None:
    directory.mkdir(parents=True)
    for i in range(10_001):
        (directory / f"n{i:05d}.json").touch()
    default_page = store.list_page()
    assert len(default_page.items) == 1000
    assert default_page.items[-1] == "n00999"
    capped = store.list_page(20_000)
    assert len(capped.items) == 10_000
    assert capped.next_page_token
    last = store.list_page(20_000, capped.next_page_token)
    assert last.items == ["n10000"]
    assert last.next_page_token == ""


def test_empty_store_has_one_empty_page(store: JSONStateStore) -> None:
    page = store.list_page()
    assert page.items == []
    assert page.next_page_token == ""


@pytest.mark.parametrize("page_size", [-1, True, 1.5, "10", 2**31])
def test_bad_page_sizes_are_rejected(store: JSONStateStore, page_size: object) -> None:
    with pytest.raises(InvalidArgumentError, match="page_size"):
        store.list_page(page_size)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        "bm90IGpzb24",  # base64 of "not json"
        encode_page_token({"after": "id-1"}, "history"),
        encode_page_token({"after": 5}, "state"),
        encode_page_token({"after": ""}, "state"),
        encode_page_token({"before": "id-1"}, "state"),
    ],
)
def test_bad_page_tokens_are_rejected(store: JSONStateStore, token: str) -> None:
    store.save(make_state("id-1"))
    with pytest.raises(InvalidArgumentError, match="page_token"):
        store.list_page(10, token)


def test_non_string_page_token_is_rejected(store: JSONStateStore) -> None:
    with pytest.raises(InvalidArgumentError, match="page_token"):
        store.list_page(10, None)  # type: ignore[arg-type]


# --- Validation ---------------------------------------------------------------------------------


def test_invalid_state_is_rejected_before_anything_is_written(
    store: JSONStateStore, directory: Path
) -> None:
    with pytest.raises(InvalidArgumentError):
        store.save(ExecutionContext(workflow_id="ok", inputs={"x": float("nan")}))
    with pytest.raises(InvalidArgumentError):
        store.save(ExecutionContext(workflow_id="ok", started_at=datetime(2025, 1, 1)))  # noqa: DTZ001
    with pytest.raises(InvalidArgumentError):
        store.save("not a state")  # type: ignore[arg-type]
    assert not (directory / "ok.json").exists()


def test_saved_file_is_what_awf_reads(store: JSONStateStore, directory: Path) -> None:
    state = make_state("awf", n=9)
    store.save(state)
    assert decode_state((directory / "awf.json").read_bytes(), "awf") == state


def test_listing_cache_follows_every_change_to_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where inotify is missing, List scans, and caches only a settled directory."""
    monkeypatch.setattr(live_listing, "open_inotify", lambda *_: None)
    directory = tmp_path / "state"
    store = JSONStateStore(directory)
    for n in range(5):
        store.save(ExecutionContext(workflow_id=f"id-{n}"))
    settled = time.time() - 60
    os.utime(directory, (settled, settled))  # as if the last write were a minute ago
    assert store.list() == [f"id-{n}" for n in range(5)]
    assert store._listing is not None  # a settled directory is cached
    (directory / "id-9.json").write_bytes((directory / "id-0.json").read_bytes())
    os.utime(directory, (settled + 1, settled + 1))  # another process wrote a file
    assert store.list() == [*(f"id-{n}" for n in range(5)), "id-9"]
    store.delete("id-1")  # a fresh change is never cached, and is seen at once
    assert "id-1" not in store.list()
    assert [i for p in _pages(store) for i in p] == store.list()


def _pages(store: JSONStateStore) -> list[list[str]]:
    pages = [store.list_page(page_size=2)]
    while pages[-1].next_page_token:
        pages.append(store.list_page(page_size=2, page_token=pages[-1].next_page_token))
    return [p.items for p in pages]


def test_listing_skips_files_whose_names_are_not_valid_ids(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    store = JSONStateStore(directory)
    store.save(ExecutionContext(workflow_id="ok"))
    for bad in ["..json", "...json", ".json", "tab\there.json", "del\x7f.json", "a\\b.json"]:
        (directory / bad).write_bytes(b"{}")
    for good in ["....json", "v1.2.3.json", "a b.json", "é.json", "x:y.json"]:
        (directory / good).write_bytes(b"{}")
    assert store.list() == sorted(["ok", "...", "v1.2.3", "a b", "é", "x:y"])


def test_a_file_rewritten_by_another_tool_moves_the_version_on(
    store: JSONStateStore, directory: Path
) -> None:
    """awf drops the version key when it rewrites a file: the rewrite still counts as a change."""
    state = make_state("run-1", n=1)
    held = store.save(state)
    time.sleep(0.01)  # past the file system's timestamp granularity
    (directory / "run-1.json").write_bytes(encode_state(make_state("run-1", n=2)))  # as awf
    stored = store.get("run-1")
    assert stored is not None
    assert stored.state == make_state("run-1", n=2)
    assert stored.version > held
    assert store.get("run-1") == stored  # the same file: the same version
    with pytest.raises(ConflictError) as caught:
        store.save(state, expected_version=held)  # the writer that read before the rewrite
    assert caught.value.current_version == stored.version
    assert store.save(state, expected_version=stored.version) == stored.version + 1


def test_versions_start_at_the_time_in_microseconds(store: JSONStateStore) -> None:
    before = time.time_ns() // 1000
    first = store.save(make_state("run-1", n=1))
    assert before <= first <= time.time_ns() // 1000
    assert store.save(make_state("run-1", n=1)) == first + 1


def test_stamp_refuses_what_is_not_an_indented_object() -> None:
    with pytest.raises(ValueError, match="ends with"):
        stamp(b"[]", 1)

"""--state-store and --history-store: a daemon serves the stores its URLs name, or exits 2."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from wfstore import ExecutionContext, HistoryFilter
from wfstored import JSONStateStore, SQLiteHistoryStore

from tests.support.daemon import start_daemon, wfstored_command
from tests.support.factories import record

pytestmark = pytest.mark.daemon


def test_the_daemon_serves_the_stores_its_urls_name(tmp_path: Path) -> None:
    state_dir, db = tmp_path / "elsewhere" / "state", tmp_path / "elsewhere" / "h.db"
    daemon = start_daemon(
        tmp_path / "unused-data-dir",
        extra=["--state-store", f"file://{state_dir}", "--history-store", f"sqlite://{db}"],
    )
    try:
        with daemon.client(timeout=10) as client:
            client.state.save(ExecutionContext(workflow_id="run-1"))
            client.history.record(record("r-1"))
    finally:
        assert daemon.stop() == 0, daemon.stderr()
    assert f"state file://{state_dir}, history sqlite://{db}" in daemon.stderr()
    assert not (tmp_path / "unused-data-dir").exists()  # no store lives there: not created
    state = JSONStateStore(state_dir)
    try:
        assert state.load("run-1") == ExecutionContext(workflow_id="run-1")
    finally:
        state.close()
    with SQLiteHistoryStore(db) as history:
        assert [r.id for r in history.list(HistoryFilter())] == ["r-1"]


def _fails_with_one_line(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        wfstored_command(*args),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_an_unknown_scheme_is_one_line_and_exit_2(tmp_path: Path) -> None:
    line = _fails_with_one_line("--data-dir", str(tmp_path), "--state-store", "redis://cache/0")
    assert line.startswith("wfstored: error: --state-store: unknown state store scheme 'redis'")
    env = {"WFSTORE_HISTORY_STORE": "mysql://db/wf"}
    line = _fails_with_one_line("--data-dir", str(tmp_path), env=env)
    assert "WFSTORE_HISTORY_STORE: unknown history store scheme 'mysql'" in line


def test_a_store_that_cannot_be_opened_is_one_line_naming_its_url(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    url = f"sqlite://{blocker}/h.db"
    line = _fails_with_one_line(
        "--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0", "--history-store", url
    )
    assert f"cannot open history store {url}" in line

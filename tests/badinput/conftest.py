"""Fixtures of the bad-input suite: one daemon per module, and a raw channel to it."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from raw_calls import big_channel, unexpected_files

from tests.support.daemon import Daemon, start_daemon
from tests.support.hypothesis_profiles import load_profile

load_profile()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One wfstored for the whole module; at the end, it must have logged no traceback.

    It must also have stayed inside its data directory and exited cleanly.
    """
    running = start_daemon(tmp_path_factory.mktemp("badinput") / "data")
    try:
        yield running
    finally:
        code = running.stop()
        log = running.stderr()
        assert code == 0, log
        assert "Traceback" not in log, log
        assert "INTERNAL" not in log, log
        assert unexpected_files(running.data_dir) == []


@pytest.fixture(scope="module")
def channel(daemon: Daemon) -> Iterator[grpc.Channel]:
    """A channel that sends and receives bytes of any size to the module's daemon."""
    with big_channel(daemon.tcp_target) as opened:
        yield opened

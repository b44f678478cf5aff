"""The asyncio client against a real daemon: its own surface (async with, waits, errors)."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from wfstore import (
    AlreadyExistsError,
    DeadlineExceededError,
    HistoryFilter,
    RetryPolicy,
    StoreClosedError,
    UnavailableError,
    aio,
)

from tests.support.daemon import Daemon, wfstored_command
from tests.support.factories import full_context, record


def test_async_with_round_trips_concurrent_calls(daemon: Daemon) -> None:
    async def scenario() -> None:
        async with aio.Client(daemon.tcp_target, timeout=10) as client:
            await client.wait_until_ready(5)
            states = [full_context(f"run-{n}") for n in range(20)]
            await asyncio.gather(*(client.state.save(s) for s in states))
            loaded = await asyncio.gather(*(client.state.load(s.workflow_id) for s in states))
            assert loaded == states
            assert await client.state.load("missing") is None
            await client.history.record_batch([record(f"r-{n}") for n in range(30)])
            assert len(await client.history.list(HistoryFilter(limit=100))) == 30
            with pytest.raises(AlreadyExistsError):
                await client.history.record(record("r-1", duration_ms=7))
            assert await client.history.cleanup(timedelta(days=-1)) == 0
        with pytest.raises(StoreClosedError):
            await client.state.load("run-1")

    asyncio.run(scenario())


def test_unreachable_daemon_maps_to_store_errors() -> None:
    sock_dir = tempfile.mkdtemp(prefix="wfs-", dir="/tmp")
    retry = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02)

    async def scenario() -> None:
        async with aio.Client(f"unix://{sock_dir}/nobody.sock", timeout=5, retry=retry) as client:
            with pytest.raises(UnavailableError):
                await client.state.load("x")
            with pytest.raises(DeadlineExceededError):
                await client.wait_until_ready(0.3)

    asyncio.run(scenario())


def test_async_calls_retry_until_the_daemon_comes_up(tmp_path: Path) -> None:
    sock_dir = Path(tempfile.mkdtemp(prefix="wfs-", dir="/tmp"))
    target = f"unix://{sock_dir}/late.sock"
    retry = RetryPolicy(max_attempts=40, initial_backoff=0.05, max_backoff=0.2)

    async def scenario() -> None:
        async with aio.Client(target, timeout=30, retry=retry) as client:
            pending = asyncio.ensure_future(client.state.load("x"))
            await asyncio.sleep(0.3)
            process = await asyncio.create_subprocess_exec(
                *wfstored_command("--data-dir", str(tmp_path / "data"), "--listen", target),
                stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                assert await asyncio.wait_for(pending, 20) is None
            finally:
                process.terminate()
                assert await process.wait() == 0

    asyncio.run(scenario())

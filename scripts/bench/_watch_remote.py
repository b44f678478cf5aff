"""Watchers of a daemon, in a process of their own: many streams on one asyncio loop.

A hundred watches on the blocking client would be two hundred threads (each watch has a pump
thread, and each consumer would need one) fighting the saver for one GIL; with
``wfstore.aio`` a process holds any number of watch streams as tasks on one loop, and the
saver's process does nothing but save. Each watch has a client (a channel and a TCP
connection) of its own, as separate workers would. A watcher takes the time an event reaches
it with :func:`~scripts.bench._watch_samples.now_ns` (``CLOCK_MONOTONIC``, machine-wide), so
the saver's process can subtract its own Save start times.

The process is spawned (like the benchmark's client processes, so a pinned run keeps it on
the client CPU), opens every watch, says it is ready, records every event until told to
finish, waits for the events still expected, and sends everything back.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
from collections.abc import AsyncIterator
from multiprocessing.connection import Connection
from typing import Any

from wfstore import StateEvent

from scripts.bench._servers import process_cpu_seconds
from scripts.bench._watch_samples import Received, now_ns

_START_SECONDS = 60.0
_CHANNEL_OPTIONS = (("grpc.use_local_subchannel_pool", 1),)  # a connection per client


class RemoteWatchers:
    """``count`` watch streams on ``target``, in ``processes`` spawned processes."""

    def __init__(self, target: str, count: int, prefix: str, *, processes: int = 1) -> None:
        """Spawn the processes and return once every watch is open (its first reply read)."""
        self.count = count
        self.errors: list[str] = []
        """Why watches stopped early (an error from the stream), once finished."""
        context = multiprocessing.get_context("spawn")
        used = max(1, min(processes, count))
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        first = 0
        try:
            for k in range(used):
                share = count // used + (k < count % used)
                parent, child = context.Pipe()
                proc = context.Process(
                    target=_worker,
                    args=(child, target, first, share, prefix),
                    name=f"bench-watchers-{k}",
                    daemon=True,
                )
                proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
                first += share
            for conn in self._conns:
                _await_ready(conn, target)
        except BaseException:
            self.close()
            raise

    def cpu_seconds(self) -> float:
        """Return the CPU time the watcher processes have used so far, in seconds."""
        return sum(process_cpu_seconds(proc.pid) for proc in self._procs)

    def finish(self, expected: int, grace: float) -> list[Received]:
        """Wait up to ``grace`` s for each watcher to have ``expected`` events; return all."""
        for conn in self._conns:
            conn.send(("finish", expected, grace))
        received: list[Received] = []
        for conn in self._conns:
            try:
                if not conn.poll(grace + 30):
                    raise RuntimeError("a watcher process did not report")
                kind, detail = conn.recv()
            except EOFError:
                raise RuntimeError("a watcher process exited before reporting") from None
            if kind != "done":
                raise RuntimeError(f"a watcher process failed: {detail}")
            rows, errors = detail
            received += [Received(*row) for row in rows]
            self.errors += errors
        return received

    def close(self) -> None:
        """Stop the processes (politely, then by force); idempotent."""
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.send(("close", 0, 0.0))
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        self._conns.clear()
        self._procs.clear()


def _await_ready(conn: Connection, target: str) -> None:
    """Return once the process behind ``conn`` has every watch open; raise if it cannot."""
    try:
        if not conn.poll(_START_SECONDS):
            raise RuntimeError(f"watchers on {target} did not start in time")
        kind, detail = conn.recv()
    except EOFError:
        raise RuntimeError(f"the watcher process for {target} exited while starting") from None
    if kind != "ready":
        raise RuntimeError(f"watchers on {target} failed to start: {detail}")


def _worker(conn: Connection, target: str, first: int, count: int, prefix: str) -> None:
    """Run the watchers of one process; report on ``conn`` (Ctrl-C is left to the parent)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        asyncio.run(_watch_all(conn, target, first, count, prefix))
    except Exception as exc:  # noqa: BLE001 (reported to the parent, which raises it)
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


async def _watch_all(conn: Connection, target: str, first: int, count: int, prefix: str) -> None:
    from wfstore import aio  # noqa: PLC0415 (in the spawned process only)

    clients = [
        aio.Client(target, timeout=_START_SECONDS, channel_options=_CHANNEL_OPTIONS)
        for _ in range(count)
    ]
    received: list[list[tuple[int, str, int, int]]] = [[] for _ in range(count)]
    errors: list[str] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        await asyncio.gather(*(client.wait_until_ready(_START_SECONDS) for client in clients))
        watches = await asyncio.gather(*(client.state.watch(prefix) for client in clients))
        for k, (watch, out) in enumerate(zip(watches, received, strict=True)):
            tasks.append(asyncio.create_task(_collect(watch, first + k, out, errors)))
        conn.send(("ready", ""))
        kind, expected, grace = await asyncio.to_thread(conn.recv)
        if kind != "finish":
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while loop.time() < deadline and any(len(out) < expected for out in received):  # noqa: ASYNC110 (after the measurement: a 10 ms tick is plenty)
            await asyncio.sleep(0.01)
        for watch in watches:
            await watch.close()
        conn.send(("done", ([row for out in received for row in out], errors)))
        with contextlib.suppress(EOFError):
            await asyncio.to_thread(conn.recv)  # "close"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.close()


async def _collect(
    watch: AsyncIterator[StateEvent],
    watcher: int,
    out: list[tuple[int, str, int, int]],
    errors: list[str],
) -> None:
    """Record every event ``watch`` delivers: who got it, which change, and when."""
    try:
        async for event in watch:
            out.append((watcher, event.workflow_id, event.version, now_ns()))  # noqa: PERF401 (stamped as each arrives)
    except Exception as exc:  # noqa: BLE001 (reported with the cell's results)
        errors.append(f"watcher {watcher}: {type(exc).__name__}: {exc}")


__all__ = ["RemoteWatchers"]

"""One client process of the load test: threads that mix RPCs and remember what was acknowledged.

Each thread is one client (a ``wfstore.Client`` of its own, so one connection each). It owns
a few workflow ids that no other thread touches, so it knows exactly what each one must hold,
and it also saves to a few ids shared by every thread, where any acknowledged save may be the
last. Every Record has a unique id. The process reports per-RPC latencies, every error, and
what was acknowledged, for the load test to verify afterwards.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from wfstore import Client, ExecutionContext, ExecutionRecord, HistoryFilter, StoreError

from scripts.bench._payloads import make_state

RPCS = (
    "StateService.Save",
    "StateService.Load",
    "StateService.List",
    "StateService.Delete",
    "HistoryService.Record",
    "HistoryService.List",
    "HistoryService.GetStats",
    "HistoryService.Cleanup",
)
"""Every RPC of the contract (RecordBatch is a bulk variant of Record and is left out)."""
WEIGHTS = (22, 15, 5, 5, 25, 12, 11, 5)
"""How often each RPC is picked, in the order of :data:`RPCS`."""
SHARED_IDS = tuple(f"shared-{n}" for n in range(8))
"""Ids every thread saves to: the last acknowledged save of any thread may win."""
OWN_IDS_PER_THREAD = 6
WORKFLOW_NAME = "load-test"
"""The workflow name of every record written, which List and GetStats filter on."""
CLEANUP_AGE = timedelta(days=3650)
"""Cleanup deletes records older than this: none of the load test's own."""


@dataclass
class ThreadResult:
    """What one client thread did and saw acknowledged."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    own_states: dict[str, str | None] = field(default_factory=dict)
    """Own id -> the marker of its last acknowledged save, or None if deleted (or never saved)."""
    shared_saves: dict[str, list[str]] = field(default_factory=dict)
    """Shared id -> markers of every acknowledged save to it."""
    records: list[str] = field(default_factory=list)
    """Ids of acknowledged records."""
    uncertain: set[str] = field(default_factory=set)
    """Own ids whose last Save or Delete failed: the call may or may not have taken effect."""


def _marker(state: ExecutionContext | None) -> str | None:
    return None if state is None else state.current_step


class _ClientThread:
    """The loop of one client: pick an RPC, call it, check it, remember it."""

    def __init__(self, target: str, name: str, deadline: float, seed: int) -> None:
        self.name = name
        self.deadline = deadline
        self.random = random.Random(seed)  # noqa: S311 (a workload mix, not a secret)
        self.template = make_state("template")
        self.own_ids = [f"{name}-s{n}" for n in range(OWN_IDS_PER_THREAD)]
        self.result = ThreadResult(own_states=dict.fromkeys(self.own_ids))
        self.saves = 0
        self.client = Client(target, timeout=30)

    def run(self) -> None:
        """Call RPCs until the deadline; every failure is kept as an error."""
        with self.client:
            while time.monotonic() < self.deadline:
                rpc = self.random.choices(RPCS, WEIGHTS)[0]
                started = time.perf_counter()
                try:
                    self._call(rpc)
                except (StoreError, AssertionError) as exc:
                    self.result.errors.append(f"{rpc}: {type(exc).__name__}: {exc}")
                    continue
                elapsed = time.perf_counter() - started
                self.result.latencies.setdefault(rpc, []).append(elapsed)

    def _call(self, rpc: str) -> None:
        state, history = self.client.state, self.client.history
        if rpc == "StateService.Save":
            self._save()
        elif rpc == "StateService.Load":
            workflow_id = self.random.choice(self.own_ids)
            loaded = _marker(state.load(workflow_id))
            expected = self.result.own_states[workflow_id]
            if loaded != expected and workflow_id not in self.result.uncertain:
                raise AssertionError(f"{workflow_id} holds {loaded!r}, expected {expected!r}")
        elif rpc == "StateService.List":
            state.list_page(page_size=100)
        elif rpc == "StateService.Delete":
            workflow_id = self.random.choice(self.own_ids)
            self.result.uncertain.add(workflow_id)
            state.delete(workflow_id)
            self.result.uncertain.discard(workflow_id)
            self.result.own_states[workflow_id] = None
        elif rpc == "HistoryService.Record":
            self._record()
        elif rpc == "HistoryService.List":
            history.list_page(HistoryFilter(workflow_name=WORKFLOW_NAME, limit=20))
        elif rpc == "HistoryService.GetStats":
            history.get_stats(HistoryFilter(workflow_name=WORKFLOW_NAME))
        else:
            history.cleanup(CLEANUP_AGE)

    def _save(self) -> None:
        self.saves += 1
        marker = f"{self.name}-v{self.saves}"
        shared = self.random.random() < 0.2  # a fifth go to shared ids
        workflow_id = self.random.choice(SHARED_IDS if shared else self.own_ids)
        if not shared:
            self.result.uncertain.add(workflow_id)
        self.client.state.save(replace(self.template, workflow_id=workflow_id, current_step=marker))
        if shared:
            self.result.shared_saves.setdefault(workflow_id, []).append(marker)
        else:
            self.result.uncertain.discard(workflow_id)
            self.result.own_states[workflow_id] = marker

    def _record(self) -> None:
        record_id = f"{self.name}-r{len(self.result.records)}"
        now = datetime.now(UTC)
        self.client.history.record(
            ExecutionRecord(
                id=record_id,
                workflow_id=f"{self.name}-run",
                workflow_name=WORKFLOW_NAME,
                status="success",
                started_at=now - timedelta(seconds=2),
                completed_at=now,
                duration_ms=2000,
            )
        )
        self.result.records.append(record_id)


def run_process(
    target: str, process_index: int, threads: int, seconds: float
) -> list[ThreadResult]:
    """Run ``threads`` client threads against ``target`` for ``seconds``; return their results."""
    deadline = time.monotonic() + seconds
    clients = [
        _ClientThread(target, f"p{process_index}t{n}", deadline, seed=process_index * 1000 + n)
        for n in range(threads)
    ]
    workers = [threading.Thread(target=client.run) for client in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [client.result for client in clients]

"""Which cells the benchmark runs, in which order, and how each is timed.

:func:`build_plan` lists the cells of one round; :func:`run_rounds` runs every round, all
cells of a round before any cell of the next, so repetitions of one cell are spread over the
whole run, and each implementation is measured right next to the ceiling it is compared with.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from scripts.bench._driver import ClientPool, RunResult
from scripts.bench._ops import CellSpec
from scripts.bench._payloads import StateFileWriter
from scripts.bench._peers import Peer
from scripts.bench._pg_backend import PgBackend, delete_states, save_states
from scripts.bench._servers import Server, cluster_cpu_seconds

STATE_OPS = ("Load", "List", "Save", "SaveIf", "Delete")
HISTORY_OPS = ("HistoryList", "GetStats", "Record", "Cleanup")
BATCH_SIZES = (100, 1000)
BATCH_CONCURRENCY = (1, 8)
EMBEDDED_CONCURRENCY = (1, 8)
PEERS_OF = {
    "Save": (("redis-aof", "SET"), ("redis", "SET")),
    "Load": (("redis", "GET"),),
    "Record": (("postgres", "INSERT"),),
    "RecordBatch": (("postgres", "INSERT"),),
}
"""For each wfstored operation, the peer cells that do the same job (first: the one compared)."""


@dataclass(frozen=True, kw_only=True)
class Mode:
    """How long and how big: full or quick."""

    name: str
    warmup: float
    window: float
    reps: int
    concurrency: tuple[int, ...]
    peer_transports: tuple[str, ...]
    scale_rows: int
    scale_files: int
    scale_budget: float


FULL = Mode(
    name="full",
    warmup=0.15,
    window=0.6,
    reps=3,
    concurrency=(1, 8, 64),
    peer_transports=("tcp", "unix"),
    scale_rows=1_000_000,
    scale_files=100_000,
    scale_budget=0.4,
)
QUICK = Mode(
    name="quick",
    warmup=0.03,
    window=0.08,
    reps=3,
    concurrency=(1, 8, 64),
    peer_transports=("tcp",),
    scale_rows=100_000,
    scale_files=10_000,
    scale_budget=0.1,
)


@dataclass
class Targets:
    """Everything the cells talk to."""

    plain: Server
    """The plain gRPC ceiling: grpcio alone, canned bytes (the yardstick)."""
    ceiling: Server
    """wfstored's own server stack over no-op stores."""
    wfstored: Server
    wfstored_dir: Path
    embedded_dir: Path
    peers: dict[str, Peer] = field(default_factory=dict)
    pg: PgBackend | None = None
    """wfstored and the embedded stores on PostgreSQL, when the PostgreSQL peer runs."""


def client_processes(concurrency: int, most: int) -> int:
    """How many client processes drive ``concurrency`` calls: one per 4 calls, up to ``most``."""
    return max(1, min(most, concurrency // 4))


def _peer_cells(op: str, mode: Mode, targets: Targets, conc: int, batch: int) -> list[CellSpec]:
    return [
        CellSpec(
            impl=impl,
            op=peer_op,
            transport=transport,
            concurrency=conc,
            target=targets.peers[impl].targets[transport],
            batch=batch,
        )
        for impl, peer_op in PEERS_OF.get(op, ())
        if impl in targets.peers
        for transport in mode.peer_transports
    ]


def _op_cells(op: str, mode: Mode, targets: Targets, conc: int, batch: int) -> list[CellSpec]:
    cells = [
        CellSpec(
            impl=server.name,
            op=op,
            transport=transport,
            concurrency=conc,
            target=server.target(transport),
            batch=batch,
        )
        for transport in ("tcp", "unix")
        for server in (targets.plain, targets.ceiling, targets.wfstored)
    ]
    if conc in EMBEDDED_CONCURRENCY:
        cells.append(
            CellSpec(
                impl="embedded",
                op=op,
                transport="in-process",
                concurrency=conc,
                target=str(targets.embedded_dir),
                batch=batch,
            )
        )
    return cells + _peer_cells(op, mode, targets, conc, batch) + _pg_cells(op, targets, conc, batch)


def _pg_cells(op: str, targets: Targets, conc: int, batch: int) -> list[CellSpec]:
    """Return the PostgreSQL backend's cells: through wfstored (TCP) and embedded."""
    if targets.pg is None:
        return []
    cells = [
        CellSpec(
            impl="wfstored-pg",
            op=op,
            transport="tcp",
            concurrency=conc,
            target=targets.pg.daemon.tcp,
            batch=batch,
        )
    ]
    if conc in EMBEDDED_CONCURRENCY:
        cells.append(
            CellSpec(
                impl="embedded-pg",
                op=op,
                transport="in-process",
                concurrency=conc,
                target=targets.pg.url,
                batch=batch,
            )
        )
    return cells


def build_plan(mode: Mode, targets: Targets, *, batches: bool) -> list[CellSpec]:
    """Return the cells of one round, in the order they run."""
    plan: list[CellSpec] = []
    for op in (*STATE_OPS, *HISTORY_OPS):
        for conc in mode.concurrency:
            plan += _op_cells(op, mode, targets, conc, 1)
    if batches:
        for size in BATCH_SIZES:
            for conc in BATCH_CONCURRENCY:
                plan += _op_cells("RecordBatch", mode, targets, conc, size)
    return plan


@dataclass
class CellRuns:
    """Every repetition of one cell, and the latencies of all of them merged."""

    spec: CellSpec
    runs: list[RunResult] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def server_pid(spec: CellSpec, targets: Targets) -> int | None:
    """Return the process whose CPU a cell uses: wfstored, a ceiling or Redis (not Postgres)."""
    if spec.impl == "plain":
        return targets.plain.pid
    if spec.impl == "ceiling":
        return targets.ceiling.pid
    if spec.impl == "wfstored":
        return targets.wfstored.pid
    if spec.impl == "wfstored-pg" and targets.pg is not None:
        return targets.pg.daemon.pid
    peer = targets.peers.get(spec.impl)
    if spec.impl.startswith("redis") and peer is not None and peer.process is not None:
        return peer.process.pid
    return None


def db_cpu(spec: CellSpec, targets: Targets) -> Callable[[], float] | None:
    """Return how to read the PostgreSQL cluster's CPU for a wfstored-pg cell, else None."""
    peer = targets.peers.get("postgres")
    if spec.impl != "wfstored-pg" or peer is None or peer.directory is None:
        return None
    try:
        postmaster = int((peer.directory / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return lambda: cluster_cpu_seconds(postmaster)


class _DeletePools:
    """Pre-saves the ids a Delete cell deletes, so that every delete removes a real file."""

    def __init__(self, targets: Targets, mode: Mode) -> None:
        self._dirs = {
            "wfstored": targets.wfstored_dir / "state",
            "embedded": targets.embedded_dir / "state",
        }
        self._pg = targets.pg
        self._span = mode.warmup + mode.window
        self._rates: dict[tuple[str, str, int], float] = {}

    def size(self, spec: CellSpec, results: dict[tuple[object, ...], CellRuns]) -> int:
        """How many ids to pre-save: 1.5 times what the last run of the cell managed.

        Before the first run, four times what Save managed (a delete is cheaper than a save).
        """
        key = (spec.impl, spec.transport, spec.concurrency)
        rate = self._rates.get(key)
        if rate is None:
            save = results.get((spec.impl, "Save", spec.transport, spec.concurrency, 1))
            rate = 4.0 * save.runs[-1].rate if save and save.runs else 5000.0
        return int(rate * self._span * 1.5) + 4 * spec.concurrency + 100

    def fill(self, spec: CellSpec, ids: list[str]) -> None:
        """Write the pool files (or PostgreSQL rows) of ``spec``."""
        if spec.impl in self._dirs:
            StateFileWriter(self._dirs[spec.impl]).write(ids)
        elif spec.impl.endswith("-pg") and self._pg is not None:
            save_states(self._pg.state, ids)

    def drain(self, spec: CellSpec, ids: list[str], result: RunResult) -> None:
        """Remember the cell's rate and remove the pool entries it did not delete."""
        self._rates[(spec.impl, spec.transport, spec.concurrency)] = result.rate
        if spec.impl in self._dirs:
            StateFileWriter(self._dirs[spec.impl]).remove(ids)
        elif spec.impl.endswith("-pg") and self._pg is not None:
            delete_states(self._pg.state, ids)


def run_rounds(
    plan: list[CellSpec],
    mode: Mode,
    targets: Targets,
    pool: ClientPool,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> dict[tuple[object, ...], CellRuns]:
    """Run ``mode.reps`` rounds of ``plan``; return every cell's runs, keyed by its key."""
    results: dict[tuple[object, ...], CellRuns] = {}
    pools = _DeletePools(targets, mode)
    for rep in range(mode.reps):
        for index, base in enumerate(plan):
            cell = results.setdefault(base.key, CellRuns(base))
            ids: list[str] = []
            pool_size = 0
            if base.op == "Delete":
                pool_size = pools.size(base, results)
                ids = [f"del-r{rep}c{index}-{k}" for k in range(pool_size)]
                pools.fill(base, ids)
            spec = replace(base, tag=f"r{rep}c{index}", pool=pool_size)
            result = pool.run(
                spec,
                processes=client_processes(spec.concurrency, pool.size),
                warmup=mode.warmup,
                window=mode.window,
                server_pid=server_pid(spec, targets),
                db_cpu=db_cpu(spec, targets),
            )
            if base.op == "Delete":
                pools.drain(base, ids, result)
                if result.misses and base.impl not in {"plain", "ceiling"}:
                    cell.notes.append(f"rep {rep + 1}: {result.misses} deletes found no file")
            if result.errors:
                cell.notes.append(f"rep {rep + 1}: {result.errors} errors, {result.first_error}")
            cell.runs.append(result)
            cell.latencies.extend(result.latencies)
            result.latencies = []
            progress(
                f"round {rep + 1}/{mode.reps} "
                f"{index + 1:3d}/{len(plan)} {spec.impl:9} {spec.op:11} x{spec.batch:<4} "
                f"{spec.transport:10} c={spec.concurrency:<2} {result.rate * spec.batch:9.0f}/s"
            )
    return results

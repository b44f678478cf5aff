"""The scaling command's report: measured daemons-vs-throughput, and the many-core model."""

from __future__ import annotations

import statistics
from typing import Any

PROJECTED_CORES = 16
PROJECTED_DAEMONS = 15
"""The model's host: 16 cores, 15 daemons (one core left for the kernel, SQLite, fsync)."""
FSYNCS_PER_SAVE = 2
"""A Save fsyncs its new file, then the directory; concurrent saves in one daemon share the
directory's fsync, so 2 is the most a Save costs (the model's cap is the conservative one)."""
LABELS = {
    "Load": "StateService.Load",
    "Save": "StateService.Save",
    "Record": "HistoryService.Record",
    "HistoryList": "HistoryService.List",
    "GetStats": "HistoryService.GetStats",
}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _rate(cell: dict[str, Any]) -> float:
    return float(statistics.median(rep["rate"] for rep in cell["reps"]))


def _cpu(cell: dict[str, Any], side: str) -> float | None:
    return _median([rep["cpu_us"][side] for rep in cell["reps"] if side in rep["cpu_us"]])


def _num(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _measured(cells: dict[tuple[str, int, int], dict[str, Any]]) -> list[str]:
    lines = [
        (
            "| RPC | conc | 1 daemon calls/s | 2 daemons calls/s | 2 / 1 (paired median, "
            "min-max) | server µs/call, 1 | server µs/call, 2 (sum) | client µs/call |"
        ),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (op, conc, count), one in sorted(
        cells.items(), key=lambda kv: (list(LABELS).index(kv[0][0]), kv[0][1])
    ):
        if count != 1 or (op, conc, 2) not in cells:
            continue
        two = cells[(op, conc, 2)]
        ratios = [
            b["rate"] / a["rate"]
            for a, b in zip(one["reps"], two["reps"], strict=False)
            if a["rate"] > 0
        ]
        spread = (
            f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
            if ratios
            else ""
        )
        lines.append(
            f"| {LABELS[op]} | {conc} | {_rate(one):,.0f} | {_rate(two):,.0f} | {spread} "
            f"| {_num(_cpu(one, 'server'))} | {_num(_cpu(two, 'server'))} "
            f"| {_num(_cpu(one, 'client'))} |"
        )
    return lines


def _caps(probes: dict[str, Any]) -> dict[str, tuple[float, str]]:
    caps: dict[str, tuple[float, str]] = {}
    fsyncs = probes.get("fsync_rate", {})
    if fsyncs:
        best = max(fsyncs.values())
        caps["Save"] = (
            best / FSYNCS_PER_SAVE,
            (
                f"fsync: {best:,.0f} fsync/s at best on this disk, 1 to {FSYNCS_PER_SAVE} per "
                f"Save (up to {best:,.0f} Saves/s if every directory fsync is shared)"
            ),
        )
    writes = probes.get("sqlite_record_rate", {})
    if writes:
        best_writes = max(writes.values())
        caps["Record"] = (
            best_writes,
            f"SQLite's single writer (group commit): {best_writes:,.0f} records/s at best",
        )
    return caps


def _model(cells: dict[tuple[str, int, int], dict[str, Any]], probes: dict[str, Any]) -> list[str]:
    caps = _caps(probes)
    lines = [
        (
            f"| RPC | server µs/call (1 daemon, c=64) | calls/s per core | {PROJECTED_DAEMONS} "
            "daemons, CPU alone | cap | projected | client cores it needs |"
        ),
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for op, label in LABELS.items():
        cell = cells.get((op, 64, 1)) or cells.get((op, 8, 1))
        server = _cpu(cell, "server") if cell else None
        if cell is None or not server:
            continue
        per_core = 1e6 / server
        cpu_bound = per_core * PROJECTED_DAEMONS
        cap, why = caps.get(op, (float("inf"), "CPU (no shared writer)"))
        projected = min(cpu_bound, cap)
        client = _cpu(cell, "client")
        client_cores = None if client is None else projected * client / 1e6
        lines.append(
            f"| {label} | {server:,.0f} | {per_core:,.0f} | {cpu_bound:,.0f} | {why} "
            f"| {projected:,.0f} | {_num(client_cores, 1)} |"
        )
    return lines


def render_scaling(doc: dict[str, Any]) -> str:
    """Return the markdown report of a scaling run."""
    meta, mode, probes = doc["meta"], doc["mode"], doc["probes"]
    cells = {(c["op"], c["concurrency"], c["daemons"]): c for c in doc["cells"]}
    errors = sum(rep["errors"] for cell in doc["cells"] for rep in cell["reps"])
    writes = "; ".join(f"{k}: {v:,.0f}/s" for k, v in probes.get("sqlite_record_rate", {}).items())
    fsyncs = "; ".join(
        f"{k} thread(s): {v:,.0f}/s" for k, v in probes.get("fsync_rate", {}).items()
    )
    lines = [
        f"# wfstored with more processes ({mode['name']} mode)",
        "",
        f"- date: {meta['date']}; wall time {meta.get('wall_seconds', 0):.0f} s",
        (
            f"- machine: {meta['cpu']}, {meta['nproc']} CPUs, {meta['memory']}; "
            f"{meta['python']}; grpcio {meta['grpcio']}; not pinned (clients and daemons share "
            "every core)"
        ),
        (
            f"- cells: {mode['reps']} repetitions, round-robin, each {mode['window']} s after "
            f"{mode['warmup']} s of warm-up; client processes: up to {meta['client_processes']}; "
            f"errors: {errors}"
        ),
        (
            f"- port sharing: a second plain grpcio server binds a held port: "
            f"{'yes' if probes['grpc_shares_port'] else 'no'}; a second wfstored: "
            f"{'yes' if probes['wfstored_shares_port'] else 'no'} "
            f"({probes['wfstored_second_daemon']})"
        ),
        f"- SQLite history writes, embedded Record at concurrency 64: {writes}",
        f"- 4 KiB write + fsync of a fresh file in the data directory: {fsyncs}",
        "",
        "## Measured: 1 and 2 daemons over one data directory",
        "",
        *_measured(cells),
        "",
        f"## Model: a {PROJECTED_CORES}-core host with {PROJECTED_DAEMONS} daemons",
        "",
        (
            "calls/s per core = 1 s / server CPU per call; CPU alone = that times the daemons; "
            "projected = the lower of that and the cap; client cores = what wfstore.Client "
            "spends (its CPU per call here) to drive the projected rate, on the clients' hosts."
        ),
        "",
        *_model(cells, probes),
    ]
    return "\n".join(lines) + "\n"

"""The report's yardstick sections: wfstored against the plain gRPC ceiling, and CPU per call.

Every ratio here pairs repetitions: each round measures the plain ceiling, then the stack
ceiling, then wfstored, one right after the other on the same transport and concurrency, so a
repetition's ratio is taken against the ceiling measured just before it in the same round; the
report gives the median of those ratios, with their min-max. Cells missing from an older
results file are skipped.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any, NamedTuple

PLAIN = "plain"
STACK = "ceiling"
TARGET_OPS = ("Load", "List", "Delete", "Record", "HistoryList", "GetStats", "Save")
"""The RPCs the issue sets targets for, in the report's order."""
LATENCY_OPS = ("Load", "List", "Delete")
"""The RPCs whose concurrency-1 p50 must stay close to the plain ceiling's."""
CPU_IMPLS = ("plain", "ceiling", "wfstored", "wfstored-pg")
"""The gRPC implementations whose CPU per call the report gives."""
Cells = dict[tuple[Any, ...], dict[str, Any]]


class Target(NamedTuple):
    """One goal of the issue: wfstored / plain ceiling at c=8 over TCP (pinned)."""

    ratio: float
    p50_ms: float | None = None
    """For LATENCY_OPS: the largest wfstored p50 - plain p50 at concurrency 1, ms."""


TARGETS = {
    "Load": Target(0.8, 0.15),
    "List": Target(0.8, 0.15),
    "Delete": Target(0.8, 0.15),
    "Record": Target(0.7),
    "HistoryList": Target(0.7),
    "GetStats": Target(0.6),
    "Save": Target(0.5),
}
"""The issue's targets, per RPC."""
LABELS = {
    "Save": "StateService.Save",
    "Load": "StateService.Load",
    "List": "StateService.List",
    "Delete": "StateService.Delete",
    "Record": "HistoryService.Record",
    "HistoryList": "HistoryService.List",
    "GetStats": "HistoryService.GetStats",
    "Cleanup": "HistoryService.Cleanup",
    "SaveIf": "StateService.Save, expected_version",
}


def index_cells(cells: Sequence[dict[str, Any]]) -> Cells:
    """Return the single-call cells by (impl, op, transport, concurrency)."""
    return {
        (c["impl"], c["op"], c["transport"], c["concurrency"]): c for c in cells if c["batch"] == 1
    }


def paired_ratios(cell: dict[str, Any] | None, reference: dict[str, Any] | None) -> list[float]:
    """Return cell / reference per repetition (same round), skipping empty repetitions."""
    if cell is None or reference is None:
        return []
    return [
        mine["rate"] / theirs["rate"]
        for mine, theirs in zip(cell["reps"], reference["reps"], strict=False)
        if theirs["rate"] > 0
    ]


def _spread(values: list[float]) -> str:
    if not values:
        return ""
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def cpu_us(cell: dict[str, Any] | None, side: str) -> float | None:
    """Return the median CPU µs per call of one side (server, client, db) of a cell, or None.

    Older results have only the server's, as ``cpu_ms_per_call``.
    """
    if cell is None:
        return None
    values = [rep["cpu_us"][side] for rep in cell["reps"] if side in rep.get("cpu_us", {})]
    if not values and side == "server":
        values = [rep["cpu_ms_per_call"] * 1000 for rep in cell["reps"] if rep["cpu_ms_per_call"]]
    return statistics.median(values) / cell["batch"] if values else None


def _us(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _rate(cell: dict[str, Any] | None) -> str:
    if cell is None or not cell["reps"]:
        return ""
    return f"{statistics.median(rep['rate'] for rep in cell['reps']):,.0f}"


def ratio_lines(cells: Cells, transport: str = "tcp", concurrency: int = 8) -> list[str]:
    """Return the table of plain -> stack -> wfstored at one transport and concurrency."""
    ops = [op for op in LABELS if (PLAIN, op, transport, concurrency) in cells]
    if not ops:
        return []
    lines = [
        (
            "| RPC | plain calls/s | stack calls/s | wfstored calls/s | stack / plain "
            "| wfstored / stack | **wfstored / plain** | wfstored-pg / plain |"
        ),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for op in ops:
        plain, stack, mine, pg = (
            cells.get((impl, op, transport, concurrency))
            for impl in (PLAIN, STACK, "wfstored", "wfstored-pg")
        )
        lines.append(
            f"| {LABELS[op]} | {_rate(plain)} | {_rate(stack)} | {_rate(mine)} "
            f"| {_spread(paired_ratios(stack, plain))} | {_spread(paired_ratios(mine, stack))} "
            f"| **{_spread(paired_ratios(mine, plain))}** | {_spread(paired_ratios(pg, plain))} |"
        )
    return lines


def cpu_lines(cells: Cells, transport: str = "tcp", concurrency: int = 8) -> list[str]:
    """Return the CPU-per-call table: server and client µs per call, per implementation."""
    ops = [op for op in LABELS if any((i, op, transport, concurrency) in cells for i in CPU_IMPLS)]
    if not ops:
        return []
    head = " | ".join(f"{impl} server" for impl in CPU_IMPLS)
    lines = [
        f"| RPC | {head} | postgres cluster | plain client | wfstore.Client (wfstored) |",
        "| --- |" + " ---: |" * (len(CPU_IMPLS) + 3),
    ]
    for op in ops:
        row = {impl: cells.get((impl, op, transport, concurrency)) for impl in CPU_IMPLS}
        servers = " | ".join(_us(cpu_us(row[impl], "server")) for impl in CPU_IMPLS)
        lines.append(
            f"| {LABELS[op]} | {servers} | {_us(cpu_us(row['wfstored-pg'], 'db'))} "
            f"| {_us(cpu_us(row[PLAIN], 'client'))} | {_us(cpu_us(row['wfstored'], 'client'))} |"
        )
    return lines


def p50_gap(cells: Cells, op: str, transport: str = "tcp") -> float | None:
    """Return wfstored's p50 minus the plain ceiling's at concurrency 1, in ms (None: missing)."""
    plain, mine = cells.get((PLAIN, op, transport, 1)), cells.get(("wfstored", op, transport, 1))
    if plain is None or mine is None:
        return None
    return float(mine["p50_ms"] - plain["p50_ms"])


def target_lines(cells: Cells) -> list[str]:
    """Return the targets table: op, target, measured median ratio (min-max), met or not."""
    if not any((PLAIN, op, "tcp", 8) in cells for op in TARGET_OPS):
        return []
    lines = [
        "| RPC | target (c=8 TCP, / plain) | measured median (min-max) | met |",
        "| --- | ---: | ---: | --- |",
    ]
    for op in TARGET_OPS:
        ratios = paired_ratios(
            cells.get(("wfstored", op, "tcp", 8)), cells.get((PLAIN, op, "tcp", 8))
        )
        if not ratios:
            continue
        goal = TARGETS[op]
        met = statistics.median(ratios) >= goal.ratio
        lines.append(
            f"| {LABELS[op]} | >= {goal.ratio:.2f} | {_spread(ratios)} | {'yes' if met else 'no'} |"
        )
    for op in LATENCY_OPS:
        gap, limit = p50_gap(cells, op), TARGETS[op].p50_ms
        if gap is None or limit is None:
            continue
        met = gap <= limit
        lines.append(
            f"| {LABELS[op]}, p50 at c=1 - plain p50 | <= {limit:.2f} ms | {gap:+.3f} ms "
            f"| {'yes' if met else 'no'} |"
        )
    return lines


def p50_lines(cells: Cells) -> list[str]:
    """Return the c=1 p50 table (TCP): plain, stack, wfstored and the differences, in ms."""
    rows = []
    for op, label in LABELS.items():
        plain, stack, mine = (cells.get((i, op, "tcp", 1)) for i in (PLAIN, STACK, "wfstored"))
        if plain is None or mine is None:
            continue
        stack_p50 = f"{stack['p50_ms']:.3f}" if stack else ""
        rows.append(
            f"| {label} | {plain['p50_ms']:.3f} | {stack_p50} | {mine['p50_ms']:.3f} "
            f"| {mine['p50_ms'] - plain['p50_ms']:+.3f} |"
        )
    if not rows:
        return []
    return [
        "| RPC | plain p50 ms | stack p50 ms | wfstored p50 ms | wfstored - plain ms |",
        "| --- | ---: | ---: | ---: | ---: |",
        *rows,
    ]


def yardstick_section(cells: Sequence[dict[str, Any]], *, pinned: bool) -> list[str]:
    """Return the markdown of the yardstick section (empty when the run has no plain cells)."""
    index = index_cells(cells)
    targets = target_lines(index)
    if not targets:
        return []
    where = "pinned: servers on CPU 0, clients on CPU 1" if pinned else "NOT pinned"
    return [
        "## Against the plain gRPC ceiling",
        "",
        (
            f"This run is {where}. The issue's targets are for a pinned run. Ratios are the "
            "median over the repetitions of each repetition's ratio against the cell measured "
            "just before it in the same round (min-max in brackets)."
        ),
        "",
        *targets,
        "",
        "### Concurrency 8, TCP: plain ceiling -> wfstored stack (no-op stores) -> wfstored",
        "",
        *ratio_lines(index),
        "",
        "### CPU per call, concurrency 8, TCP (µs)",
        "",
        (
            "Server: the server process (every thread) over the measured window / calls; "
            "postgres cluster: every process of the cluster behind wfstored-pg; clients: the "
            "client processes (all of them, summed)."
        ),
        "",
        *cpu_lines(index),
        "",
        "### Concurrency 1, TCP: p50 latency",
        "",
        *p50_lines(index),
    ]

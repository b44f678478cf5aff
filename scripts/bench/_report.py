"""Turn benchmark results into JSON, a markdown report and a chart; rebuildable from the JSON."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from scripts.bench._plan import PEERS_OF, CellRuns
from scripts.bench._yardstick import cpu_us, yardstick_section

OP_ORDER = (
    "Save",
    "SaveIf",
    "Load",
    "List",
    "Delete",
    "Record",
    "RecordBatch",
    "HistoryList",
    "GetStats",
    "Cleanup",
)
OP_LABELS = {
    "Save": "StateService.Save",
    "SaveIf": "StateService.Save, expected_version",
    "Load": "StateService.Load",
    "List": "StateService.List",
    "Delete": "StateService.Delete",
    "Record": "HistoryService.Record",
    "RecordBatch": "HistoryService.RecordBatch",
    "HistoryList": "HistoryService.List",
    "GetStats": "HistoryService.GetStats",
    "Cleanup": "HistoryService.Cleanup",
    "SET": "SET",
    "GET": "GET",
    "INSERT": "INSERT",
}
IMPL_ORDER = (
    "plain",
    "ceiling",
    "wfstored",
    "embedded",
    "wfstored-pg",
    "embedded-pg",
    "redis-aof",
    "redis",
    "postgres",
)
EMBEDDED_OF = {"wfstored": "embedded", "wfstored-pg": "embedded-pg"}
"""Each daemon implementation and the adapters it serves, run in-process."""
TRANSPORT_ORDER = ("tcp", "unix", "in-process")
Doc = dict[str, Any]


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of already sorted values (NaN when empty)."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def summarize(results: dict[tuple[object, ...], CellRuns]) -> list[dict[str, Any]]:
    """Return one JSON-ready summary per cell: every repetition, and merged percentiles."""
    cells = []
    for cell in results.values():
        spec = cell.spec
        ordered = sorted(cell.latencies)
        cells.append(
            {
                "impl": spec.impl,
                "op": spec.op,
                "transport": spec.transport,
                "concurrency": spec.concurrency,
                "batch": spec.batch,
                "reps": [
                    {
                        "calls": run.calls,
                        "rate": run.rate,
                        "errors": run.errors,
                        "server_cpu": run.server_cpu,
                        "cpu_ms_per_call": run.cpu_ms_per_call,
                        "client_cpu": run.client_cpu,
                        "db_cpu": run.db_cpu,
                        "cpu_us": run.cpu_us_per_call,
                    }
                    for run in cell.runs
                ],
                "samples": len(ordered),
                "p50_ms": percentile(ordered, 0.50) * 1000,
                "p99_ms": percentile(ordered, 0.99) * 1000,
                "notes": cell.notes,
            }
        )
    return cells


def group_of(cell: dict[str, Any]) -> str:
    """Return the wfstored operation a cell belongs with (a peer: the RPC it mirrors)."""
    if cell["op"] == "SET":
        return "Save"
    if cell["op"] == "GET":
        return "Load"
    if cell["op"] == "INSERT":
        return "Record" if cell["batch"] == 1 else "RecordBatch"
    return str(cell["op"])


def throughputs(cell: dict[str, Any]) -> list[float]:
    """Per-repetition throughput in its unit (records/s for batches, calls/s otherwise)."""
    return [rep["rate"] * cell["batch"] for rep in cell["reps"]]


def _median(cell: dict[str, Any] | None) -> float | None:
    return statistics.median(throughputs(cell)) if cell and cell["reps"] else None


def _cpu_per_call(cell: dict[str, Any], side: str) -> str:
    """Return the median CPU µs per op (per record for batches) of one side, or "" if none."""
    value = cpu_us(cell, side)
    return "" if value is None else f"{value:,.0f}"


def _label(cell: dict[str, Any]) -> str:
    op = OP_LABELS[cell["op"]]
    if cell["impl"] == "postgres":
        op = "INSERT, 1 row per commit" if cell["batch"] == 1 else f"INSERT x{cell['batch']}, 1 txn"
    elif cell["batch"] > 1:
        op = f"{op} x{cell['batch']}"
    return op


def _sort_key(cell: dict[str, Any]) -> tuple[int, int, int, int, int]:
    return (
        OP_ORDER.index(group_of(cell)),
        cell["batch"],
        cell["concurrency"],
        TRANSPORT_ORDER.index(cell["transport"]),
        IMPL_ORDER.index(cell["impl"]),
    )


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return ""
    return f"{value / reference:.2f}"


def _peer_ratio(cell: dict[str, Any], index: dict[tuple[Any, ...], dict[str, Any]]) -> str:
    if cell["impl"] not in EMBEDDED_OF:
        return ""
    for impl, op in PEERS_OF.get(cell["op"], ())[:1]:
        peer = index.get((impl, op, cell["transport"], cell["concurrency"], cell["batch"]))
        ratio = _ratio(_median(cell), _median(peer))
        if ratio:
            return f"{ratio} ({impl})"
    return ""


def cell_table(cells: list[dict[str, Any]]) -> list[str]:
    """Return the markdown lines of the main table."""
    index = {(c["impl"], c["op"], c["transport"], c["concurrency"], c["batch"]): c for c in cells}
    lines = [
        (
            "| cell | impl | transport | conc | throughput/s median (min-max) | p50 ms | p99 ms "
            "| x plain | x stack | x peer | x embedded | server CPU µs/op | client CPU µs/op |"
        ),
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for cell in sorted(cells, key=_sort_key):
        rates = throughputs(cell)
        median = statistics.median(rates)
        key = (cell["op"], cell["transport"], cell["concurrency"], cell["batch"])
        plain = stack = embedded = ""
        if cell["impl"] in (*EMBEDDED_OF, "ceiling"):
            plain = _ratio(median, _median(index.get(("plain", *key))))
        if cell["impl"] in EMBEDDED_OF:
            stack = _ratio(median, _median(index.get(("ceiling", *key))))
            embedded_key = (EMBEDDED_OF[cell["impl"]], cell["op"], "in-process", *key[2:])
            embedded = _ratio(median, _median(index.get(embedded_key)))
        unit = " rec" if cell["batch"] > 1 else ""
        lines.append(
            f"| {_label(cell)} | {cell['impl']} | {cell['transport']} | {cell['concurrency']} "
            f"| {median:,.0f}{unit} ({min(rates):,.0f}-{max(rates):,.0f}) "
            f"| {cell['p50_ms']:.2f} | {cell['p99_ms']:.2f} | {plain} | {stack} "
            f"| {_peer_ratio(cell, index)} | {embedded} | {_cpu_per_call(cell, 'server')} "
            f"| {_cpu_per_call(cell, 'client')} |"
        )
    return lines


def _scale_lines(scale: dict[str, Any]) -> list[str]:
    data = scale["dataset"]
    built = data["build_seconds"]
    lines = [
        (
            f"Dataset: {data['rows']:,} history rows over 90 days ({data['hot_share']:.0%} in "
            f"the 5 hot names; hot name `{data['hot_name']}` has {data['hot_rows']:,} rows, "
            f"typical name `{data['typical_name']}` {data['typical_rows']:,}) and "
            f"{data['files']:,} state files; built in {built['history']:.1f} s (history) + "
            f"{built['states']:.1f} s (state files)."
        ),
        "",
        *_timing_rows(scale["timings"]),
    ]
    if scale["cells"]:
        lines += [
            "",
            (
                "Through the daemon on the scale dataset, 64 concurrent calls (Load: one of the "
                f"100 benchmark ids among the {data['files']:,} files; HistoryService.List: hot "
                f"name, first page, limit 20; GetStats: hot name over all time, "
                f"{data['hot_rows']:,} rows):"
            ),
            "",
        ]
        lines += cell_table(scale["cells"])
    lines += ["", "| daemon RSS (VmRSS) | MiB |", "| --- | ---: |"]
    lines += [f"| {point['when']} | {point['mib']:.1f} |" for point in scale["rss"]]
    return lines


def _timing_rows(timings: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| query | where | p50 ms | p99 ms | samples | note |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    lines += [
        (
            f"| {t['query']} | {t['where']} | {t['p50_ms']:.2f} | {t['p99_ms']:.2f} "
            f"| {t['samples']} | {t['note']} |"
        )
        for t in timings
    ]
    return lines


def _pg_scale_lines(scale: dict[str, Any]) -> list[str]:
    data = scale["dataset"]
    return [
        (
            f"The same {data['rows']:,} history rows (hot name `{data['hot_name']}` "
            f"{data['hot_rows']:,} rows, typical name `{data['typical_name']}` "
            f"{data['typical_rows']:,}) in PostgreSQL, loaded with COPY in "
            f"{data['load_seconds']:.1f} s (indexes included)."
        ),
        "",
        *_timing_rows(scale["timings"]),
    ]


_LEGEND = (
    "Throughput is calls/s (records/s for batches, marked rec): the median over the "
    "repetitions, with their min-max. p50/p99 are over every call of every repetition. "
    "wfstored serves files and SQLite (its defaults); wfstored-pg and embedded-pg are the "
    "PostgreSQL backend (both stores in a database of the postgres peer's cluster), through "
    "the daemon and in-process. "
    "plain is the plain gRPC ceiling (grpcio alone, canned reply bytes of the real size: the "
    "yardstick); ceiling is wfstored's own server stack over no-op stores. "
    "x plain = this row / plain (for ceiling: what the stack costs), x stack = wfstored / "
    "ceiling, x peer = wfstored / the peer named (same transport and "
    "concurrency), x embedded = wfstored / its adapters in-process (same concurrency), all "
    "by median throughput. server CPU = CPU time of the server process (every thread) per op "
    "(per record for batches) over the measured window (for wfstored-pg the daemon's alone; "
    "the cluster's is in the section below); not measured for the postgres peer or "
    "in-process cells. client CPU = the client processes' CPU per op (for in-process cells it "
    "includes the store's work)."
)


def render_markdown(doc: Doc) -> str:
    """Return the whole report: header, main table, scale tables and notes."""
    meta, mode = doc["meta"], doc["mode"]
    lines = [
        f"# wfstore benchmark ({mode['name']} mode)",
        "",
        f"- date: {meta['date']}; wall time {meta.get('wall_seconds', 0):.0f} s",
        (
            f"- machine: {meta['cpu']}, {meta['nproc']} CPUs, {meta['memory']}; "
            f"{meta['python']}; grpcio {meta['grpcio']}"
        ),
        (
            f"- cells: {mode['reps']} repetitions, round-robin; each {mode['window']} s "
            f"measured after {mode['warmup']} s of warm-up; client processes: up to "
            f"{meta['client_processes']}"
        ),
        f"- peers: {'; '.join(meta['peers']) or 'none'}",
        (
            "- pinned: servers (the ceilings, wfstored, the peers) on CPU 0; clients and "
            "in-process cells on CPU 1"
            if meta.get("pinned")
            else "- not pinned: servers and clients share every core"
        ),
        "",
    ]
    yardstick = yardstick_section(doc["cells"], pinned=bool(meta.get("pinned")))
    lines += [*yardstick, "", "## Every cell", ""] if yardstick else []
    lines += [_LEGEND, "", *cell_table(doc["cells"])]
    if doc.get("scale"):
        lines += ["", "## Scale", "", *_scale_lines(doc["scale"])]
    if doc.get("pg_scale"):
        lines += ["", "## Scale on PostgreSQL", "", *_pg_scale_lines(doc["pg_scale"])]
    if doc.get("notes"):
        lines += ["", "## Notes", "", *(f"- {note}" for note in doc["notes"])]
    return "\n".join(lines) + "\n"

"""The watch benchmark's results: one JSON-ready dict per cell, and the markdown report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from scripts.bench._watch_samples import Matched, SaveMark, drift, summary

Doc = dict[str, Any]

LATENCY = "latency"
"""The kind of a cell that times Save start to event."""
THROUGHPUT = "throughput"
"""The kind of a cell that times back-to-back Saves, with and without watchers."""

_LEGEND = (
    "Latency cells: Saves at a steady rate; each figure is an event's arrival at a watcher "
    "minus the start of the Save that caused it, over every (watcher, Save) pair (n); "
    "watchers all watch the prefix of the saved ids. *daemon*: saver and watchers on one "
    "wfstored (TCP); *cross-daemon*: the saver on one wfstored, the watchers on another over "
    "the same data directory or database; *embedded*: the store in the benchmark's process, "
    "watchers on threads; *embedded, two stores*: the watchers on a second store object over "
    "the same directory or database. saves/s is the rate achieved; missed counts (watcher, "
    "Save) pairs with no event. Throughput cells: Saves back to back on the file daemon, "
    "timing the Save call itself, with no watcher and with watchers present. server CPU is "
    "the CPU time of the wfstored processes (both, cross-daemon) per Save, not PostgreSQL's."
)


def _ms(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.2f}"


def latency_cell(  # noqa: PLR0913 (every figure of one cell)
    cell: str,
    backend: str,
    watchers: int,
    marks: Sequence[SaveMark],
    matched: Matched,
    *,
    warmup: int,
    server_cpu: float | None,
    watcher_cpu: float | None,
    errors: Sequence[str],
) -> dict[str, Any]:
    """Return the JSON-ready result of a latency cell (summary and raw numbers)."""
    counted = marks[warmup:]
    span = (counted[-1].start_ns - counted[0].start_ns) / 1e9 if len(counted) > 1 else 0.0
    save_ms = [(m.end_ns - m.start_ns) / 1e6 for m in counted]
    first_ms, last_ms = drift(matched.median_ms)
    return {
        "kind": LATENCY,
        "cell": cell,
        "backend": backend,
        "watchers": watchers,
        "saves": len(counted),
        "saves_per_s": (len(counted) - 1) / span if span > 0 else float("nan"),
        **summary(matched.latencies_ms),
        "last_watcher": summary(matched.last_ms),
        "save_call": summary(save_ms),
        "drift_ms": {"first_tenth_p50": first_ms, "last_tenth_p50": last_ms},
        "missed": matched.missed,
        "unexpected": matched.unexpected,
        "server_cpu_ms_per_save": _per_save(server_cpu, len(marks)),
        "watcher_cpu_ms_per_save": _per_save(watcher_cpu, len(marks)),
        "errors": list(errors[:5]),
        "latencies_ms": [round(v, 3) for v in matched.latencies_ms],
        "save_ms": [round(v, 3) for v in save_ms],
    }


def throughput_cell(  # noqa: PLR0913 (every figure of one cell)
    backend: str,
    watchers: int,
    marks: Sequence[SaveMark],
    matched: Matched | None,
    *,
    seconds: float,
    server_cpu: float | None,
) -> dict[str, Any]:
    """Return the JSON-ready result of a back-to-back Save cell."""
    save_ms = [(m.end_ns - m.start_ns) / 1e6 for m in marks]
    return {
        "kind": THROUGHPUT,
        "cell": "Save back to back",
        "backend": backend,
        "watchers": watchers,
        "saves": len(marks),
        "saves_per_s": len(marks) / seconds if seconds > 0 else float("nan"),
        **summary(save_ms),
        "event_latency": summary(matched.latencies_ms) if matched else None,
        "missed": matched.missed if matched else 0,
        "unexpected": matched.unexpected if matched else 0,
        "server_cpu_ms_per_save": _per_save(server_cpu, len(marks)),
        "watcher_cpu_ms_per_save": None,
        "errors": [],
        "save_ms": [round(v, 3) for v in save_ms],
    }


def _per_save(cpu_seconds: float | None, saves: int) -> float | None:
    return None if cpu_seconds is None or saves == 0 else cpu_seconds / saves * 1000


def table(cells: Sequence[dict[str, Any]]) -> list[str]:
    """Return the markdown lines of the results table."""
    lines = [
        (
            "| cell | backend | watchers | n | p50 ms | p99 ms | mean ms | max ms | saves/s "
            "| missed | server CPU ms/save |"
        ),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for cell in cells:
        name = cell["cell"]
        if cell["kind"] == THROUGHPUT:
            name += " (Save call)"
        cpu = cell["server_cpu_ms_per_save"]
        lines.append(
            f"| {name} | {cell['backend']} | {cell['watchers']} | {cell['n']:,} "
            f"| {_ms(cell['p50_ms'])} | {_ms(cell['p99_ms'])} | {_ms(cell['mean_ms'])} "
            f"| {_ms(cell['max_ms'])} | {cell['saves_per_s']:,.0f} | {cell['missed']:,} "
            f"| {'' if cpu is None else f'{cpu:.2f}'} |"
        )
    return lines


def json_ready(value: Any) -> Any:  # noqa: ANN401 (any part of a document)
    """Return ``value`` with every NaN (a figure with no samples) as None, for strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_ready(item) for item in value]
    return value


def render_markdown(doc: Doc) -> str:
    """Return the whole report: header, table, legend and notes."""
    meta, settings = doc["meta"], doc["settings"]
    where = (
        "pinned: servers (wfstored, PostgreSQL) on CPU 0, the benchmark and its watcher "
        "processes on CPU 1"
        if meta["pinned"]
        else "not pinned: servers and clients share every core"
    )
    lines = [
        "# Watch latency: Save to event",
        "",
        f"- date: {meta['date']}; wall time {meta['wall_seconds']:.0f} s",
        (
            f"- machine: {meta['cpu']}, {meta['nproc']} CPUs, {meta['memory']}; "
            f"{meta['python']}; grpcio {meta['grpcio']}; {where}"
        ),
        (
            f"- latency cells: {settings['warmup']} + {settings['saves']} Saves (the first "
            f"{settings['warmup']} not counted), one every {settings['interval'] * 1000:g} ms, "
            f"round {settings['ids']} ids of ~{settings['state_bytes']:,} bytes; daemon "
            f"watchers in {settings['watcher_processes']} process(es) on wfstore.aio; "
            f"throughput cells: {settings['window']} s each"
        ),
        "",
        _LEGEND,
        "",
        *table(doc["cells"]),
    ]
    if doc["notes"]:
        lines += ["", "Notes:", "", *(f"- {note}" for note in doc["notes"])]
    return "\n".join(lines) + "\n"


__all__ = [
    "LATENCY",
    "THROUGHPUT",
    "Doc",
    "json_ready",
    "latency_cell",
    "render_markdown",
    "table",
    "throughput_cell",
]

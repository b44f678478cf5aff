"""Draw the benchmark chart: throughput (with min-max) and p99 per RPC and concurrency."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from scripts.bench._plan import PEERS_OF
from scripts.bench._report import OP_ORDER, Doc, group_of, throughputs


def _chart_cell(
    cells: list[dict[str, Any]], group: tuple[str, int], conc: int, impl: str, transport: str
) -> dict[str, Any] | None:
    """Return the cell drawn for one bar; ``impl`` "peer" is the RPC's compared peer."""
    op, batch = group
    if impl == "peer":
        peers = PEERS_OF.get(op)
        if not peers:
            return None
        impl = peers[0][0]
    wanted = (op, batch, impl, transport, conc)
    for cell in cells:
        key = (group_of(cell), cell["batch"], cell["impl"], cell["transport"], cell["concurrency"])
        if key == wanted:
            return cell
    return None


_PEER_LEGEND = "peer tcp (Save: redis aof; Load: redis; Record*: postgres)"


def render_chart(doc: Doc, path: Path) -> None:
    """Draw throughput (median, min-max bars) and p99 per RPC and concurrency (PNG, Agg)."""
    import matplotlib as mpl  # noqa: PLC0415 (optional: only needed to draw)

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    cells = doc["cells"]
    groups = sorted(
        {(group_of(c), c["batch"]) for c in cells}, key=lambda g: (OP_ORDER.index(g[0]), g[1])
    )
    series = [
        ("plain", "tcp"),
        ("ceiling", "tcp"),
        ("wfstored", "tcp"),
        ("plain", "unix"),
        ("ceiling", "unix"),
        ("wfstored", "unix"),
        ("embedded", "in-process"),
        ("wfstored-pg", "tcp"),
        ("peer", "tcp"),
    ]
    concurrencies = sorted({c["concurrency"] for c in cells})
    fig, axes = plt.subplots(
        2, len(concurrencies), figsize=(6 * len(concurrencies), 9), squeeze=False
    )
    width = 0.8 / len(series)
    for column, conc in enumerate(concurrencies):
        for offset, (impl, transport) in enumerate(series):
            xs: list[float] = []
            rates: list[float] = []
            spread: tuple[list[float], list[float]] = ([], [])
            p99s: list[float] = []
            for x, group in enumerate(groups):
                cell = _chart_cell(cells, group, conc, impl, transport)
                if cell is not None:
                    xs.append(x + (offset - len(series) / 2 + 0.5) * width)
                    reps, median = throughputs(cell), statistics.median(throughputs(cell))
                    rates.append(median)
                    spread[0].append(median - min(reps))
                    spread[1].append(max(reps) - median)
                    p99s.append(cell["p99_ms"])
            label = _PEER_LEGEND if impl == "peer" else f"{impl} {transport}"
            axes[0][column].bar(xs, rates, width, yerr=spread, label=label, capsize=1.5)
            axes[1][column].bar(xs, p99s, width, label=label)
        for row, title in enumerate(("throughput /s (records/s for batches)", "p99 ms")):
            axis = axes[row][column]
            axis.set_yscale("log")
            axis.set_title(f"{title}, concurrency {conc}")
            axis.set_xticks(range(len(groups)))
            axis.set_xticklabels(
                [op if b == 1 else f"{op} x{b}" for op, b in groups], rotation=45, ha="right"
            )
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(series), fontsize="small")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=90)
    plt.close(fig)

"""Describe the machine a benchmark ran on, for the header of its report."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import grpc


def describe_machine() -> dict[str, Any]:
    """Describe the machine: CPU model, CPU count, memory (``free -g``), date (UTC)."""
    cpu = "unknown CPU"
    with Path("/proc/cpuinfo").open() as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    free = subprocess.run(["free", "-g"], capture_output=True, text=True, check=False).stdout
    memory = next(
        (" ".join(ln.split()[:2]) + " GiB" for ln in free.splitlines() if ln.startswith("Mem:")),
        "?",
    )
    date = subprocess.run(["date", "-u"], capture_output=True, text=True, check=False).stdout
    return {
        "date": date.strip(),
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memory": memory,
        "python": f"Python {platform.python_version()}",
        "grpcio": grpc.__version__,
    }

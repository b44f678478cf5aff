"""The log line that says the daemon is ready, and the pattern that finds it.

It is the last line the daemon logs at start-up; tests, benchmarks and scripts wait for it and
read the bound addresses from it (port 0 becomes the real port), so its form is kept here,
once, for the daemon to write and for them to parse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

__all__ = ["SERVING_LINE", "addresses_of", "serving_line"]

SERVING_LINE: Final = re.compile(
    r" serving on (?P<addresses>.+?) \((?P<stores>.*), pid (?P<pid>\d+)"
)
"""Finds the ready line in the daemon's log: ``addresses`` are comma-and-space separated."""


def serving_line(name: str, addresses: Sequence[str], stores: str, pid: int) -> str:
    """Return the ready line of server ``name`` (e.g. ``wfstored 0.1.0``)."""
    return f"{name} serving on {', '.join(addresses)} ({stores}, pid {pid})"


def addresses_of(match: re.Match[str]) -> list[str]:
    """Return the addresses of a :data:`SERVING_LINE` match."""
    return match["addresses"].split(", ")

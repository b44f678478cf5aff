"""Durations as people type them, one grammar for the command line and the daemon's flags.

``30d``, ``24h``, ``90m``, ``45s``, ``500ms``, ``2w``, fractions (``1.5h``) and sums
(``1h30m``): :func:`parse_duration` reads them, :func:`format_duration` writes a duration back
in its largest whole unit.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

__all__ = ["format_duration", "parse_duration"]

_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)", re.ASCII)
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse ``30d``, ``24h``, ``90m``, ``1.5h``, ``2w``, ``45s``, ``500ms`` or ``1h30m``.

    Raises ValueError, saying what is accepted, for anything else (a bare number included).
    """
    compact = text.strip().replace(" ", "")
    position = 0
    total = 0.0
    for match in _PART.finditer(compact):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not compact or position != len(compact):
        raise ValueError(
            f"{text!r} is not a duration: use a number and a unit, e.g. 30d, 24h, 90m, 1.5h"
        )
    try:
        return timedelta(seconds=total)
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration") from None


def format_duration(duration: timedelta) -> str:
    """Return ``duration`` in its largest whole unit, as it is typed (``30d``, ``90m``)."""
    seconds = duration.total_seconds()
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"

"""How values are written: durations as awf prints them, times, byte sizes, time arguments."""

from __future__ import annotations

from datetime import UTC, datetime

from wfstore.durations import parse_duration

__all__ = [
    "format_bytes",
    "format_duration_ms",
    "format_time",
    "iso_time",
    "parse_duration",
    "parse_time_bound",
]


def format_duration_ms(milliseconds: int) -> str:
    """Return a duration the way awf prints one: ``850ms``, ``1.2s``, ``3.4m``."""
    if milliseconds < 1000:
        return f"{milliseconds}ms"
    if milliseconds < 60_000:
        return f"{milliseconds / 1000:.1f}s"
    return f"{milliseconds / 60_000:.1f}m"


def iso_time(value: datetime | None) -> str | None:
    """Return ``value`` in RFC 3339 (UTC, nanoseconds kept), or None."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    nanosecond = getattr(value, "nanosecond", 0)
    if nanosecond:  # a wfstore.Timestamp: show its nine digits
        head, _, _ = text.partition(".")
        head = head.removesuffix("+00:00")
        return f"{head}.{value.microsecond * 1000 + nanosecond:09d}Z"
    return text.replace("+00:00", "Z")


def format_time(value: datetime | None, style: str, now: datetime | None = None) -> str:
    """Return ``value`` as ``relative`` (``5m ago``) or ``iso`` text; ``-`` when unset."""
    if value is None:
        return "-"
    if style == "iso":
        return iso_time(value) or "-"
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    ago = seconds >= 0
    seconds = abs(seconds)
    for limit, unit, size in ((60, "s", 1), (3600, "m", 60), (86400, "h", 3600)):
        if seconds < limit:
            amount = f"{int(seconds // size)}{unit}"
            break
    else:
        amount = f"{int(seconds // 86400)}d"
    return f"{amount} ago" if ago else f"in {amount}"


def format_bytes(size: int | None) -> str:
    """Return a byte count for people: ``512 B``, ``1.5 KiB``, ``3.2 GiB``; ``-`` when unknown."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError  # pragma: no cover (the loop returns at TiB)


def parse_time_bound(text: str, now: datetime | None = None) -> datetime:
    """Parse a ``--since``/``--until`` value: a duration back from now, or an ISO date/time.

    ``24h`` is 24 hours ago; ``2026-11-01`` is that day's midnight UTC; a date and time
    without a zone is UTC.
    """
    try:
        return (now or datetime.now(UTC)) - parse_duration(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.strip())  # a date alone is its midnight
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (24h, 30d) nor an ISO date or time "
            "(2026-11-01, 2026-11-01T08:00:00Z)"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)

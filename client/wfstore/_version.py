"""The version of the installed ``wfstore`` distribution (client and daemon ship together)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["distribution_version"]


def distribution_version() -> str:
    """Return the installed ``wfstore`` distribution's version, or ``unknown`` if not installed."""
    try:
        return version("wfstore")
    except PackageNotFoundError:  # pragma: no cover (a source tree that was never installed)
        return "unknown"

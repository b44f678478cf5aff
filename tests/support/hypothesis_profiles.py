"""Hypothesis settings for the property-based suites: random locally, fixed in CI.

``ci`` (chosen when the ``CI`` variable is set, as ``.ci/run`` runs) derandomizes, so a CI run
tries the same examples every time and keeps no example database. ``dev`` explores new
examples on each run and remembers failing ones in ``.hypothesis/``. ``HYPOTHESIS_PROFILE``
picks either explicitly. Neither has a per-example deadline: examples that call a daemon take
what a loaded machine gives them, and the suites bound their cost by example counts instead.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    # Examples that talk to one module-wide daemon are slower than Hypothesis expects.
    "suppress_health_check": [HealthCheck.too_slow],
}


def load_profile() -> None:
    """Register the ``ci`` and ``dev`` profiles and load the one this run asks for."""
    settings.register_profile("ci", derandomize=True, database=None, print_blob=True, **_COMMON)
    settings.register_profile("dev", **_COMMON)
    default = "ci" if os.environ.get("CI") else "dev"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))

"""How the client retries calls that failed because the daemon was unavailable."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter for idempotent calls that got UNAVAILABLE.

    ``max_attempts`` counts the first try: 1 disables retries. A call's ``timeout`` bounds all
    of its attempts together, so retries never stretch a deadline.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.05
    max_backoff: float = 2.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        """Reject settings that make no sense."""
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise ValueError("backoffs must be >= 0 and multiplier >= 1")

    def backoff(self, retry: int) -> float:
        """Return the seconds to sleep before retry number ``retry`` (1 for the first)."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (retry - 1))
        return random.uniform(0, ceiling)  # noqa: S311 (jitter, not cryptography)

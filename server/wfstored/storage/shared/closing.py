"""``with store:`` for every store that has ``close()``."""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["ClosingStore"]


class ClosingStore:
    """Makes a store a context manager that closes it when the ``with`` block ends."""

    def close(self) -> None:
        """Release the store's resources; idempotent."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        """Return the store itself, to be closed when the ``with`` block ends."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the store."""
        self.close()

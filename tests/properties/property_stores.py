"""What the property tests run against: one implementation's two stores."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wfstore import HistoryStore, StateStore


@dataclass
class Stores:
    """A state store and a history store of one implementation, and where their data lives."""

    name: str
    state: StateStore
    history: HistoryStore
    data_dir: Path | None
    """Where the files live; None when the states are in PostgreSQL."""

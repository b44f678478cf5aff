"""Writers racing one conditional save: the round the version tests repeat."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from wfstore import ConflictError, ExecutionContext, StateStore

WORKFLOW_ID = "contended"
"""The id every racing writer saves."""


def race_once(
    stores: Sequence[StateStore], expected: int, tag: str
) -> tuple[int, list[ConflictError]]:
    """Save on ``expected`` from one thread per entry of ``stores``, all at once.

    Returns the winner's new version and the losers' conflicts; fails the test unless exactly
    one save won and every loser was told the winner's version.
    """
    barrier = threading.Barrier(len(stores))
    outcomes: list[int | ConflictError] = []

    def write(index: int, store: StateStore) -> None:
        state = ExecutionContext(workflow_id=WORKFLOW_ID, current_step=f"{tag}-{index}")
        barrier.wait()
        try:
            outcomes.append(store.save(state, expected_version=expected))
        except ConflictError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=write, args=item) for item in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [outcome for outcome in outcomes if isinstance(outcome, int)]
    assert len(won) == 1, outcomes
    lost = [outcome for outcome in outcomes if isinstance(outcome, ConflictError)]
    assert [error.current_version for error in lost] == [won[0]] * (len(stores) - 1), outcomes
    assert won[0] > expected
    return won[0], lost

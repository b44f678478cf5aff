"""PostgreSQL's percentile_disc is the nearest rank of history.proto, and so is the store.

The documentation of percentile_disc says it "returns the first input value whose position in
the ordering equals or exceeds the specified fraction": the smallest rank k with k / N >= p,
which is ceil(p * N), the nearest rank. The store does not call it (it picks the rank from
the sorted array in integer arithmetic, see wfstored.storage.postgres.queries); these tests
show that the two agree, so a reader may check the store with the function they know.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from fractions import Fraction

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wfstore import ExecutionRecord, HistoryFilter
from wfstored.storage.postgres import PostgresHistoryStore
from wfstored.storage.shared.history_stats import PERCENTILES, nearest_rank

from tests.support.factories import T0

pytestmark = pytest.mark.postgres

_SIZES = 1500
"""percentile_disc is checked on every count of values from 1 to this."""
_names = itertools.count()


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresHistoryStore]:
    with PostgresHistoryStore(postgres_url) as opened:
        yield opened


def test_nearest_rank_is_the_exact_ceiling() -> None:
    for count in range(1, 20_000):
        for percent in PERCENTILES:
            assert nearest_rank(percent, count) == math.ceil(Fraction(percent, 100) * count)


def test_percentile_disc_picks_the_nearest_rank_for_every_count(postgres_url: str) -> None:
    # The values of a group of N are its ranks 1..N, so the answer is the rank chosen.
    sql = (
        "SELECT n, percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY v)"
        " FROM generate_series(1, %s) AS n, generate_series(1, n) AS v GROUP BY n ORDER BY n"
    )
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(sql, (_SIZES,)).fetchall()
    assert len(rows) == _SIZES
    for count, ranks in rows:
        assert ranks == [nearest_rank(p, count) for p in PERCENTILES], count


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(durations=st.lists(st.integers(0, 10_000) | st.integers(0, 2**63 - 1), max_size=300))
def test_the_store_agrees_with_percentile_disc(
    store: PostgresHistoryStore, postgres_url: str, durations: list[int]
) -> None:
    name = f"pd-{next(_names)}"
    store.record_batch(
        [
            ExecutionRecord(id=f"{name}-{n}", workflow_name=name, completed_at=T0, duration_ms=d)
            for n, d in enumerate(durations)
        ]
    )
    stats = store.get_stats(HistoryFilter(workflow_name=name), percentiles=True)
    with psycopg.connect(postgres_url) as conn:
        (expected,) = conn.execute(
            "SELECT percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms)"
            " FROM executions WHERE workflow_name = %s",
            (name,),
        ).fetchone() or (None,)
    got = [stats.p50_duration_ms, stats.p95_duration_ms, stats.p99_duration_ms]
    assert got == (expected or [0, 0, 0])

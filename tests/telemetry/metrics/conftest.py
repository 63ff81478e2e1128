"""Fixtures for the metrics core: a clock on a minute boundary and stores."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.clock import ManualClock
from tandem.store.sqlite.database import Database
from tandem.store.sqlite.metrics import SQLiteMetricStore
from tandem.telemetry.metrics import MetricFlusher, MetricQueries, MetricRegistry
from tests.telemetry.metrics.memory_store import MemoryMetricStore

T0 = 1_700_000_040.0  # a minute boundary (1_700_000_040 % 60 == 0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteMetricStore]:
    db = Database(tmp_path / "metrics.db")
    yield SQLiteMetricStore(db)
    db.close()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    if request.param == "memory":
        yield MemoryMetricStore()
        return
    db = Database(tmp_path / "metrics.db")
    yield SQLiteMetricStore(db)
    db.close()


class Harness:
    """A registry, a flusher and queries over one store and one clock."""

    def __init__(self, store: object, clock: ManualClock) -> None:
        self.clock = clock
        self.store = store
        self.registry = MetricRegistry(clock=clock)
        self.flusher = MetricFlusher(self.registry, store, interval=5.0, clock=clock)
        self.queries = MetricQueries(store, clock=clock)


@pytest.fixture
def harness(store: object, clock: ManualClock) -> Harness:
    """Over SQLite and over the in-memory reference store."""
    return Harness(store, clock)


def nearest_rank(values, percent: float) -> float:
    """The exact percentile by nearest rank (the value at 1-based rank ceil(p/100 * n)),
    computed with decimal-safe arithmetic (numpy's 0.999 * 20000 lands on 19980.000000004)."""
    ordered = sorted(values)
    rank = max(math.ceil(round(percent * len(ordered) / 100.0, 9)), 1)
    return ordered[rank - 1]

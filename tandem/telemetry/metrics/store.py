"""The metric store seam: what the metrics core needs from persistence.

Defined here, by its consumer; ``tandem.store.sqlite.metrics`` implements it on
SQLite and a PostgreSQL implementation must pass the same contract tests
(``tests/store/test_metric_store_contract.py``). Stores treat sketches as opaque
bytes: merging, rollups and statistics are the core's job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from .model import Metric
from .series import BucketRow, SeriesKey

__all__ = [
    "BucketColumns",
    "BucketReader",
    "DimensionFilter",
    "MetricPage",
    "ChangedWindow",
    "MetricStore",
]


@dataclasses.dataclass(frozen=True, slots=True)
class BucketColumns:
    """Rows read back for one metric, column by column (cheap to build and to vectorise)."""

    units: Sequence[str] = ()
    starts: Sequence[int] = ()
    sample_counts: Sequence[float] = ()
    sums: Sequence[float] = ()
    minimums: Sequence[float] = ()
    maximums: Sequence[float] = ()
    sketches: Sequence[bytes] = ()
    percentiles: Sequence[bool] = ()

    def __len__(self) -> int:
        return len(self.starts)

    def only_unit(self, unit: str) -> BucketColumns:
        keep = [i for i, u in enumerate(self.units) if u == unit]
        return BucketColumns(*([col[i] for i in keep] for col in dataclasses.astuple(self)))


@dataclasses.dataclass(frozen=True, slots=True)
class DimensionFilter:
    """Matches a metric having dimension ``name`` (with ``value``, when given)."""

    name: str
    value: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class MetricPage:
    metrics: list[Metric]
    cursor: int | None  # pass back as ``after`` for the next page; None at the end


@dataclasses.dataclass(frozen=True, slots=True)
class ChangedWindow:
    """A (series, window start) whose source rows changed since a rollup watermark."""

    series: SeriesKey
    start: int


class BucketReader(Protocol):
    """What reads one-minute rows need: a ``MetricStore``, or ``LiveMetrics`` (the store
    merged with unflushed buckets)."""

    def read_buckets(
        self,
        metric: Metric,
        unit: str | None,
        resolution: int,
        start: int,
        end: int,
        sketches: bool = True,
    ) -> BucketColumns: ...


class MetricStore(Protocol):
    def write_buckets(self, rows: Sequence[BucketRow], *, fence: int | None = None) -> None:
        """Upsert rows keyed (series, resolution, start, uid): a second write overwrites.

        ``fence``, here and on the other writes, is the epoch of the leader writing as leader
        (rollups, retention): a store shared by servers raises ``StaleLeader`` and writes
        nothing unless that epoch is still current; one server's own store ignores it."""
        ...

    def read_buckets(
        self,
        metric: Metric,
        unit: str | None,
        resolution: int,
        start: int,
        end: int,
        sketches: bool = True,
        exclude: Sequence[tuple[int, str]] = (),
    ) -> BucketColumns:
        """Rows of ``metric`` (dimensions: the exact, sorted set; any unit when None) with
        start in ``[start, end)``, ordered by unit, then start. Without ``sketches`` the
        sketch column may hold empty bytes (the caller needs no percentiles). ``exclude``:
        ``(start, uid)`` of rows to leave out (those the caller holds a newer copy of)."""
        ...

    def list_metrics(
        self,
        namespace: str | None,
        metric_name: str | None,
        dimensions: Sequence[DimensionFilter],
        active_since: float | None,
        after: int | None,
        limit: int,
    ) -> MetricPage:
        """Metrics matching the filters (dimension filters are subset matches) whose latest
        data point is at or after ``active_since``; ``limit`` per page, stable order."""
        ...

    def latest_starts(self, metrics: Sequence[Metric]) -> dict[Metric, int]:
        """The start of each stored metric's latest data (``Metric`` with sorted dimensions);
        metrics not stored are absent."""
        ...

    def changed_windows(
        self, resolution: int, window: int, after: int
    ) -> tuple[list[ChangedWindow], int]:
        """Windows of ``window`` seconds holding rows of ``resolution`` written after the
        change mark ``after``; returns them and the mark to pass next time. Every change is
        told at least once; a window may be told again by a later call (rolling it up again
        gives the same rows)."""
        ...

    def get_mark(self, name: str) -> int:
        """A persisted watermark (0 when never set)."""
        ...

    def set_mark(self, name: str, value: int, *, fence: int | None = None) -> None: ...

    def delete_before(self, resolution: int, before: int, *, fence: int | None = None) -> int:
        """Delete rows of ``resolution`` starting before ``before``; returns how many."""
        ...

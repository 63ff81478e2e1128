"""Statistics of stored rows per (unit, period): pure and vectorised with numpy."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence

import numpy as np

from tandem.errors import InvalidParameterValue

from .series import BucketRow, SeriesKey
from .sketch import grouped_quantiles, merge_encoded
from .store import BucketColumns

__all__ = [
    "BASIC_STATISTICS",
    "parse_percentile",
    "validate_stat",
    "PeriodStats",
    "aggregate",
    "merge_columns",
]

BASIC_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"p(\d{1,3}(?:\.\d{1,10})?)\Z")


def parse_percentile(stat: str) -> float | None:
    """The quantile (0..1) of ``pNN`` / ``pNN.NN``, or None if ``stat`` is not one."""
    m = _PERCENTILE.match(stat)
    if m is None:
        return None
    value = float(m.group(1))
    return value / 100.0 if value <= 100.0 else None


def validate_stat(stat: str, what: str = "Stat") -> str:
    if stat in BASIC_STATISTICS or parse_percentile(stat) is not None:
        return stat
    raise InvalidParameterValue(
        f"The value {stat} for parameter {what} is not supported: use SampleCount, Average, "
        f"Sum, Minimum, Maximum or a percentile p0 to p100 (e.g. p99, p99.9)."
    )


@dataclasses.dataclass(frozen=True)
class PeriodStats:
    """Statistics of each non-empty (unit, period); percentile values are NaN when unavailable."""

    units: list[str]
    timestamps: np.ndarray  # period starts, float seconds
    unit_index: np.ndarray
    values: dict[str, np.ndarray]


def aggregate(cols: BucketColumns, start: int, period: int, stats: Sequence[str]) -> PeriodStats:
    """Merge rows into periods ``start + k * period`` (one group per unit and period)."""
    if not len(cols):
        empty = np.empty(0)
        return PeriodStats([], empty, empty.astype(np.int64), {s: empty for s in stats})
    units = sorted(set(cols.units))
    pidx = (np.asarray(cols.starts, dtype=np.int64) - start) // period
    n_periods = int(pidx.max()) + 1
    if len(units) == 1:
        g = pidx
    else:
        unit_pos = {u: i for i, u in enumerate(units)}
        uidx = np.fromiter((unit_pos[u] for u in cols.units), dtype=np.int64, count=len(cols))
        g = uidx * n_periods + pidx
    n_groups = len(units) * n_periods
    need = set(stats)
    # The statistics were validated: every one that is not basic is a percentile.
    quantiles = [
        (s, q)
        for s in stats
        if s not in BASIC_STATISTICS and (q := parse_percentile(s)) is not None
    ]
    values: dict[str, np.ndarray] = {}
    counts: np.ndarray
    sums: np.ndarray | None = None
    mins: np.ndarray | None = None
    maxs: np.ndarray | None = None
    if np.all(g[1:] > g[:-1]):
        # One row per group (1-minute periods, one writer): the columns are the statistics.
        present = g
        counts = np.asarray(cols.sample_counts, dtype=np.float64)
        if need & {"Sum", "Average"}:
            sums = np.asarray(cols.sums, dtype=np.float64)
        if "Minimum" in need or quantiles:
            mins = np.asarray(cols.minimums, dtype=np.float64)
        if "Maximum" in need or quantiles:
            maxs = np.asarray(cols.maximums, dtype=np.float64)
    else:
        all_counts = np.bincount(g, weights=cols.sample_counts, minlength=n_groups)
        present = np.flatnonzero(all_counts > 0)
        counts = all_counts[present]
        if need & {"Sum", "Average"}:
            sums = np.bincount(g, weights=cols.sums, minlength=n_groups)[present]
        if "Minimum" in need or quantiles:
            mins = np.full(n_groups, np.inf)
            np.minimum.at(mins, g, cols.minimums)
            mins = mins[present]
        if "Maximum" in need or quantiles:
            maxs = np.full(n_groups, -np.inf)
            np.maximum.at(maxs, g, cols.maximums)
            maxs = maxs[present]
    # Each statistic's column was computed above when ``need`` named it.
    for s in stats:
        if s == "SampleCount":
            values[s] = counts
        elif s == "Sum":
            assert sums is not None
            values[s] = sums
        elif s == "Average":
            assert sums is not None
            values[s] = sums / counts
        elif s == "Minimum":
            assert mins is not None
            values[s] = mins
        elif s == "Maximum":
            assert maxs is not None
            values[s] = maxs
    if quantiles:
        flags = np.asarray(cols.percentiles, dtype=np.float64)
        unavailable = np.bincount(g, weights=1.0 - flags, minlength=n_groups)[present]
        qs = grouped_quantiles(cols.sketches, g, n_groups, [q for _s, q in quantiles])[:, present]
        for (s, q), qv in zip(quantiles, qs, strict=True):
            # The sketch's bin value can sit just outside the data; the extremes are exact.
            qv = np.clip(qv, mins, maxs)
            if q == 0.0 or q == 1.0:
                qv = np.where(np.isnan(qv), qv, mins if q == 0.0 else maxs)
            qv[unavailable > 0] = np.nan
            values[s] = qv
    return PeriodStats(
        units,
        (start + (present % n_periods) * period).astype(np.float64),
        present // n_periods,
        values,
    )


def merge_columns(
    cols: BucketColumns, series: SeriesKey, resolution: int, start: int, uid: str
) -> BucketRow:
    """One row holding all of ``cols`` (rows of one series), for rollups."""
    return BucketRow(
        series,
        resolution,
        start,
        uid,
        math.fsum(cols.sample_counts),
        math.fsum(cols.sums),
        min(cols.minimums),
        max(cols.maximums),
        merge_encoded(cols.sketches),
        all(cols.percentiles),
    )

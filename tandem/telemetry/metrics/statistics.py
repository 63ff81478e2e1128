"""Statistics of stored rows per (unit, period): pure and vectorised with numpy."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import numpy as np

from tandem.errors import InvalidParameterValue

from .series import BucketRow
from .sketch import grouped_quantiles, merge_encoded

__all__ = ["BASIC_STATISTICS", "parse_percentile", "validate_stat", "PeriodStats", "aggregate",
           "merge_rows"]  # fmt: skip

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


def aggregate(
    rows: Sequence[BucketRow], start: int, period: int, stats: Sequence[str]
) -> PeriodStats:
    """Merge rows into periods ``start + k * period`` (one group per unit and period)."""
    if not rows:
        empty = np.empty(0)
        return PeriodStats([], empty, empty.astype(np.int64), {s: empty for s in stats})
    units = sorted({r.series.unit for r in rows})
    unit_pos = {u: i for i, u in enumerate(units)}
    starts = np.fromiter((r.start for r in rows), dtype=np.int64, count=len(rows))
    pidx = (starts - start) // period
    n_periods = int(pidx.max()) + 1
    if len(units) == 1:
        g = pidx
    else:
        uidx = np.fromiter((unit_pos[r.series.unit] for r in rows), dtype=np.int64, count=len(rows))
        g = uidx * n_periods + pidx
    n_groups = len(units) * n_periods
    counts = np.bincount(g, weights=[r.sample_count for r in rows], minlength=n_groups)
    present = np.flatnonzero(counts > 0)
    values: dict[str, np.ndarray] = {}
    need = set(stats)
    sums = None
    if need & {"Sum", "Average"}:
        sums = np.bincount(g, weights=[r.sum for r in rows], minlength=n_groups)[present]
    mins = maxs = None
    quantiles = [(s, parse_percentile(s)) for s in stats if s not in BASIC_STATISTICS]
    if "Minimum" in need or quantiles:
        mins = np.full(n_groups, np.inf)
        np.minimum.at(mins, g, [r.minimum for r in rows])
        mins = mins[present]
    if "Maximum" in need or quantiles:
        maxs = np.full(n_groups, -np.inf)
        np.maximum.at(maxs, g, [r.maximum for r in rows])
        maxs = maxs[present]
    for s in stats:
        if s == "SampleCount":
            values[s] = counts[present]
        elif s == "Sum":
            values[s] = sums
        elif s == "Average":
            values[s] = sums / counts[present]
        elif s == "Minimum":
            values[s] = mins
        elif s == "Maximum":
            values[s] = maxs
    if quantiles:
        unavailable = np.bincount(
            g, weights=[0.0 if r.percentiles else 1.0 for r in rows], minlength=n_groups
        )[present]
        qs = grouped_quantiles([r.sketch for r in rows], g.tolist(), n_groups,
                               [q for _s, q in quantiles])[:, present]  # fmt: skip
        for (s, _q), qv in zip(quantiles, qs, strict=True):
            # The sketch's bin value can sit just outside the data; the extremes are exact.
            qv = np.clip(qv, mins, maxs)
            qv[unavailable > 0] = np.nan
            values[s] = qv
    return PeriodStats(
        units,
        (start + (present % n_periods) * period).astype(np.float64),
        present // n_periods,
        values,
    )


def merge_rows(rows: Sequence[BucketRow], resolution: int, start: int, uid: str) -> BucketRow:
    """One row holding everything in ``rows`` (all of one series), for rollups."""
    return BucketRow(
        rows[0].series,
        resolution,
        start,
        uid,
        sum(r.sample_count for r in rows),
        sum(r.sum for r in rows),
        min(r.minimum for r in rows),
        max(r.maximum for r in rows),
        merge_encoded(r.sketch for r in rows),
        all(r.percentiles for r in rows),
    )

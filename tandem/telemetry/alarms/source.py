"""Where an evaluation's datapoints come from: the metric store's flushed minute rows.

``MetricSource.samples`` returns one ``Sample`` (or None) per period of the evaluation range,
oldest first. A single-metric alarm reads its metric's one-minute rows and aggregates them
into periods with the alarm's statistic and the sample count; a metric-math alarm runs its
``Metrics`` through ``MetricQueries.get_metric_data`` (sample counts are unknown there: 1).
Blocking: called on a thread.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Protocol

import numpy as np

from ..metrics.model import Metric
from ..metrics.queries import MetricQueries
from ..metrics.statistics import BASIC_STATISTICS, aggregate
from ..metrics.store import BucketColumns, MetricStore
from .evaluator import Sample
from .model import AlarmInput

__all__ = ["AlarmSource", "MetricSource"]

_MINUTE = 60


class AlarmSource(Protocol):
    def samples(
        self, alarm: AlarmInput, start: int, end: int, shared: dict[Any, Any] | None = None
    ) -> list[Sample | None]:
        """One entry per period in ``[start, end)``, oldest first; None where no data.
        ``shared``: a dict kept for one evaluation pass, where a source may keep reads that
        other alarms of the pass can reuse."""
        ...


class MetricSource:
    """``AlarmSource`` over the metric store (one-minute rows) and ``MetricQueries``."""

    def __init__(self, store: MetricStore, queries: MetricQueries) -> None:
        self.store = store
        self.queries = queries

    def samples(
        self, alarm: AlarmInput, start: int, end: int, shared: dict[Any, Any] | None = None
    ) -> list[Sample | None]:
        period = alarm.evaluation_period
        slots: list[Sample | None] = [None] * ((end - start) // period)
        if alarm.metrics:
            return self._math(alarm, start, end, period, slots)
        stat = alarm.stat
        assert stat is not None and alarm.namespace and alarm.metric_name
        metric = Metric(alarm.namespace, alarm.metric_name, tuple(alarm.dimensions))
        sketches = stat not in BASIC_STATISTICS
        # Alarms on one metric (a target-tracking policy's high and low alarms) share a read:
        # rows read for an earlier start serve a later one.
        key = (metric, alarm.unit, sketches, end)
        hit = None if shared is None else shared.get(key)
        if hit is not None and hit[0] <= start:
            cols = _since(hit[1], start)
        else:
            cols = self.store.read_buckets(metric, alarm.unit, _MINUTE, start, end, sketches)
            if shared is not None:
                shared[key] = (start, cols)
        if not len(cols):
            return slots
        units = sorted(set(cols.units))
        if len(units) > 1:
            cols = cols.only_unit(units[0])  # as GetMetricData: the first unit's data
        if stat in BASIC_STATISTICS:
            return _basic(cols, start, period, stat, slots)
        stats = aggregate(cols, start, period, [stat, "SampleCount"])
        values, counts = stats.values[stat], stats.values["SampleCount"]
        for t, v, c in zip(stats.timestamps.tolist(), values.tolist(), counts.tolist(),
                           strict=True):  # fmt: skip
            index = int(t - start) // period
            if 0 <= index < len(slots) and not math.isnan(v):
                slots[index] = Sample(t, v, c)
        return slots

    def _math(
        self, alarm: AlarmInput, start: int, end: int, period: int, slots: list[Sample | None]
    ) -> list[Sample | None]:
        result = self.queries.get_metric_data(
            list(alarm.metrics), start, end, scan_by="TimestampAscending"
        )
        for r in result.metric_data_results:
            for t, v in zip(r.timestamps, r.values, strict=True):
                index = int(t - start) // period
                if 0 <= index < len(slots) and not np.isnan(v):
                    slots[index] = Sample(t, float(v), 1.0)
        return slots


def _since(cols: BucketColumns, start: int) -> BucketColumns:
    """The rows of ``cols`` starting at or after ``start``."""
    keep = [i for i, begin in enumerate(cols.starts) if begin >= start]
    if len(keep) == len(cols):
        return cols
    columns = (getattr(cols, f.name) for f in dataclasses.fields(cols))
    return BucketColumns(*([column[i] for i in keep] for column in columns))


def _basic(
    cols: BucketColumns, start: int, period: int, stat: str, slots: list[Sample | None]
) -> list[Sample | None]:
    """``aggregate`` for one basic statistic, folded in plain Python: an alarm reads a few
    dozen rows, where numpy's per-call overhead is most of the cost."""
    acc: dict[int, list[float]] = {}
    rows = zip(cols.starts, cols.sample_counts, cols.sums, cols.minimums, cols.maximums,
               strict=True)  # fmt: skip
    for begin, count, total, low, high in rows:
        index = (begin - start) // period
        a = acc.get(index)
        if a is None:
            acc[index] = [count, total, low, high]
        else:
            a[0] += count
            a[1] += total
            a[2] = min(a[2], low)
            a[3] = max(a[3], high)
    for index, (count, total, low, high) in acc.items():
        if count <= 0 or not 0 <= index < len(slots):
            continue
        if stat == "Sum":
            value = total
        elif stat == "Average":
            value = total / count
        elif stat == "Minimum":
            value = low
        elif stat == "Maximum":
            value = high
        else:
            value = count
        slots[index] = Sample(float(start + index * period), value, count)
    return slots

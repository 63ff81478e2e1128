"""Read-your-writes: the store's rows merged with this process's in-memory minute buckets.

``LiveMetrics`` is the read half of a ``MetricStore`` that queries use: a datapoint is
readable as soon as it is recorded, not one flush interval later. Each in-memory bucket
always holds its full state under its uid, and the flusher writes that state under the same
uid, so a bucket counts exactly once when the store's row of that uid is left out. The order
makes it hold while a flush is in flight: memory is read *before* the store. A bucket seen
in memory is taken from memory and its row skipped, whatever the flush has written by then;
a bucket no longer in memory was evicted, which the flusher does only after its row is
committed, so the store read that follows finds it. Late data for an evicted minute is a
new bucket with a new uid; the old row is read from the store and the new bucket from
memory, as the flush would write them.

ListMetrics pages by the store's metric ids, so a listing that would miss a metric only
memory holds flushes first (rare: within one flush interval of a metric's first datapoint).
Only one-minute reads are merged: rollups (5 minutes, 1 hour) are read for time ranges that
start past the one-minute retention (15 days by default, beyond PutMetricData's two weeks)
and are recomputed from the store once a minute. The write path is unchanged: the merge
costs the reader one copy of the buckets it reads (under each series' lock, briefly).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any

from .model import Metric
from .series import MetricRegistry
from .sketch import encode_bins
from .store import BucketColumns, DimensionFilter, MetricPage, MetricStore

__all__ = ["LiveMetrics"]


class LiveMetrics:
    """``read_buckets`` and ``list_metrics`` of a store, with the registry's unflushed data."""

    def __init__(
        self, store: MetricStore, registry: MetricRegistry, flush: Callable[[], object]
    ) -> None:
        """``flush``: writes every dirty bucket now (``MetricFlusher.flush``)."""
        self.store = store
        self.registry = registry
        self.flush = flush

    def read_buckets(
        self,
        metric: Metric,
        unit: str | None,
        resolution: int,
        start: int,
        end: int,
        sketches: bool = True,
    ) -> BucketColumns:
        if resolution != 60:
            return self.store.read_buckets(metric, unit, resolution, start, end, sketches)
        live = [
            (series.key.unit, row)
            for series in self.registry.series_of(
                metric.namespace, metric.metric_name, metric.dimensions
            )
            if unit is None or series.key.unit == unit
            for row in series.live(start, end, sketches)
        ]
        stored = self.store.read_buckets(
            metric,
            unit,
            resolution,
            start,
            end,
            sketches,
            exclude=[(row[1], row[0]) for _, row in live],
        )
        if not live:
            return stored
        # Columns as lists, each live row inserted at its (unit, start) place: the store's rows
        # are already in that order, and live rows are a handful.
        cols: list[list[Any]] = [
            list(stored.units),
            list(stored.starts),
            list(stored.sample_counts),
            list(stored.sums),
            list(stored.minimums),
            list(stored.maximums),
            list(stored.sketches),
            list(stored.percentiles),
        ]
        keys = list(zip(cols[0], cols[1], strict=True))
        for u, (_uid, s, count, total, lo, hi, bins, percentiles) in live:
            at = bisect.bisect_right(keys, (u, s))
            keys.insert(at, (u, s))
            sketch = encode_bins(bins) if bins is not None else b""
            for col, value in zip(cols, (u, s, count, total, lo, hi, sketch, percentiles),
                                  strict=True):
                col.insert(at, value)
        return BucketColumns(*cols)

    def list_metrics(
        self,
        namespace: str | None,
        metric_name: str | None,
        dimensions: Sequence[DimensionFilter],
        active_since: float | None,
        after: int | None,
        limit: int,
    ) -> MetricPage:
        """The store's page, once every metric the filters match in memory is listed there.

        A listing pages through the store's stable metric ids, which memory lacks: where a
        matching metric has data in memory that the store does not list yet (new, or active
        again), the buckets are flushed first (a write on the reading thread, as the flusher
        would make within its interval). Being listed never stops once it starts, so checking
        before the page read is enough."""
        since = None if active_since is None else int(active_since) // 60 * 60
        candidates = self._in_memory(namespace, metric_name, dimensions, since)
        if candidates:
            stored = self.store.latest_starts(candidates)
            floor = 0 if since is None else since
            if any(stored.get(m, -1) < floor for m in candidates):
                self.flush()
        return self.store.list_metrics(
            namespace, metric_name, dimensions, active_since, after, limit
        )

    def _in_memory(
        self,
        namespace: str | None,
        metric_name: str | None,
        dimensions: Sequence[DimensionFilter],
        since: int | None,
    ) -> list[Metric]:
        """Metrics matching the filters with data in memory since ``since`` that the store may not
        list yet (only the registry's unlisted series: a handful, not every series)."""
        found: dict[Metric, None] = {}
        for series in self.registry.unlisted():
            key = series.key
            if namespace is not None and key.namespace != namespace:
                continue
            if metric_name is not None and key.metric_name != metric_name:
                continue
            dims = dict(key.dimensions)
            if any(
                f.name not in dims or (f.value is not None and dims[f.name] != f.value)
                for f in dimensions
            ):
                continue
            newest = series.newest_start()
            if newest is None or (since is not None and newest < since):
                continue
            found[Metric(key.namespace, key.metric_name, key.dimensions)] = None
        return list(found)

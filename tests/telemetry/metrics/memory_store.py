"""A MetricStore in a dict: the reference the SQLite store is compared with, and a fast
store for property tests."""

from __future__ import annotations

from collections.abc import Sequence

from tandem.telemetry.metrics import (
    BucketColumns,
    BucketRow,
    ChangedWindow,
    DimensionFilter,
    Metric,
    MetricPage,
)


class MemoryMetricStore:
    def __init__(self) -> None:
        self.rows: dict[tuple, tuple[int, BucketRow]] = {}
        self.metrics: dict[tuple, list] = {}  # identity -> [id, last_start]
        self.marks: dict[str, int] = {}
        self.seq = 0

    def write_buckets(self, rows: Sequence[BucketRow], *, fence: int | None = None) -> None:
        for r in rows:
            self.seq += 1
            self.rows[(r.series, r.resolution, r.start, r.uid)] = (self.seq, r)
            ident = (r.series.namespace, r.series.metric_name, r.series.dimensions)
            entry = self.metrics.setdefault(ident, [len(self.metrics) + 1, r.start])
            entry[1] = max(entry[1], r.start)

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
        dims = tuple(sorted(metric.dimensions))
        skip = set(exclude)
        found = sorted(
            (
                r
                for _seq, r in self.rows.values()
                if (r.series.namespace, r.series.metric_name, r.series.dimensions)
                == (metric.namespace, metric.metric_name, dims)
                and (unit is None or r.series.unit == unit)
                and r.resolution == resolution
                and start <= r.start < end
                and (r.start, r.uid) not in skip
            ),
            key=lambda r: (r.series.unit, r.start),
        )
        if not found:
            return BucketColumns()
        return BucketColumns(
            [r.series.unit for r in found],
            [r.start for r in found],
            [r.sample_count for r in found],
            [r.sum for r in found],
            [r.minimum for r in found],
            [r.maximum for r in found],
            [r.sketch for r in found],
            [r.percentiles for r in found],
        )

    def list_metrics(
        self,
        namespace: str | None,
        metric_name: str | None,
        dimensions: Sequence[DimensionFilter],
        active_since: float | None,
        after: int | None,
        limit: int,
    ) -> MetricPage:
        out = []
        for (ns, name, dims), (mid, last) in sorted(self.metrics.items(), key=lambda kv: kv[1][0]):
            d = dict(dims)
            if mid <= (after or 0) or (namespace and ns != namespace):
                continue
            if metric_name and name != metric_name:
                continue
            if active_since is not None and last < int(active_since) // 60 * 60:
                continue
            if any(
                f.name not in d or (f.value is not None and d[f.name] != f.value)
                for f in dimensions
            ):
                continue
            out.append((mid, Metric(ns, name, dims)))
        page = out[:limit]
        return MetricPage([m for _i, m in page], page[-1][0] if len(out) > limit else None)

    def latest_starts(self, metrics: Sequence[Metric]) -> dict[Metric, int]:
        out = {}
        for m in metrics:
            entry = self.metrics.get((m.namespace, m.metric_name, tuple(sorted(m.dimensions))))
            if entry is not None:
                out[m] = entry[1]
        return out

    def changed_windows(
        self, resolution: int, window: int, after: int
    ) -> tuple[list[ChangedWindow], int]:
        found: dict[tuple, int] = {}
        for seq, r in self.rows.values():
            if seq > after and r.resolution == resolution:
                key = (r.series, r.start // window * window)
                found[key] = max(found.get(key, 0), seq)
        return [ChangedWindow(s, w) for s, w in found], max(found.values(), default=after)

    def get_mark(self, name: str) -> int:
        return self.marks.get(name, 0)

    def set_mark(self, name: str, value: int, *, fence: int | None = None) -> None:
        self.marks[name] = value

    def delete_before(self, resolution: int, before: int, *, fence: int | None = None) -> int:
        doomed = [
            k for k, (_s, r) in self.rows.items() if r.resolution == resolution and r.start < before
        ]
        for k in doomed:
            del self.rows[k]
        return len(doomed)

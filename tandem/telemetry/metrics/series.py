"""Series, their in-memory minute buckets, and the registry that hands out series handles.

Recording is the request path: O(1), in memory, no I/O. Each series has one
``threading.Lock`` held only for the few statements of an update (never across an
``await``), so threads and coroutines may record at once.

Every in-memory bucket carries a unique id (this registry's writer id plus a
counter) and always holds its full state, so a flush *overwrites* the store row
``(series, minute, uid)``: flushing twice changes nothing. A bucket dropped from
memory after its minute closed and re-created for late data gets a new uid and
so a new row; queries merge the rows of a minute.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence

from tandem.clock import Clock, SystemClock
from tandem.errors import InvalidParameterValue

from .sketch import _INV_LOG_GAMMA, ZERO_KEY, encode_bins
from .validation import (
    normalize_dimensions,
    validate_metric_name,
    validate_namespace,
    validate_unit,
    validate_value,
)

__all__ = ["SeriesKey", "BucketRow", "MinuteBucket", "Series", "MetricRegistry"]

# Module globals are found faster than module attributes on the hot path.
_log = math.log
_ceil = math.ceil


@dataclasses.dataclass(frozen=True, slots=True)
class SeriesKey:
    """A series: namespace, metric name, dimension set (sorted by name) and unit."""

    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    unit: str = "None"


@dataclasses.dataclass(frozen=True, slots=True)
class BucketRow:
    """One stored aggregate: a series over ``[start, start + resolution)`` from one writer bucket.

    ``sketch`` is the packed percentile sketch (opaque to stores); ``percentiles``
    is False when a negative value or a non-uniform statistic set made
    percentiles unavailable for this row.
    """

    series: SeriesKey
    resolution: int
    start: int
    uid: str
    sample_count: float
    sum: float
    minimum: float
    maximum: float
    sketch: bytes
    percentiles: bool = True


def _minute(timestamp: float) -> int:
    """The start of the minute holding ``timestamp`` (epoch seconds)."""
    try:
        return int(timestamp // 60.0) * 60
    except (TypeError, ValueError, OverflowError):
        raise InvalidParameterValue(
            f"The value {timestamp!r} for parameter Timestamp is invalid."
        ) from None


# A bucket's state as a flush takes it: count, sum, min, max, sketch bins, percentiles.
BucketState = tuple[float, float, float, float, dict[int, float], bool]


class MinuteBucket:
    """The full state of one series over one minute, as recorded by this process."""

    __slots__ = ("start", "uid", "count", "sum", "min", "max", "bins", "percentiles", "dirty")

    def __init__(self, start: int, uid: str) -> None:
        self.start = start
        self.uid = uid
        self.count = 0.0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.bins: dict[int, float] = {}
        self.percentiles = True
        self.dirty = True


class Series:
    """A handle to record into one series; get it from ``MetricRegistry.series``."""

    __slots__ = ("key", "_lock", "_current", "_buckets", "_time", "_new_uid", "_retired")

    def __init__(self, key: SeriesKey, clock: Clock, new_uid: Iterable[str]) -> None:
        self.key = key
        self._lock = threading.Lock()
        self._current: MinuteBucket | None = None
        self._buckets: dict[int, MinuteBucket] = {}
        self._time = clock.time
        self._new_uid = iter(new_uid).__next__
        # Totals of the buckets already evicted, so ``cumulative()`` covers the series' whole life.
        self._retired = MinuteBucket(0, "retired")

    def _bucket(self, start: int) -> MinuteBucket:
        """The bucket for a minute (caller holds the lock)."""
        bucket = self._buckets.get(start)
        if bucket is None:
            bucket = self._buckets[start] = MinuteBucket(start, self._new_uid())
        if self._current is None or start >= self._current.start:
            self._current = bucket
        return bucket

    def record(self, value: float, timestamp: float | None = None) -> None:
        """Record one datapoint (epoch-seconds timestamp, default now)."""
        try:
            bad = value - value != 0.0  # NaN and +-inf in one comparison
        except TypeError:
            bad = True
        if bad:
            validate_value(value)
        if timestamp is None:
            timestamp = self._time()
        try:
            start = int(timestamp // 60.0) * 60  # inlined _minute: a call costs ~10% here
        except (TypeError, ValueError, OverflowError):
            start = _minute(timestamp)
        with self._lock:
            b = self._current
            if b is None or b.start != start:
                b = self._bucket(start)
            b.count += 1.0
            b.sum += value
            if value < b.min:
                b.min = value
            if value > b.max:
                b.max = value
            if value > 0.0:
                k = _ceil(_log(value) * _INV_LOG_GAMMA)
                bins = b.bins
                bins[k] = bins.get(k, 0.0) + 1.0
            elif value == 0.0:
                b.bins[ZERO_KEY] = b.bins.get(ZERO_KEY, 0.0) + 1.0
            else:
                b.percentiles = False
            b.dirty = True

    def record_statistics(
        self,
        sample_count: float,
        sum: float,  # noqa: A002 - CloudWatch's name
        minimum: float,
        maximum: float,
        timestamp: float | None = None,
    ) -> None:
        """Record a statistic set; percentiles stay available only if all its values are equal."""
        n = validate_value(sample_count, "StatisticValues.SampleCount")
        total = validate_value(sum, "StatisticValues.Sum")
        lo = validate_value(minimum, "StatisticValues.Minimum")
        hi = validate_value(maximum, "StatisticValues.Maximum")
        if n <= 0:
            raise InvalidParameterValue("The parameter StatisticValues.SampleCount must be > 0.")
        if lo > hi:
            raise InvalidParameterValue(
                "The parameter StatisticValues.Minimum must be <= StatisticValues.Maximum."
            )
        uniform = lo == hi and (n == 1 or math.isclose(total, lo * n, rel_tol=1e-9, abs_tol=1e-12))
        if timestamp is None:
            timestamp = self._time()
        start = _minute(timestamp)
        with self._lock:
            b = self._bucket(start)
            b.count += n
            b.sum += total
            b.min = min(b.min, lo)
            b.max = max(b.max, hi)
            if uniform and lo >= 0.0:
                k = ZERO_KEY if lo == 0.0 else math.ceil(math.log(lo) * _INV_LOG_GAMMA)
                b.bins[k] = b.bins.get(k, 0.0) + n
            else:
                b.percentiles = False
            b.dirty = True

    def record_values(
        self,
        values: Sequence[float],
        counts: Sequence[float] | None = None,
        timestamp: float | None = None,
    ) -> None:
        """Record values, each ``counts[i]`` times (default once); raw data for percentiles."""
        if counts is None:
            counts = [1.0] * len(values)
        elif len(counts) != len(values):
            raise InvalidParameterValue(
                "The parameters Values and Counts must be of the same size."
            )
        pairs = []
        for v, c in zip(values, counts, strict=True):
            value = validate_value(v, "Values")
            count = validate_value(c, "Counts")
            if count < 0:
                raise InvalidParameterValue("The parameter Counts must not be negative.")
            if count > 0:
                pairs.append((value, count))
        if not pairs:
            return
        if timestamp is None:
            timestamp = self._time()
        start = _minute(timestamp)
        with self._lock:
            b = self._bucket(start)
            for value, count in pairs:
                b.count += count
                b.sum += value * count
                b.min = min(b.min, value)
                b.max = max(b.max, value)
                if value >= 0.0:
                    k = ZERO_KEY if value == 0.0 else math.ceil(math.log(value) * _INV_LOG_GAMMA)
                    b.bins[k] = b.bins.get(k, 0.0) + count
                else:
                    b.percentiles = False
            b.dirty = True

    # -- flushing (background thread) ---------------------------------------

    def snapshot(self) -> list[tuple[MinuteBucket, BucketState]]:
        """Copies of the dirty buckets' state, marking them clean."""
        out: list[tuple[MinuteBucket, BucketState]] = []
        with self._lock:
            for b in self._buckets.values():
                if b.dirty:
                    b.dirty = False
                    out.append((b, (b.count, b.sum, b.min, b.max, dict(b.bins), b.percentiles)))
        return out

    def mark_dirty(self, buckets: Iterable[MinuteBucket]) -> None:
        with self._lock:
            for b in buckets:
                b.dirty = True

    def evict(self, before: int) -> None:
        """Drop clean buckets of minutes starting before ``before`` (they are stored)."""
        with self._lock:
            for start in [s for s, b in self._buckets.items() if s < before and not b.dirty]:
                bucket = self._buckets.pop(start)
                if bucket is self._current:
                    self._current = None
                _merge_into(self._retired, bucket)

    # -- cumulative view (Prometheus scrapes; background, O(buckets in memory)) ----------

    def cumulative(self) -> tuple[float, float, dict[int, float]]:
        """Sample count, sum and sketch bins over every value ever recorded in this process."""
        with self._lock:
            total = MinuteBucket(0, "total")
            _merge_into(total, self._retired)
            for b in self._buckets.values():
                _merge_into(total, b)
            return total.count, total.sum, total.bins

    def has_minute(self, start: int) -> bool:
        """Whether the in-memory minute starting at ``start`` holds any datapoint."""
        with self._lock:
            bucket = self._buckets.get(start)
            return bucket is not None and bucket.count > 0

    def latest(self) -> tuple[int, float, float] | None:
        """``(minute start, sample count, sum)`` of the newest in-memory minute, if any."""
        with self._lock:
            b = self._current
            return None if b is None else (b.start, b.count, b.sum)


def _merge_into(target: MinuteBucket, source: MinuteBucket) -> None:
    target.count += source.count
    target.sum += source.sum
    bins = target.bins
    for k, c in source.bins.items():
        bins[k] = bins.get(k, 0.0) + c


class MetricRegistry:
    """Validates and caches series; the same key always returns the same ``Series``."""

    def __init__(self, clock: Clock | None = None, writer_id: str | None = None) -> None:
        self.clock = clock or SystemClock()
        self.writer_id = writer_id or secrets.token_hex(6)
        counter = itertools.count(1)
        self._uids = (f"{self.writer_id}-{n}" for n in counter)
        self._uid_lock = threading.Lock()
        self._by_key: dict[SeriesKey, Series] = {}
        self._by_args: dict[tuple[object, ...], Series] = {}
        self._lock = threading.Lock()

    def _next_uid(self) -> Iterable[str]:
        while True:
            with self._uid_lock:
                uid = next(self._uids)
            yield uid

    def series(
        self,
        namespace: str,
        metric_name: str,
        dimensions: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        unit: str = "None",
    ) -> Series:
        """The series handle for this key (validated on first use; cached)."""
        # Fast path: the caller's own spelling of the key, without sorting or validating.
        if type(dimensions) is dict:
            args = (namespace, metric_name, tuple(dimensions.items()), unit)
        elif type(dimensions) is tuple:
            args = (namespace, metric_name, dimensions, unit)
        else:
            args = None
        if args is not None:
            try:
                found = self._by_args.get(args)
            except TypeError:  # unhashable values; validation below says what is wrong
                found = None
            if found is not None:
                return found
        key = SeriesKey(
            validate_namespace(namespace),
            validate_metric_name(metric_name),
            normalize_dimensions(dimensions),
            validate_unit(unit),
        )
        with self._lock:
            series = self._by_key.get(key)
            if series is None:
                series = self._by_key[key] = Series(key, self.clock, self._next_uid())
            if args is not None:
                self._by_args[args] = series
        return series

    def all_series(self) -> list[Series]:
        with self._lock:
            return list(self._by_key.values())


def bucket_row(key: SeriesKey, bucket: MinuteBucket, state: BucketState) -> BucketRow:
    """The store row of a bucket snapshot."""
    count, total, lo, hi, bins, percentiles = state
    return BucketRow(
        key, 60, bucket.start, bucket.uid, count, total, lo, hi, encode_bins(bins), percentiles
    )

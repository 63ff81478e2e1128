"""Flushing minute buckets into the store: idempotent, complete on shutdown, late data."""

from __future__ import annotations

import time

from tandem.store.sqlite.database import Database
from tandem.store.sqlite.metrics import SQLiteMetricStore
from tandem.telemetry.metrics import Metric, MetricFlusher, MetricQueries, MetricRegistry
from tests.telemetry.metrics.conftest import T0

ALL = ["SampleCount", "Sum", "Minimum", "Maximum", "Average"]


def _stats(h, start=T0 - 600, end=T0 + 600):
    result = h.queries.get_statistics("ns", "m", start, end, 60, ALL)
    return [(p.timestamp, p.sample_count, p.sum, p.minimum, p.maximum) for p in result.datapoints]


def _rows(store, start=0, end=2**40):
    return len(store.read_buckets(Metric("ns", "m"), None, 60, start, end))


def test_flushing_twice_writes_the_same_rows(harness) -> None:
    s = harness.registry.series("ns", "m")
    s.record(1.0)
    s.record(3.0)
    assert harness.flusher.flush() == 1
    assert harness.flusher.flush() == 0  # nothing dirty
    s.record(5.0)
    assert harness.flusher.flush() == 1  # same bucket, overwritten with its full state
    assert _rows(harness.store) == 1
    assert _stats(harness) == [(T0, 3.0, 9.0, 1.0, 5.0)]


def test_the_current_minute_is_visible_after_a_flush(harness) -> None:
    s = harness.registry.series("ns", "m")
    s.record(2.0)
    assert _stats(harness) == []
    harness.flusher.flush()
    assert _stats(harness) == [(T0, 1.0, 2.0, 2.0, 2.0)]


def test_late_data_after_eviction_becomes_a_new_row_and_merges(harness) -> None:
    s = harness.registry.series("ns", "m")
    s.record(10.0)
    harness.flusher.flush()
    harness.clock.advance(180)  # the minute closed long ago: evicted at the next flush
    s.record(1.0)
    harness.flusher.flush()
    s.record(4.0, T0 + 30)  # late data for the evicted minute
    harness.flusher.flush()
    harness.flusher.flush()
    assert _rows(harness.store, int(T0), int(T0) + 60) == 2
    assert _stats(harness, T0 - 60, T0 + 600) == [
        (T0, 2.0, 14.0, 4.0, 10.0),
        (T0 + 180, 1.0, 1.0, 1.0, 1.0),
    ]


def test_stop_flushes_everything(harness) -> None:
    harness.flusher.start()
    s = harness.registry.series("ns", "m")
    s.record(7.0)
    harness.flusher.stop()
    assert _stats(harness) == [(T0, 1.0, 7.0, 7.0, 7.0)]


def test_background_thread_flushes_within_an_interval(sqlite_store, clock) -> None:
    registry = MetricRegistry(clock=clock)
    flusher = MetricFlusher(registry, sqlite_store, interval=0.02, clock=clock)
    flusher.start()
    try:
        registry.series("ns", "m").record(1.0)
        deadline = time.monotonic() + 5
        while _rows(sqlite_store) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _rows(sqlite_store) == 1
    finally:
        flusher.stop()


def test_a_failed_write_is_retried_by_the_next_flush(clock) -> None:
    class Flaky:
        def __init__(self) -> None:
            self.fail = True
            self.rows = []

        def write_buckets(self, rows) -> None:
            if self.fail:
                raise OSError("disk full")
            self.rows.extend(rows)

    store = Flaky()
    registry = MetricRegistry(clock=clock)
    flusher = MetricFlusher(registry, store, clock=clock)
    registry.series("ns", "m").record(1.0)
    try:
        flusher.flush()
    except OSError:
        pass
    store.fail = False
    assert flusher.flush() == 1
    assert store.rows[0].sample_count == 1.0


def test_kill_loses_only_what_was_not_flushed_and_reopen_keeps_the_rest(tmp_path, clock) -> None:
    db = Database(tmp_path / "metrics.db")
    registry = MetricRegistry(clock=clock)
    flusher = MetricFlusher(registry, SQLiteMetricStore(db), clock=clock)
    s = registry.series("ns", "m", {"host": "a"}, "Seconds")
    s.record(1.0)
    flusher.flush()
    s.record(100.0)  # never flushed: the process "dies" here
    db.close()

    db2 = Database(tmp_path / "metrics.db")
    try:
        queries = MetricQueries(SQLiteMetricStore(db2), clock=clock)
        result = queries.get_statistics(
            "ns", "m", T0 - 60, T0 + 60, 60, ["SampleCount", "Maximum"], dimensions={"host": "a"}
        )
        assert [(p.sample_count, p.maximum, p.unit) for p in result.datapoints] == [
            (1.0, 1.0, "Seconds")
        ]
    finally:
        db2.close()


def test_two_writers_sharing_a_store_are_merged(sqlite_store, clock) -> None:
    writers = [MetricRegistry(clock=clock, writer_id=w) for w in ("router-a", "router-b")]
    for i, reg in enumerate(writers):
        reg.series("ns", "m").record(float(i + 1))
        MetricFlusher(reg, sqlite_store, clock=clock).flush()
    queries = MetricQueries(sqlite_store, clock=clock)
    result = queries.get_statistics("ns", "m", T0, T0 + 60, 60, ["SampleCount", "Sum", "Maximum"])
    assert [(p.sample_count, p.sum, p.maximum) for p in result.datapoints] == [(2.0, 3.0, 2.0)]

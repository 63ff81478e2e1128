"""Rollups into 5-minute and 1-hour rows, retention, and queries over older ranges."""

from __future__ import annotations

from tandem.telemetry.metrics import Metric, MetricRollups, Retention
from tandem.telemetry.metrics.sketch import decode_bins
from tests.telemetry.metrics.conftest import T0

DAY = 86400
H0 = 1_699_999_200.0  # an hour boundary
ALL = ["SampleCount", "Sum", "Minimum", "Maximum", "Average"]


def _fill(h, start, minutes, value=lambda k: float(k + 1)):
    s = h.registry.series("ns", "m")
    for k in range(minutes):
        s.record(value(k), start + k * 60 + 5)
    h.flusher.flush()


def _rows(h, resolution):
    cols = h.store.read_buckets(Metric("ns", "m"), None, resolution, 0, 2**40)
    return list(
        zip(cols.starts, cols.sample_counts, cols.sums, cols.minimums, cols.maximums, strict=True)
    )


def test_rollups_merge_windows_and_are_recomputed_when_late_data_arrives(harness) -> None:
    h = harness
    h.clock.now = H0 + 3600
    _fill(h, H0, 12)  # minutes 0..11 of the hour, values 1..12
    rollups = MetricRollups(h.store, clock=h.clock)
    report = rollups.run()
    assert report.rolled_up == {300: 3, 3600: 1}
    assert _rows(h, 300) == [
        (int(H0), 5.0, 15.0, 1.0, 5.0),
        (int(H0) + 300, 5.0, 40.0, 6.0, 10.0),
        (int(H0) + 600, 2.0, 23.0, 11.0, 12.0),
    ]
    assert _rows(h, 3600) == [(int(H0), 12.0, 78.0, 1.0, 12.0)]
    assert rollups.run().rolled_up == {300: 0, 3600: 0}  # nothing changed
    h.registry.series("ns", "m").record(100.0, H0 + 610)  # late data in the third window
    h.flusher.flush()
    assert rollups.run().rolled_up == {300: 1, 3600: 1}
    assert _rows(h, 300)[2] == (int(H0) + 600, 3.0, 123.0, 11.0, 100.0)
    assert _rows(h, 3600) == [(int(H0), 13.0, 178.0, 1.0, 100.0)]
    cols = h.store.read_buckets(Metric("ns", "m"), None, 3600, 0, 2**40)
    assert sum(decode_bins(cols.sketches[0]).values()) == 13.0


def test_retention_deletes_each_resolution_at_its_age(harness) -> None:
    h = harness
    h.clock.now = H0
    _fill(h, H0, 1)
    rollups = MetricRollups(h.store, retention=Retention(15, 63, 455), clock=h.clock)
    rollups.run()
    h.clock.now = H0 + 15 * DAY  # exactly 15 days: still kept
    assert rollups.run().deleted == {60: 0, 300: 0, 3600: 0}
    h.clock.now = H0 + 15 * DAY + 60
    assert rollups.run().deleted == {60: 1, 300: 0, 3600: 0}
    h.clock.now = H0 + 63 * DAY + 300
    assert rollups.run().deleted == {60: 0, 300: 1, 3600: 0}
    h.clock.now = H0 + 455 * DAY + 3600
    assert rollups.run().deleted == {60: 0, 300: 0, 3600: 1}
    assert _rows(h, 60) == _rows(h, 300) == _rows(h, 3600) == []


def test_old_ranges_read_rollups_and_apply_cloudwatchs_period_rules(harness) -> None:
    h = harness
    h.clock.now = H0
    _fill(h, H0, 60, value=lambda k: 1.0)
    rollups = MetricRollups(h.store, clock=h.clock)
    rollups.run()
    q = h.queries

    h.clock.now = H0 + 20 * DAY  # 15-63 days old: 5-minute data
    rollups.run()
    assert _rows(h, 60) == []
    assert q.get_statistics("ns", "m", H0, H0 + 3600, 60, ["Sum"]).datapoints == []  # too fine
    five = q.get_statistics("ns", "m", H0 + 100, H0 + 3600, 600, ["Sum", "SampleCount"])
    # Start rounds down to 5 minutes.
    assert [(p.timestamp, p.sum) for p in five.datapoints] == [
        (H0 + 600 * k, 10.0) for k in range(6)
    ]

    h.clock.now = H0 + 100 * DAY  # beyond 63 days: hourly data only
    rollups.run()
    assert q.get_statistics("ns", "m", H0, H0 + 3600, 300, ["Sum"]).datapoints == []
    hour = q.get_statistics("ns", "m", H0 + 1800, H0 + 7200, 3600, ["Sum", "Maximum"])
    assert [(p.timestamp, p.sum, p.maximum) for p in hour.datapoints] == [(H0, 60.0, 1.0)]
    p = q.get_statistics("ns", "m", H0, H0 + 3600, 3600, extended_statistics=["p50"]).datapoints
    assert abs(p[0].extended_statistics["p50"] - 1.0) <= 0.01


def test_retention_from_settings() -> None:
    from tandem.config import Settings

    r = Retention.from_settings(
        Settings(retention_1m_days=1, retention_5m_days=2, retention_1h_days=3)
    )
    assert (r.days_1m, r.days_5m, r.days_1h) == (1, 2, 3)
    assert r.resolution_for(T0 - DAY, T0) == 60
    assert r.resolution_for(T0 - DAY - 1, T0) == 300
    assert r.resolution_for(T0 - 2 * DAY - 1, T0) == 3600

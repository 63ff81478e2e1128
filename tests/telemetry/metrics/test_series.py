"""Series keys, validation and in-memory recording."""

from __future__ import annotations

import math
import threading

import pytest

from tandem.errors import InvalidParameterValue
from tandem.telemetry.metrics import MetricRegistry
from tests.telemetry.metrics.conftest import T0


def _state(series):
    ((bucket, state),) = series.snapshot()
    return bucket, state


def test_same_key_returns_the_same_series_whatever_the_dimension_order(clock) -> None:
    reg = MetricRegistry(clock=clock)
    a = reg.series(
        "AWS/SageMaker", "ModelLatency", {"EndpointName": "e", "VariantName": "v"}, "Microseconds"
    )
    b = reg.series(
        "AWS/SageMaker", "ModelLatency", {"VariantName": "v", "EndpointName": "e"}, "Microseconds"
    )
    c = reg.series(
        "AWS/SageMaker",
        "ModelLatency",
        [("VariantName", "v"), ("EndpointName", "e")],
        "Microseconds",
    )
    assert a is b is c
    assert a.key.dimensions == (("EndpointName", "e"), ("VariantName", "v"))
    assert reg.series("AWS/SageMaker", "ModelLatency", {"EndpointName": "e"}) is not a


def test_default_unit_is_none(clock) -> None:
    assert MetricRegistry(clock=clock).series("ns", "m").key.unit == "None"


def test_eleventh_dimension_is_rejected(clock) -> None:
    reg = MetricRegistry(clock=clock)
    reg.series("ns", "m", {f"d{i}": "x" for i in range(10)})
    with pytest.raises(InvalidParameterValue, match="must not have a size greater than 10"):
        reg.series("ns", "m", {f"d{i}": "x" for i in range(11)})


@pytest.mark.parametrize(
    ("namespace", "name", "dims", "unit", "message"),
    [
        ("", "m", {}, "None", "Namespace must be between 1 and 255"),
        (":ns", "m", {}, "None", "Namespace must not start with ':'"),
        ("n" * 256, "m", {}, "None", "Namespace must be between 1 and 255"),
        ("nś", "m", {}, "None", "Namespace must contain only ASCII"),
        ("ns", "", {}, "None", "MetricName must be between 1 and 255"),
        ("ns", "m", {"": "v"}, "None", "Dimensions.Name must be between 1 and 255"),
        ("ns", "m", {"n": "v" * 1025}, "None", "Dimensions.Value must be between 1 and 1024"),
        ("ns", "m", {"n": "   "}, "None", "at least one non-whitespace"),
        ("ns", "m", {"n": ":v"}, "None", "Dimensions.Value must not start with ':'"),
        ("ns", "m", {"n": "a\tb"}, "None", "control characters"),
        ("ns", "m", {}, "Secs", "Unit must be one of"),
    ],
)
def test_bad_keys_are_rejected(clock, namespace, name, dims, unit, message) -> None:
    with pytest.raises(InvalidParameterValue, match=message):
        MetricRegistry(clock=clock).series(namespace, name, dims, unit)


def test_duplicate_dimension_names_are_rejected(clock) -> None:
    with pytest.raises(InvalidParameterValue, match="more than once"):
        MetricRegistry(clock=clock).series("ns", "m", [("a", "1"), ("a", "2")])


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "3", None])
def test_non_finite_values_are_rejected(clock, value) -> None:
    series = MetricRegistry(clock=clock).series("ns", "m")
    with pytest.raises(InvalidParameterValue, match="for parameter Value is invalid"):
        series.record(value)
    assert series.snapshot() == []


def test_record_aggregates_a_minute(clock) -> None:
    series = MetricRegistry(clock=clock).series("ns", "m")
    for v in range(10):
        series.record(float(v), T0 + v)
    bucket, (count, total, lo, hi, bins, pct) = _state(series)
    assert (bucket.start, count, total, lo, hi, pct) == (int(T0), 10.0, 45.0, 0.0, 9.0, True)
    assert sum(bins.values()) == 10.0


def test_minute_boundaries_follow_the_timestamp(clock) -> None:
    series = MetricRegistry(clock=clock).series("ns", "m")
    series.record(1.0)  # clock.time() == T0
    clock.advance(59.999)
    series.record(2.0)
    clock.advance(0.001)
    series.record(4.0)
    series.record(8.0, T0 - 0.5)  # late, previous minute
    got = sorted((b.start, s[0], s[1]) for b, s in series.snapshot())
    assert got == [(int(T0) - 60, 1.0, 8.0), (int(T0), 2.0, 3.0), (int(T0) + 60, 1.0, 4.0)]


def test_values_and_counts_like_cloudwatch(clock) -> None:
    series = MetricRegistry(clock=clock).series("ns", "m")
    series.record_values([1.0, 10.0], [2.0, 4.0])
    _bucket, (count, total, lo, hi, _bins, pct) = _state(series)
    assert (count, total, lo, hi, pct) == (6.0, 42.0, 1.0, 10.0, True)


def test_values_and_counts_of_different_sizes_are_rejected(clock) -> None:
    series = MetricRegistry(clock=clock).series("ns", "m")
    with pytest.raises(InvalidParameterValue, match="must be of the same size"):
        series.record_values([1.0, 10.0], [2.0, 4.0, 5.0])


def test_statistic_sets_keep_percentiles_only_when_uniform(clock) -> None:
    reg = MetricRegistry(clock=clock)
    uniform = reg.series("ns", "uniform")
    uniform.record_statistics(4, 20.0, 5.0, 5.0)
    assert _state(uniform)[1][5] is True
    spread = reg.series("ns", "spread")
    spread.record_statistics(4, 20.0, 1.0, 9.0)
    _b, (count, total, lo, hi, _bins, pct) = _state(spread)
    assert (count, total, lo, hi, pct) == (4.0, 20.0, 1.0, 9.0, False)


def test_statistic_set_with_min_above_max_is_rejected(clock) -> None:
    with pytest.raises(InvalidParameterValue, match="Minimum must be <="):
        MetricRegistry(clock=clock).series("ns", "m").record_statistics(2, 3.0, 2.0, 1.0)


def test_negative_values_count_but_disable_percentiles(clock) -> None:
    series = MetricRegistry(clock=clock).series("ns", "m")
    series.record(-3.0)
    series.record(5.0)
    _b, (count, total, lo, hi, _bins, pct) = _state(series)
    assert (count, total, lo, hi, pct) == (2.0, 2.0, -3.0, 5.0, False)


def test_recording_from_many_threads_loses_nothing(clock) -> None:
    series = MetricRegistry(clock=clock).series("ns", "m")

    def work() -> None:
        for _ in range(5000):
            series.record(2.0)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _b, (count, total, *_rest) = _state(series)
    assert (count, total) == (20000.0, 40000.0)


def test_each_bucket_gets_a_unique_uid(clock) -> None:
    reg = MetricRegistry(clock=clock, writer_id="w1")
    a, b = reg.series("ns", "a"), reg.series("ns", "b")
    a.record(1.0)
    b.record(1.0)
    a.record(1.0, T0 + 60)
    uids = [bk.uid for s in (a, b) for bk, _ in s.snapshot()]
    assert len(set(uids)) == 3 and all(u.startswith("w1-") for u in uids)


@pytest.mark.parametrize("timestamp", [math.nan, math.inf, "now"])
def test_bad_timestamps_are_rejected(clock, timestamp) -> None:
    series = MetricRegistry(clock=clock).series("ns", "m")
    with pytest.raises(InvalidParameterValue, match="for parameter Timestamp is invalid"):
        series.record(1.0, timestamp)
    with pytest.raises(InvalidParameterValue, match="for parameter Timestamp is invalid"):
        series.record_values([1.0], timestamp=timestamp)

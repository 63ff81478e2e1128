"""GetMetricStatistics: CloudWatch's errors, units, dimensions, periods and ordering."""

from __future__ import annotations

import pytest

from tandem.errors import InvalidParameterCombination, InvalidParameterValue, MissingParameter
from tests.telemetry.metrics.conftest import T0

ALL = ["SampleCount", "Sum", "Minimum", "Maximum", "Average"]


def test_start_must_be_before_end(harness) -> None:
    with pytest.raises(InvalidParameterValue) as err:
        harness.queries.get_statistics("ns", "m", T0, T0, 60, ["Sum"])
    assert err.value.message == "The parameter StartTime must be less than the parameter EndTime."


def test_more_than_1440_datapoints_is_rejected_with_cloudwatchs_text(harness) -> None:
    with pytest.raises(InvalidParameterCombination) as err:
        harness.queries.get_statistics("ns", "m", T0 - 86400, T0, 1, ["Sum"])
    assert err.value.message == (
        "You have requested up to 86400 datapoints, which exceeds the limit of 1440. You may "
        "reduce the datapoints requested by increasing Period, or decreasing the time range."
    )
    # Exactly 1440 is allowed.
    harness.queries.get_statistics("ns", "m", T0 - 86400, T0, 60, ["Sum"])


@pytest.mark.parametrize("period", [0, -60, 90, 61, 1.5])
def test_bad_periods_are_rejected(harness, period) -> None:
    with pytest.raises(InvalidParameterValue, match="Period"):
        harness.queries.get_statistics("ns", "m", T0 - 600, T0, period, ["Sum"])


def test_statistics_or_extended_statistics_but_not_both_nor_neither(harness) -> None:
    q = harness.queries
    with pytest.raises(InvalidParameterCombination, match="Must specify either"):
        q.get_statistics("ns", "m", T0 - 600, T0, 60)
    with pytest.raises(InvalidParameterCombination, match="mutually exclusive"):
        q.get_statistics("ns", "m", T0 - 600, T0, 60, ["Sum"], ["p99"])
    with pytest.raises(InvalidParameterValue, match="not a valid statistic"):
        q.get_statistics("ns", "m", T0 - 600, T0, 60, ["Median"])
    with pytest.raises(InvalidParameterValue, match="not a valid percentile"):
        q.get_statistics("ns", "m", T0 - 600, T0, 60, extended_statistics=["p101"])
    with pytest.raises(MissingParameter, match="Namespace"):
        q.get_statistics(None, "m", T0 - 600, T0, 60, ["Sum"])


def test_values_0_to_9_give_cloudwatchs_example(harness) -> None:
    s = harness.registry.series("ns", "m")
    for v in range(10):
        s.record(float(v))
    harness.flusher.flush()
    result = harness.queries.get_statistics("ns", "m", T0, T0 + 60, 60, ALL)
    assert result.label == "m"
    (p,) = result.datapoints
    assert (p.timestamp, p.average, p.maximum, p.minimum, p.sample_count, p.sum, p.unit) == (
        T0,
        4.5,
        9.0,
        0.0,
        10.0,
        45.0,
        "None",
    )
    assert p.extended_statistics is None


def test_without_unit_one_datapoint_per_unit(harness) -> None:
    reg = harness.registry
    reg.series("ns", "m", unit="Seconds").record(1.0)
    reg.series("ns", "m", unit="Count").record(5.0)
    reg.series("ns", "m").record(10.0)
    harness.flusher.flush()
    result = harness.queries.get_statistics("ns", "m", T0, T0 + 60, 60, ["Average"])
    assert [(p.unit, p.average) for p in result.datapoints] == [
        ("Count", 5.0),
        ("None", 10.0),
        ("Seconds", 1.0),
    ]
    only = harness.queries.get_statistics("ns", "m", T0, T0 + 60, 60, ["Average"], unit="Count")
    assert [(p.unit, p.average) for p in only.datapoints] == [("Count", 5.0)]
    none = harness.queries.get_statistics("ns", "m", T0, T0 + 60, 60, ["Average"], unit="Bytes")
    assert none.datapoints == []


def test_dimensions_must_match_exactly(harness) -> None:
    harness.registry.series("ns", "m", {"foo": "bar", "x": "1"}).record(1.0)
    harness.flusher.flush()
    q = harness.queries
    assert q.get_statistics("ns", "m", T0, T0 + 60, 60, ["Sum"]).datapoints == []
    assert (
        q.get_statistics("ns", "m", T0, T0 + 60, 60, ["Sum"], dimensions={"foo": "bar"}).datapoints
        == []
    )
    hit = q.get_statistics(
        "ns", "m", T0, T0 + 60, 60, ["Sum"], dimensions=[("x", "1"), ("foo", "bar")]
    )
    assert [p.sum for p in hit.datapoints] == [1.0]


def test_start_is_rounded_down_to_the_minute_and_buckets_align_on_it(harness) -> None:
    s = harness.registry.series("ns", "m")
    for minute in range(6):
        s.record(1.0, T0 + minute * 60 + 10)
    harness.flusher.flush()
    result = harness.queries.get_statistics("ns", "m", T0 + 59, T0 + 360, 120, ["SampleCount"])
    # Start rounds down to T0: periods T0, T0+120, T0+240.
    assert [(p.timestamp, p.sample_count) for p in result.datapoints] == [
        (T0, 2.0),
        (T0 + 120, 2.0),
        (T0 + 240, 2.0),
    ]


def test_end_is_exclusive_and_only_buckets_with_data_are_returned(harness) -> None:
    s = harness.registry.series("ns", "m")
    s.record(1.0, T0)
    s.record(2.0, T0 + 600)
    harness.flusher.flush()
    result = harness.queries.get_statistics("ns", "m", T0 - 300, T0 + 600, 60, ["Sum"])
    assert [(p.timestamp, p.sum) for p in result.datapoints] == [(T0, 1.0)]


def test_percentiles_are_unavailable_with_negative_values(harness) -> None:
    s = harness.registry.series("ns", "m")
    s.record(-1.0)
    s.record(5.0)
    s.record(6.0, T0 + 60)
    harness.flusher.flush()
    result = harness.queries.get_statistics(
        "ns", "m", T0, T0 + 120, 60, extended_statistics=["p50"]
    )
    assert [p.extended_statistics for p in result.datapoints][0] == {}
    assert abs(result.datapoints[1].extended_statistics["p50"] - 6.0) <= 0.06


def test_percentile_extremes_are_exact(harness) -> None:
    s = harness.registry.series("ns", "m")
    for v in (3.0, 1000.0, 7.5):
        s.record(v)
    harness.flusher.flush()
    result = harness.queries.get_statistics(
        "ns", "m", T0, T0 + 60, 60, extended_statistics=["p0", "p100"]
    )
    assert result.datapoints[0].extended_statistics == {"p0": 3.0, "p100": 1000.0}

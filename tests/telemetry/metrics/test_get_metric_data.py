"""GetMetricData: labels, ordering, paging, units, math expressions."""

from __future__ import annotations

import pytest

from tandem.errors import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    ValidationError,
)
from tandem.telemetry.metrics import (
    ExpressionError,
    MessageData,
    Metric,
    MetricDataQuery,
    MetricStat,
)
from tests.telemetry.metrics.conftest import T0

M1 = Metric("ns", "metric1")
M2 = Metric("ns", "metric2")


def q(qid, metric=M1, stat="Sum", period=60, **kw):
    return MetricDataQuery(qid, MetricStat(metric, period, stat, kw.pop("unit", None)), **kw)


def e(qid, expression, **kw):
    return MetricDataQuery(qid, expression=expression, **kw)


@pytest.fixture
def twenty(harness):
    """metric1 = minute index + 1 (and metric2 = 10x) for 20 minutes from T0."""
    s1 = harness.registry.series("ns", "metric1")
    s2 = harness.registry.series("ns", "metric2")
    for k in range(20):
        s1.record(float(k + 1), T0 + k * 60)
        s2.record(float(10 * (k + 1)), T0 + k * 60)
    harness.clock.advance(20 * 60)
    harness.flusher.flush()
    return harness


def test_default_order_is_descending_and_ascending_is_its_reverse(twenty) -> None:
    get = twenty.queries.get_metric_data
    default = get([q("m1")], T0, T0 + 1200).metric_data_results[0]
    desc = get([q("m1")], T0, T0 + 1200, scan_by="TimestampDescending").metric_data_results[0]
    asc = get([q("m1")], T0, T0 + 1200, scan_by="TimestampAscending").metric_data_results[0]
    assert default.timestamps == desc.timestamps == asc.timestamps[::-1]
    assert asc.values == [float(k + 1) for k in range(20)]
    assert asc.timestamps[0] == T0 and default.status_code == "Complete"


def test_max_datapoints_pages_with_a_token(twenty) -> None:
    get = twenty.queries.get_metric_data
    first = get([q("m1")], T0, T0 + 1200, max_datapoints=10, scan_by="TimestampAscending")
    (r,) = first.metric_data_results
    assert (r.values, r.status_code) == ([float(k + 1) for k in range(10)], "PartialData")
    assert first.next_token is not None and first.messages == []
    second = get(
        [q("m1")],
        T0,
        T0 + 1200,
        max_datapoints=10,
        scan_by="TimestampAscending",
        next_token=first.next_token,
    )
    (r2,) = second.metric_data_results
    assert (r2.values, r2.status_code) == ([float(k + 1) for k in range(10, 20)], "Complete")
    assert second.next_token is None


def test_a_token_from_another_request_or_garbage_is_rejected(twenty) -> None:
    get = twenty.queries.get_metric_data
    token = get([q("m1")], T0, T0 + 1200, max_datapoints=5).next_token
    with pytest.raises(InvalidNextToken):
        get([q("m1")], T0, T0 + 1260, max_datapoints=5, next_token=token)
    with pytest.raises(InvalidNextToken):
        get([q("m1")], T0, T0 + 1200, max_datapoints=5, next_token="not-a-token")


def test_default_labels_follow_stat_and_period_differences(twenty) -> None:
    get = twenty.queries.get_metric_data
    single = get([q("m1")], T0, T0 + 1200).metric_data_results
    assert [r.label for r in single] == ["metric1"]
    stats = get([q("a", stat="Average"), q("b", stat="Sum")], T0, T0 + 1200).metric_data_results
    assert [r.label for r in stats] == ["metric1 Average", "metric1 Sum"]
    periods = get(
        [q("a", stat="Sum", period=60), q("b", stat="Minimum", period=120)], T0, T0 + 1200
    ).metric_data_results
    assert [r.label for r in periods] == ["metric1 Sum 60", "metric1 Minimum 120"]
    same_stat = get([q("a", period=60), q("b", period=120)], T0, T0 + 1200).metric_data_results
    assert [r.label for r in same_stat] == ["metric1 Sum 60", "metric1 Sum 120"]
    units = get([q("a", unit="None"), q("b", unit="Count")], T0, T0 + 1200).metric_data_results
    assert [r.label for r in units] == ["metric1", "metric1"]
    explicit = get([q("a", label="mine")], T0, T0 + 1200).metric_data_results
    assert explicit[0].label == "mine"


def test_mixed_units_pick_one_and_say_so(harness) -> None:
    reg = harness.registry
    reg.series("ns", "metric1", unit="Seconds").record(1.0)
    reg.series("ns", "metric1", unit="Milliseconds").record(2.0)
    reg.series("ns", "metric1", unit="Count").record(3.0)
    harness.flusher.flush()
    (r,) = harness.queries.get_metric_data([q("m1")], T0, T0 + 60).metric_data_results
    assert r.values == [3.0]
    assert r.messages == [
        MessageData("MultipleUnits", "Multiple units returned: '[Count, Milliseconds, Seconds]'")
    ]
    (r,) = harness.queries.get_metric_data([q("m1", unit="Bytes")], T0, T0 + 60).metric_data_results
    assert (r.values, r.status_code) == ([], "Complete")


def test_no_data_and_dimension_mismatch_give_empty_complete_results(harness) -> None:
    harness.registry.series("ns", "metric1", {"foo": "bar"}).record(1.0)
    harness.flusher.flush()
    (r,) = harness.queries.get_metric_data([q("m1")], T0, T0 + 60).metric_data_results
    assert (r.timestamps, r.values, r.status_code) == ([], [], "Complete")


def test_return_data_false_is_computed_but_not_returned(twenty) -> None:
    out = twenty.queries.get_metric_data(
        [q("m1", return_data=False), e("e1", "m1 * 2")], T0, T0 + 180, scan_by="TimestampAscending"
    ).metric_data_results
    assert [(r.id, r.label, r.values) for r in out] == [("e1", "e1", [2.0, 4.0, 6.0])]


def test_sum_of_an_array_and_of_metrics(twenty) -> None:
    get = twenty.queries.get_metric_data
    queries = [
        q("m1", return_data=False),
        q("m2", metric=M2, return_data=False),
        e("s", "SUM([m1, m2])"),
        e("t", "SUM(METRICS())"),
        e("a", "AVG([m1,m2])"),
        e("lo", "MIN([m1, m2])"),
        e("hi", "MAX(METRICS())"),
    ]
    out = {
        r.id: r.values
        for r in get(queries, T0, T0 + 120, scan_by="TimestampAscending").metric_data_results
    }
    assert out == {
        "s": [11.0, 22.0],
        "t": [11.0, 22.0],
        "a": [5.5, 11.0],
        "lo": [1.0, 2.0],
        "hi": [10.0, 20.0],
    }


def test_arithmetic_aligns_on_timestamps(harness) -> None:
    s1 = harness.registry.series("ns", "metric1")
    s2 = harness.registry.series("ns", "metric2")
    s1.record(4.0, T0)
    s1.record(6.0, T0 + 60)
    s2.record(2.0, T0 + 60)
    s2.record(0.0, T0 + 120)
    harness.flusher.flush()
    out = harness.queries.get_metric_data(
        [
            q("m1"),
            q("m2", metric=M2),
            e("r", "(m1 + m2) / m2 * 100 - -1"),
            e("z", "m2 / 0"),
            e("k", "2 * (3 + 4)"),
        ],
        T0,
        T0 + 180,
        scan_by="TimestampAscending",
    ).metric_data_results
    by_id = {r.id: (r.timestamps, r.values) for r in out}
    assert by_id["r"] == ([T0 + 60], [401.0])
    assert by_id["z"] == ([], [])
    assert by_id["k"] == ([T0, T0 + 60, T0 + 120], [14.0, 14.0, 14.0])


def test_a_malformed_expression_names_its_position(twenty) -> None:
    with pytest.raises(ExpressionError) as err:
        twenty.queries.get_metric_data([q("m1"), e("e1", "m1 + * 2")], T0, T0 + 60)
    assert err.value.message == "Error in expression e1: Unexpected '*' at position 6."
    assert isinstance(err.value, InvalidParameterValue)
    with pytest.raises(ExpressionError, match="Unknown metric id 'm9' at position 6"):
        twenty.queries.get_metric_data([q("m1"), e("e1", "m1 + m9")], T0, T0 + 60)


@pytest.mark.parametrize(
    ("queries", "error", "match"),
    [
        ([q("M1")], InvalidParameterValue, "must start with a lowercase letter"),
        ([q("m1"), q("m1")], InvalidParameterValue, "used by more than one query"),
        ([MetricDataQuery("m1")], InvalidParameterCombination, "exactly one of"),
        ([q("m1", stat="Median")], InvalidParameterValue, "not supported"),
        ([q("m1", period=90)], InvalidParameterValue, "multiple of 60"),
        ([q("m1", unit="Secs")], InvalidParameterValue, "Unit must be one of"),
        ([e("e1", "x" * 2049)], InvalidParameterValue, "longer than 2048"),
        ([e("a", "b"), e("b", "a")], InvalidParameterValue, "refers to itself"),
    ],
)
def test_bad_queries_are_rejected(harness, queries, error, match) -> None:
    with pytest.raises(error, match=match):
        harness.queries.get_metric_data(queries, T0, T0 + 60)


def test_bad_scan_by_and_max_datapoints(harness) -> None:
    with pytest.raises(InvalidParameterValue, match="ScanBy"):
        harness.queries.get_metric_data([q("m1")], T0, T0 + 60, scan_by="Sideways")
    with pytest.raises(InvalidParameterValue, match="MaxDatapoints"):
        harness.queries.get_metric_data([q("m1")], T0, T0 + 60, max_datapoints=0)
    with pytest.raises(ValidationError, match="^The parameter EndTime must be greater than"):
        harness.queries.get_metric_data([q("m1")], T0 + 60, T0)
    with pytest.raises(ValidationError, match="^The parameter StartTime must not equal parameter"):
        harness.queries.get_metric_data([q("m1")], T0, T0)

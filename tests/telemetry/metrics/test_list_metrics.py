"""ListMetrics: filters, paging, recent activity."""

from __future__ import annotations

import pytest

from tandem.errors import InvalidNextToken, InvalidParameterValue
from tandem.telemetry.metrics import DimensionFilter, Metric


def test_filters_by_namespace_name_and_dimension_subsets(harness) -> None:
    reg = harness.registry
    reg.series("ns", "m", {"a": "1", "b": "2"}).record(1.0)
    reg.series("ns", "m", {"a": "2"}).record(1.0)
    reg.series("ns", "m", {"a": "2"}, "Seconds").record(1.0)  # same metric, other unit
    reg.series("ns", "other").record(1.0)
    reg.series("ns2", "m", {"a": "1"}).record(1.0)
    harness.flusher.flush()
    q = harness.queries
    assert len(q.list_metrics().metrics) == 4
    assert {m.metric_name for m in q.list_metrics(namespace="ns").metrics} == {"m", "other"}
    assert len(q.list_metrics(namespace="ns").metrics) == 3
    named = q.list_metrics(namespace="ns", dimensions=[DimensionFilter("a")]).metrics
    assert sorted(m.dimensions for m in named) == [(("a", "1"), ("b", "2")), (("a", "2"),)]
    valued = q.list_metrics(dimensions=[DimensionFilter("a", "1")]).metrics
    assert sorted((m.namespace, m.dimensions) for m in valued) == [
        ("ns", (("a", "1"), ("b", "2"))),
        ("ns2", (("a", "1"),)),
    ]
    both = q.list_metrics(
        metric_name="m", dimensions=[DimensionFilter("b"), DimensionFilter("a", "1")]
    )
    assert both.metrics == [Metric("ns", "m", (("a", "1"), ("b", "2")))]


def test_501_metrics_give_500_and_a_token(harness) -> None:
    for i in range(501):
        harness.registry.series("ns", "m", {"i": str(i)}).record(1.0)
    harness.flusher.flush()
    first = harness.queries.list_metrics(namespace="ns")
    assert len(first.metrics) == 500 and first.next_token is not None
    second = harness.queries.list_metrics(namespace="ns", next_token=first.next_token)
    assert len(second.metrics) == 1 and second.next_token is None
    seen = {m.dimensions for m in first.metrics + second.metrics}
    assert len(seen) == 501
    with pytest.raises(InvalidNextToken):
        harness.queries.list_metrics(namespace="other", next_token=first.next_token)
    with pytest.raises(InvalidNextToken):
        harness.queries.list_metrics(namespace="ns", next_token="bogus")


def test_recently_active_and_two_week_visibility(harness) -> None:
    reg = harness.registry
    reg.series("ns", "old").record(1.0, harness.clock.now - 4 * 3600)
    reg.series("ns", "ancient").record(1.0, harness.clock.now - 15 * 86400)
    reg.series("ns", "new").record(1.0)
    harness.flusher.flush()
    q = harness.queries
    assert {m.metric_name for m in q.list_metrics().metrics} == {"old", "new"}
    assert [m.metric_name for m in q.list_metrics(recently_active="PT3H").metrics] == ["new"]
    with pytest.raises(InvalidParameterValue, match="PT3H"):
        q.list_metrics(recently_active="PT1H")
    with pytest.raises(InvalidParameterValue, match="greater than 10"):
        q.list_metrics(dimensions=[DimensionFilter(f"d{i}") for i in range(11)])


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("", None, "Dimensions.Name must be between 1 and 255"),
        ("n" * 256, None, "Dimensions.Name must be between 1 and 255"),
        ("n", "", "Dimensions.Value must be between 1 and 1024"),
        ("n", "v" * 1025, "Dimensions.Value must be between 1 and 1024"),
    ],
)
def test_dimension_filters_outside_the_model_lengths_are_refused(
    harness, name: str, value: str | None, message: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidParameterValue, match=message):
        harness.queries.list_metrics(dimensions=[DimensionFilter(name, value)])
    harness.queries.list_metrics(dimensions=[DimensionFilter("n" * 255, "v" * 1024)])

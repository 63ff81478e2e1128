"""PutMetricData's core semantics (tandem.telemetry.metrics.ingest), pure and in memory:
exact bucket state against a naive recomputation, whole-request validation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.clock import ManualClock
from tandem.errors import InvalidParameterCombination, InvalidParameterValue, MissingParameter
from tandem.telemetry.metrics import MetricRegistry
from tandem.telemetry.metrics.ingest import MetricDatum, StatisticSet, put_metric_data

NOW = 1_700_000_040.0  # a minute boundary


def _state(registry: MetricRegistry) -> dict[tuple, tuple]:  # type: ignore[type-arg]
    """(metric, dims, unit, minute) -> (count, sum, min, max) of every bucket."""
    out = {}
    for series in registry.all_series():
        for bucket, (count, total, lo, hi, _bins, _pct) in series.snapshot():
            k = series.key
            out[(k.metric_name, k.dimensions, k.unit, bucket.start)] = (count, total, lo, hi)
    return out


values = st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 3))
datums = st.builds(
    lambda name, dims, offset, vals, counts, unit: MetricDatum(
        name,
        dims,
        NOW - offset,
        values=vals,
        counts=counts[: len(vals)] if counts else None,
        unit=unit,
    ),
    st.sampled_from(["a", "b"]),
    st.sampled_from([(), (("Host", "h1"),), (("Host", "h1"), ("Az", "x"))]),
    st.sampled_from([0.0, 30.0, 61.0, 3600.0]),
    st.lists(values, min_size=1, max_size=5),
    st.one_of(st.none(), st.lists(st.integers(0, 4).map(float), min_size=5, max_size=5)),
    st.sampled_from([None, "Seconds", "Count"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(datums, max_size=12))
def test_recorded_buckets_equal_naive_sums(data: list[MetricDatum]) -> None:
    registry = MetricRegistry(clock=ManualClock(NOW))
    assert put_metric_data(registry, "NS", data) == len(data)
    expected: dict[tuple, list[float]] = {}  # type: ignore[type-arg]
    for d in data:
        counts = d.counts if d.counts is not None else [1.0] * len(d.values or ())
        key = (
            d.metric_name,
            tuple(sorted(d.dimensions)),
            d.unit or "None",
            int(d.timestamp // 60) * 60,
        )  # type: ignore[operator]
        for v, c in zip(d.values or (), counts, strict=True):
            if c > 0:
                expected.setdefault(key, []).extend([v] * int(c))
    got = _state(registry)
    assert set(got) == set(expected)
    for key, vals in expected.items():
        count, total, lo, hi = got[key]
        assert (count, lo, hi) == (len(vals), min(vals), max(vals))
        assert math.isclose(total, math.fsum(vals), rel_tol=1e-9, abs_tol=1e-6)


def test_statistic_values_and_values_both_recorded() -> None:
    registry = MetricRegistry(clock=ManualClock(NOW))
    put_metric_data(
        registry, "NS", [MetricDatum("m", values=[2.0], statistic_values=StatisticSet(3, 9, 1, 5))]
    )
    assert list(_state(registry).values()) == [(4.0, 11.0, 1.0, 5.0)]


def test_a_bad_datum_rejects_the_whole_request() -> None:
    registry = MetricRegistry(clock=ManualClock(NOW))
    with pytest.raises(InvalidParameterValue, match=r"MetricData\.member\.2\.Value"):
        put_metric_data(
            registry, "NS", [MetricDatum("ok", value=1.0), MetricDatum("bad", value=math.nan)]
        )
    assert _state(registry) == {}


@pytest.mark.parametrize(
    "datum, error, text",
    [
        (
            MetricDatum("m", value=1, values=[1]),
            InvalidParameterCombination,
            "The parameters MetricData.member.1.Value and MetricData.member.1.Values are mutually "
            "exclusive and you have specified both.",
        ),
        (
            MetricDatum("m", value=1, statistic_values=StatisticSet(1, 1, 1, 1)),
            InvalidParameterCombination,
            "The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues are "
            "mutually exclusive and you have specified both.",
        ),
        (
            MetricDatum("m", values=[1, 10], counts=[2, 4, 5]),
            InvalidParameterValue,
            "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be "
            "of the same size.",
        ),
        (
            MetricDatum("m"),
            MissingParameter,
            "One of the parameters MetricData.member.1.Value, MetricData.member.1.Values or "
            "MetricData.member.1.StatisticValues is required.",
        ),
        (
            MetricDatum("m", statistic_values=StatisticSet(1, 1, None, 1)),
            MissingParameter,
            "The parameter MetricData.member.1.StatisticValues.Minimum is required.",
        ),
        (MetricDatum("m", value=2.0**361), InvalidParameterValue, None),
        (MetricDatum("m", value=1, timestamp=NOW - 14 * 86400 - 1), InvalidParameterValue, None),
        (MetricDatum("m", value=1, timestamp=NOW + 7201), InvalidParameterValue, None),
        (MetricDatum("m", values=[1.0] * 151), InvalidParameterValue, None),
    ],
)
def test_request_rules(datum: MetricDatum, error: type, text: str | None) -> None:
    with pytest.raises(error) as e:
        put_metric_data(MetricRegistry(clock=ManualClock(NOW)), "NS", [datum])
    if text is not None:
        assert str(e.value) == text


def test_time_window_edges_are_accepted() -> None:
    registry = MetricRegistry(clock=ManualClock(NOW))
    put_metric_data(
        registry,
        "NS",
        [
            MetricDatum("m", value=1, timestamp=NOW - 14 * 86400),
            MetricDatum("m", value=1, timestamp=NOW + 7200),
        ],
    )
    assert len(_state(registry)) == 2


def test_entity_metric_data_counts_towards_1000() -> None:
    registry = MetricRegistry(clock=ManualClock(NOW))
    with pytest.raises(InvalidParameterValue, match="more than 1000"):
        put_metric_data(
            registry,
            "NS",
            [MetricDatum("m", value=1)] * 600,
            entity_metric_data=[[MetricDatum("e", value=1)] * 401],
        )
    with pytest.raises(
        InvalidParameterValue, match=r"EntityMetricData\.member\.1\.MetricData\.member\.1\.Value"
    ):
        put_metric_data(registry, "NS", [], entity_metric_data=[[MetricDatum("e", value=math.inf)]])


def test_reserved_namespace_rejected() -> None:
    with pytest.raises(InvalidParameterValue, match="AWS/"):
        put_metric_data(
            MetricRegistry(clock=ManualClock(NOW)), "AWS/SageMaker", [MetricDatum("m", value=1)]
        )

"""GetMetricStatistics equals a naive recomputation over random data."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.clock import ManualClock
from tests.telemetry.metrics.conftest import T0, Harness, nearest_rank
from tests.telemetry.metrics.memory_store import MemoryMetricStore

ALL = ["SampleCount", "Sum", "Minimum", "Maximum", "Average"]

points = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=1799.999),  # offset from T0: 30 minutes
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=60,
)


def _naive(data, start, end, period):
    """Per period start (aligned on the minute-rounded start): the five statistics."""
    rstart = int(start) // 60 * 60
    groups: dict[float, list[float]] = {}
    for offset, value in data:
        ts = T0 + offset
        minute = int(ts // 60) * 60
        if rstart <= minute < end:
            groups.setdefault(float(rstart + (minute - rstart) // period * period), []).append(
                value
            )
    return {
        t: (len(vs), sum(vs), min(vs), max(vs), sum(vs) / len(vs))
        for t, vs in sorted(groups.items())
    }


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=points,
    period=st.sampled_from([60, 120, 180, 300, 600]),
    start_offset=st.floats(min_value=-120, max_value=900),
    length=st.integers(min_value=60, max_value=2400),
    flush_every=st.integers(min_value=1, max_value=20),
)
def test_statistics_match_naive_recomputation(data, period, start_offset, length, flush_every):
    clock = ManualClock(T0 + 3600)
    h = Harness(MemoryMetricStore(), clock)
    series = h.registry.series("ns", "m", {"d": "1"})
    # Flush at random points so minutes are split over several flushes (and rows).
    for i, (offset, value) in enumerate(data):
        series.record(value, T0 + offset)
        if i % flush_every == 0:
            h.flusher.flush()
    h.flusher.flush()
    start = T0 + start_offset
    end = start + length
    result = h.queries.get_statistics("ns", "m", start, end, period, ALL, dimensions={"d": "1"})
    got = {
        p.timestamp: (p.sample_count, p.sum, p.minimum, p.maximum, p.average)
        for p in result.datapoints
    }
    expected = _naive(data, start, end, period)
    assert list(got) == list(expected)
    for t, (n, s, lo, hi, avg) in expected.items():
        gn, gs, glo, ghi, gavg = got[t]
        assert (gn, glo, ghi) == (n, lo, hi)
        assert math.isclose(gs, s, rel_tol=1e-9, abs_tol=1e-6)
        assert math.isclose(gavg, avg, rel_tol=1e-9, abs_tol=1e-6)


@pytest.mark.parametrize("period", [60, 300])
def test_percentiles_on_sqlite_are_within_one_percent(harness, period) -> None:
    import numpy as np

    rng = np.random.default_rng(3)
    values = rng.lognormal(7.0, 1.2, size=20_000)
    s = harness.registry.series(
        "AWS/SageMaker", "ModelLatency", {"EndpointName": "e"}, "Microseconds"
    )
    for i, v in enumerate(values.tolist()):
        s.record(v, T0 + (i % 300))  # five minutes
    harness.flusher.flush()
    result = harness.queries.get_statistics(
        "AWS/SageMaker",
        "ModelLatency",
        T0,
        T0 + 300,
        period,
        extended_statistics=["p50", "p90", "p99", "p99.9"],
        dimensions={"EndpointName": "e"},
    )
    if period == 300:
        (point,) = result.datapoints
        for key, q in [("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9)]:
            exact = nearest_rank(values, q)
            assert abs(point.extended_statistics[key] - exact) <= 0.01 * exact
    else:
        assert len(result.datapoints) == 5
        for k, point in enumerate(result.datapoints):
            minute = values[[i for i in range(len(values)) if (i % 300) // 60 == k]]
            exact = nearest_rank(minute, 99)
            assert abs(point.extended_statistics["p99"] - exact) <= 0.01 * exact

"""The alarm source's plain-Python fold of basic statistics agrees with the metrics core's
vectorised ``aggregate`` on any rows (hypothesis), period by period."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from tandem.telemetry.alarms.source import _basic
from tandem.telemetry.metrics.statistics import aggregate
from tandem.telemetry.metrics.store import BucketColumns

START = 1_700_000_040


@st.composite
def columns(draw: st.DrawFn) -> BucketColumns:
    minutes = sorted(draw(st.lists(st.integers(0, 29), max_size=40)))
    rows = []
    for m in minutes:
        count = draw(st.sampled_from([1.0, 3.0, 7.5]))  # a stored bucket holds samples
        low = draw(st.floats(-1e6, 1e6))
        high = low + draw(st.floats(0, 1e6))
        total = draw(st.floats(low, high)) * count
        rows.append((START + m * 60, count, total, low, high))
    if not rows:
        return BucketColumns()
    starts, counts, sums, mins, maxs = zip(*rows, strict=True)
    return BucketColumns(["None"] * len(rows), starts, counts, sums, mins, maxs,
                         [b""] * len(rows), [True] * len(rows))  # fmt: skip


@given(columns(), st.sampled_from([60, 120, 300]),
       st.sampled_from(["Sum", "Average", "Minimum", "Maximum", "SampleCount"]))  # fmt: skip
def test_basic_fold_matches_aggregate(cols: BucketColumns, period: int, stat: str) -> None:
    slots = _basic(cols, START, period, stat, [None] * (1800 // period))
    stats = aggregate(cols, START, period, [stat, "SampleCount"])
    expected = {
        int(t): (v, c)
        for t, v, c in zip(stats.timestamps.tolist(), stats.values[stat].tolist(),
                           stats.values["SampleCount"].tolist(), strict=True)  # fmt: skip
    }
    got = {int(s.timestamp): (s.value, s.sample_count) for s in slots if s is not None}
    assert got.keys() == expected.keys()
    for t, (value, count) in got.items():
        assert count == expected[t][1]
        assert math.isclose(value, expected[t][0], rel_tol=1e-9, abs_tol=1e-6)

"""The log-bucketed percentile sketch: accuracy, range, merging."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.telemetry.metrics.sketch import (
    ZERO_KEY,
    bin_key,
    bin_value,
    decode_bins,
    encode_bins,
    grouped_quantiles,
    merge_encoded,
)
from tests.telemetry.metrics.conftest import nearest_rank


def _sketch(values) -> bytes:
    bins: dict[int, float] = {}
    for v in values:
        k = bin_key(v)
        bins[k] = bins.get(k, 0.0) + 1.0
    return encode_bins(bins)


@settings(max_examples=300)
@given(st.floats(min_value=1e-6, max_value=3.6e9))
def test_bin_value_within_one_percent_over_the_whole_range(value: float) -> None:
    rep = float(bin_value(np.array([bin_key(value)]))[0])
    assert abs(rep - value) <= 0.01 * value


def test_zero_has_its_own_bin() -> None:
    assert bin_key(0.0) == ZERO_KEY
    assert float(bin_value(np.array([ZERO_KEY]))[0]) == 0.0


def test_percentiles_within_one_percent_on_lognormal_latencies() -> None:
    rng = np.random.default_rng(7)
    values = rng.lognormal(mean=8.0, sigma=1.5, size=50_000)  # microseconds, heavy tail
    blob = _sketch(values.tolist())
    qs = [0.5, 0.9, 0.99, 0.999]
    got = grouped_quantiles([blob], np.array([0]), 1, qs)[:, 0]
    for q, value in zip(qs, got, strict=True):
        exact = nearest_rank(values, q * 100)
        assert abs(value - exact) <= 0.01 * exact, (q, value, exact)


def test_nearest_rank_on_small_samples() -> None:
    blob = _sketch([float(i) for i in range(10)])
    p50, p99 = grouped_quantiles([blob], np.array([0]), 1, [0.5, 0.99])[:, 0]
    assert abs(p50 - 4.0) <= 0.01 * 4.0
    assert abs(p99 - 9.0) <= 0.01 * 9.0


def test_merged_sketches_equal_the_sketch_of_the_union() -> None:
    a, b = [1.0, 2.0, 3.0, 0.0], [2.0, 1000.0]
    assert decode_bins(merge_encoded([_sketch(a), _sketch(b)])) == decode_bins(_sketch(a + b))


def test_groups_are_independent_and_empty_groups_are_nan() -> None:
    blobs = [_sketch([1.0] * 10), _sketch([100.0] * 10), _sketch([1.0] * 5)]
    got = grouped_quantiles(blobs, np.array([0, 2, 0]), 3, [0.5])[0]
    assert math.isclose(got[0], 1.0, rel_tol=0.01)
    assert math.isnan(got[1])
    assert math.isclose(got[2], 100.0, rel_tol=0.01)


def test_unsorted_groups_are_merged() -> None:
    # Two rows of the same group far apart in the input, with overlapping keys.
    blobs = [_sketch([5.0, 50.0]), _sketch([7.0]), _sketch([1.0, 6.0])]
    got = grouped_quantiles(blobs, np.array([1, 0, 1]), 2, [0.0, 0.5, 1.0])
    assert np.allclose(got[:, 1], [1.0, 5.0, 50.0], rtol=0.01)
    assert np.allclose(got[:, 0], [7.0, 7.0, 7.0], rtol=0.01)

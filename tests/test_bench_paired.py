"""bench/paired.py: the paired changes and the median's interval the tracing bench reports."""

from __future__ import annotations

import pytest

from bench.paired import change, median_interval, paired_changes


def test_paired_changes_are_round_by_round_ratios() -> None:
    assert paired_changes([110.0, 90.0], [100.0, 100.0]) == pytest.approx([0.10, -0.10])
    with pytest.raises(ValueError):
        paired_changes([1.0], [1.0, 2.0])


def test_twelve_rounds_give_the_third_smallest_to_third_largest_at_96_percent() -> None:
    # 1 - 2·P(Binomial(12, ½) <= 2) = 1 - 2·79/4096; the 4th would cover only 85 %.
    low, high, coverage = median_interval([float(v) for v in range(12, 0, -1)])
    assert (low, high) == (3.0, 10.0)
    assert coverage == pytest.approx(1 - 2 * 79 / 4096)


def test_too_few_rounds_give_the_whole_range_with_its_own_coverage() -> None:
    low, high, coverage = median_interval([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (low, high, coverage) == (1.0, 5.0, 1 - 2 / 32)


def test_an_interval_that_holds_zero_is_not_measurable() -> None:
    same = change([100.0, 101.0, 99.0, 100.0, 102.0, 98.0], [100.0] * 6)
    assert same.rounds == 6 and same.low < 0 < same.high and not same.excludes_zero()
    slower = change([120.0, 121.0, 119.0, 122.0, 118.0, 120.0], [100.0] * 6)
    assert slower.median == pytest.approx(0.20) and slower.excludes_zero()

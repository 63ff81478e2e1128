"""The capacity arithmetic against the rules of Application Auto Scaling's documentation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.scaling.capacity import (
    AdjustmentType,
    Decision,
    NotScaledReason,
    ScalingHistory,
    StepAdjustment,
    adjusted_capacity,
    base_capacity,
    decide,
    percent_change,
    record,
    select_step,
    target_tracking_capacity,
    validate_steps,
)


@pytest.mark.parametrize(
    ("current", "metric", "target", "expected"),
    [
        (1, 1000.0, 500.0, 2),  # twice the target per instance: twice the instances
        (2, 750.0, 500.0, 3),  # 1500 in all at 500 each (no float noise adds a fourth)
        (2, 501.0, 500.0, 3),  # never adds too little: 1002 / 500 -> 3
        (4, 100.0, 500.0, 1),  # scale-in never removes too much: 400 / 500 -> 1
        (3, 400.0, 500.0, 3),  # 1200 / 500 = 2.4 -> 3: removing one would exceed the target
        (0, 10.0, 500.0, 1),  # an empty fleet with load asks for one
        (5, 0.0, 500.0, 0),  # no load at all: the minimum capacity applies
    ],
)
def test_target_tracking_is_proportional_and_conservative(
    current: int, metric: float, target: float, expected: int
) -> None:
    assert target_tracking_capacity(current, metric, target) == expected


@given(
    st.integers(1, 500),
    st.floats(0.01, 1e6, allow_nan=False),
    st.floats(0.01, 1e5, allow_nan=False),
)
def test_target_tracking_lands_at_or_below_target_with_the_fewest_units(
    current: int, metric: float, target: float
) -> None:
    desired = target_tracking_capacity(current, metric, target)
    load = current * metric
    # At the new capacity the per-unit metric is at or below the target (up to float noise)...
    assert load / desired <= target * (1 + 1e-9)
    # ...and one unit fewer would exceed it.
    if desired > 1:
        assert load / (desired - 1) > target * (1 - 1e-9)


@pytest.mark.parametrize(
    ("current", "percent", "delta"),
    [
        (10, 25, 2),  # 2.5 -> rounds down
        (10, 5, 1),  # 0.5 -> 1
        (10, -5, -1),  # -0.5 -> -1
        (10, -25, -2),  # -2.5 -> toward zero
        (10, 0, 0),
        (3, 100, 3),
        (4, -100, -4),
    ],
)
def test_percent_change_rounds_as_aws_documents(current: int, percent: float, delta: int) -> None:
    assert percent_change(current, percent) == delta


def test_adjustment_types() -> None:
    assert adjusted_capacity(4, AdjustmentType.CHANGE_IN_CAPACITY, 2) == 6
    assert adjusted_capacity(4, AdjustmentType.CHANGE_IN_CAPACITY, -9) == 0
    assert adjusted_capacity(4, AdjustmentType.EXACT_CAPACITY, 7) == 7
    assert adjusted_capacity(10, AdjustmentType.PERCENT_CHANGE_IN_CAPACITY, 25) == 12
    # MinAdjustmentMagnitude lifts a small percent change to at least that many units.
    assert adjusted_capacity(10, AdjustmentType.PERCENT_CHANGE_IN_CAPACITY, 10, 3) == 13
    assert adjusted_capacity(10, AdjustmentType.PERCENT_CHANGE_IN_CAPACITY, -10, 3) == 7


STEPS = [
    StepAdjustment(1, lower=0, upper=10),
    StepAdjustment(2, lower=10, upper=20),
    StepAdjustment(3, lower=20, upper=None),
    StepAdjustment(-1, lower=None, upper=0),
]


@pytest.mark.parametrize(
    ("metric", "adjustment"),
    [
        (50.0, 1),  # at the threshold: the step whose lower bound is 0 (inclusive above)
        (59.9, 1),
        (60.0, 2),  # 10 above: lower inclusive, upper exclusive
        (70.0, 3),
        (1e9, 3),
        (49.0, -1),  # below the threshold: upper inclusive
    ],
)
def test_step_selection_uses_offsets_from_the_threshold(metric: float, adjustment: int) -> None:
    step = select_step(STEPS, metric, threshold=50.0)
    assert step is not None and step.scaling_adjustment == adjustment


def test_step_selection_below_threshold_has_inclusive_upper_bounds() -> None:
    steps = [StepAdjustment(-1, lower=-10, upper=0), StepAdjustment(-2, lower=None, upper=-10)]
    assert select_step(steps, 40.0, 50.0) == steps[1]  # offset -10: upper inclusive
    assert select_step(steps, 45.0, 50.0) == steps[0]
    assert select_step(steps, 55.0, 50.0) is None  # no step above the threshold


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ([], "at least one"),
        ([StepAdjustment(1, None, 0), StepAdjustment(1, None, 5)], "null lower"),
        ([StepAdjustment(1, 0, None), StepAdjustment(1, 5, None)], "null upper"),
        ([StepAdjustment(1, 0, 10), StepAdjustment(1, 5, None)], "overlap"),
        ([StepAdjustment(1, 0, 10), StepAdjustment(1, 15, None)], "gaps"),
        ([StepAdjustment(1, 10, 5)], "less than its upper"),
    ],
)
def test_invalid_step_sets_are_named(steps: list[StepAdjustment], problem: str) -> None:
    message = validate_steps(steps)
    assert message is not None and problem in message


def test_valid_step_set_passes() -> None:
    assert validate_steps(STEPS) is None


def _decide(current: int, desired: int, **kw: object) -> Decision:
    args: dict = dict(  # type: ignore[type-arg]
        current=current,
        desired=desired,
        minimum=1,
        maximum=5,
        now=1000.0,
        history=ScalingHistory(),
        scale_in_cooldown=300.0,
    )
    args.update(kw)
    return decide(**args)


def test_decisions_clamp_to_min_and_max() -> None:
    assert _decide(2, 9) == Decision(5)
    assert _decide(5, 9) == Decision(None, NotScaledReason.ALREADY_AT_MAX)
    assert _decide(3, 0) == Decision(1)
    assert _decide(1, 0) == Decision(None, NotScaledReason.ALREADY_AT_MIN)
    assert _decide(3, 3) == Decision(None, NotScaledReason.ALREADY_AT_DESIRED)


def test_an_alarm_moves_capacity_only_in_its_own_direction() -> None:
    assert _decide(4, 2, scale_out=True) == Decision(None)
    assert _decide(2, 4, scale_out=False) == Decision(None)
    assert _decide(4, 2, scale_out=False) == Decision(2)


def test_disable_scale_in_never_removes_capacity() -> None:
    assert _decide(4, 2, scale_in_disabled=True) == Decision(None)
    assert _decide(2, 4, scale_in_disabled=True) == Decision(4)


def test_scale_in_cooldown_blocks_scale_in_but_not_scale_out() -> None:
    history = ScalingHistory(last_scale_in=900.0)
    assert _decide(4, 2, history=history) == Decision(None)  # 100 s into a 300 s cooldown
    assert _decide(4, 2, history=history, now=1200.0) == Decision(2)  # cooldown over
    assert _decide(2, 4, history=history) == Decision(4)
    # The scale-out ends the scale-in cooldown.
    after = record(history, now=1000.0, base=2, before=2, after=4)
    assert after.last_scale_in is None
    assert _decide(4, 3, history=after) == Decision(3)


def test_scale_out_cooldown_counts_what_the_initiating_scale_out_added() -> None:
    # AWS's example: +2 takes 10 to 12; within the cooldown a +3 alarm gives 10 + 3 = 13,
    # so only one more unit is added; after the cooldown the computation starts from 12.
    history = record(ScalingHistory(), now=0.0, base=10, before=10, after=12)
    base = base_capacity(12, now=100.0, history=history, cooldown=300.0)
    assert base == 10
    desired = adjusted_capacity(base, AdjustmentType.CHANGE_IN_CAPACITY, 3)
    assert decide(
        current=12,
        desired=desired,
        minimum=1,
        maximum=50,
        now=100.0,
        history=history,
        scale_in_cooldown=300.0,
    ) == Decision(13)
    later = record(history, now=100.0, base=base, before=12, after=13)
    assert later.capacity_before_scale_out == 10
    # A +2 within the cooldown asks for 12, which is not more than 13: nothing.
    small = adjusted_capacity(
        base_capacity(13, now=200.0, history=later, cooldown=300.0),
        AdjustmentType.CHANGE_IN_CAPACITY,
        2,
    )
    assert small == 12
    assert _decide(13, small, maximum=50, history=later, scale_out=True).capacity is None
    assert base_capacity(13, now=1000.0, history=later, cooldown=300.0) == 13


@given(
    st.integers(0, 60),
    st.integers(0, 60),
    st.integers(0, 30),
    st.integers(0, 30),
)
def test_decisions_stay_within_bounds_and_move_toward_desired(
    current: int, desired: int, lo: int, span: int
) -> None:
    hi = lo + span
    decision = _decide(current, desired, minimum=lo, maximum=hi)
    bounded = min(max(desired, lo), hi)
    if decision.capacity is None:
        assert bounded == current
    else:
        assert lo <= decision.capacity <= hi
        assert decision.capacity == bounded
        assert not math.isnan(decision.capacity)

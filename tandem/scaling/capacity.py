"""The capacity arithmetic of Application Auto Scaling: pure functions, no I/O, no clock.

Target tracking sizes proportionally (``ceil(current * metric / target)``, so the metric
per unit ends at or below the target: AWS rounds so it never adds too little nor removes
too much); step scaling picks the step whose bounds hold the metric's distance from the
alarm threshold and applies its adjustment. Cooldowns follow AWS's documented rules:
during a scale-out cooldown the capacity the initiating scale-out added counts toward the
next computation (so a further scale-out happens only if it asks for more); a scale-in
cooldown blocks scale-ins, and a scale-out during it runs at once and ends it.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Sequence

__all__ = [
    "AdjustmentType",
    "StepAdjustment",
    "ScalingHistory",
    "Decision",
    "NotScaledReason",
    "target_tracking_capacity",
    "percent_change",
    "adjusted_capacity",
    "select_step",
    "validate_steps",
    "base_capacity",
    "decide",
    "record",
]

# Float noise (2 * 750 / 500 = 3.0000000000000004) must not add an instance.
_EPSILON = 1e-9


class AdjustmentType(enum.StrEnum):
    CHANGE_IN_CAPACITY = "ChangeInCapacity"
    PERCENT_CHANGE_IN_CAPACITY = "PercentChangeInCapacity"
    EXACT_CAPACITY = "ExactCapacity"


class NotScaledReason(enum.StrEnum):
    ALREADY_AT_MAX = "AlreadyAtMaxCapacity"
    ALREADY_AT_MIN = "AlreadyAtMinCapacity"
    ALREADY_AT_DESIRED = "AlreadyAtDesiredCapacity"
    UNSCALABLE = "TargetServicePutResourceAsUnscalable"


@dataclasses.dataclass(frozen=True)
class StepAdjustment:
    """Bounds are offsets from the alarm threshold; ``None`` is unbounded."""

    scaling_adjustment: int
    lower: float | None = None
    upper: float | None = None


@dataclasses.dataclass(frozen=True)
class ScalingHistory:
    """What cooldowns need of a target's past policy activities (epoch seconds)."""

    last_scale_out: float | None = None
    # The capacity before the scale-out that started the running scale-out cooldown.
    capacity_before_scale_out: int | None = None
    last_scale_in: float | None = None


@dataclasses.dataclass(frozen=True)
class Decision:
    """``capacity``: the new capacity, or None when nothing changes; ``reason`` then says why
    when AWS would record a not-scaled activity."""

    capacity: int | None
    reason: NotScaledReason | None = None


def target_tracking_capacity(current: int, metric: float, target: float) -> int:
    """The capacity at which ``metric`` (a per-unit figure measured at ``current`` units)
    would sit at or just below ``target``. An empty fleet with load asks for one unit."""
    if target <= 0:
        raise ValueError("the target value must be positive")
    if metric <= 0:
        return 0
    return max(1, math.ceil(max(current, 1) * metric / target - _EPSILON))


def percent_change(current: int, percent: float) -> int:
    """AWS's rounding of a percent change: above 1 rounds down, between 0 and 1 becomes 1,
    between -1 and 0 becomes -1, below -1 rounds toward zero."""
    delta = current * percent / 100.0
    if delta == 0:
        return 0
    if delta > 1:
        return math.floor(delta + _EPSILON)
    if delta > 0:
        return 1
    if delta >= -1:
        return -1
    return math.ceil(delta - _EPSILON)


def adjusted_capacity(
    current: int,
    adjustment_type: AdjustmentType,
    adjustment: int,
    min_adjustment_magnitude: int | None = None,
) -> int:
    """The capacity a step asks for (unclamped, never below zero)."""
    if adjustment_type is AdjustmentType.EXACT_CAPACITY:
        return max(0, adjustment)
    if adjustment_type is AdjustmentType.CHANGE_IN_CAPACITY:
        return max(0, current + adjustment)
    delta = percent_change(current, adjustment)
    if min_adjustment_magnitude and delta and abs(delta) < min_adjustment_magnitude:
        delta = int(math.copysign(min_adjustment_magnitude, delta))
    return max(0, current + delta)


def _lower(step: StepAdjustment) -> float:
    return -math.inf if step.lower is None else step.lower


def _upper(step: StepAdjustment) -> float:
    return math.inf if step.upper is None else step.upper


def validate_steps(steps: Sequence[StepAdjustment]) -> str | None:
    """Why these steps are unusable (AWS's rules: no overlap, no gap, at most one unbounded
    lower and one unbounded upper bound, lower below upper), or None."""
    if not steps:
        return "StepAdjustments must contain at least one step adjustment"
    if sum(s.lower is None for s in steps) > 1:
        return "There can be at most one step adjustment with a null lower bound"
    if sum(s.upper is None for s in steps) > 1:
        return "There can be at most one step adjustment with a null upper bound"
    ordered = sorted(steps, key=_lower)
    for step in ordered:
        if _lower(step) >= _upper(step):
            return "Step adjustment lower bound must be less than its upper bound"
    for before, after in zip(ordered, ordered[1:], strict=False):
        if _upper(before) > _lower(after):
            return "Step adjustments may not overlap"
        if _upper(before) < _lower(after):
            return "Step adjustments may not have gaps between them"
    return None


def select_step(
    steps: Sequence[StepAdjustment], metric: float, threshold: float
) -> StepAdjustment | None:
    """The step whose interval holds ``metric - threshold``. Above the threshold the lower
    bound is inclusive and the upper exclusive; below it the reverse."""
    offset = metric - threshold
    for step in steps:
        lo, hi = _lower(step), _upper(step)
        if offset >= 0 and lo <= offset < hi:
            return step
        if offset < 0 and lo < offset <= hi:
            return step
    return None


def base_capacity(current: int, now: float, history: ScalingHistory, cooldown: float) -> int:
    """The capacity a scale-out computation starts from: during a scale-out cooldown, the
    capacity before the initiating scale-out (what it added counts toward the next one)."""
    if (
        history.last_scale_out is not None
        and history.capacity_before_scale_out is not None
        and now < history.last_scale_out + cooldown
    ):
        return history.capacity_before_scale_out
    return current


def decide(
    *,
    current: int,
    desired: int,
    minimum: int,
    maximum: int,
    now: float,
    history: ScalingHistory,
    scale_in_cooldown: float,
    scale_in_disabled: bool = False,
    scale_out: bool | None = None,
) -> Decision:
    """Whether a policy's ``desired`` capacity becomes the target's new capacity.

    ``current`` is the capacity the target is set to now (including a scale-out still being
    fulfilled): a scale-out happens only to more than that. ``scale_out``: the direction the
    invoking alarm asks for (True: only add, False: only remove, None: either)."""
    bounded = min(max(desired, minimum), maximum)
    if bounded > current:
        return Decision(bounded) if scale_out is not False else Decision(None)
    if bounded < current:
        if scale_out or scale_in_disabled:
            return Decision(None)
        if history.last_scale_in is not None and now < history.last_scale_in + scale_in_cooldown:
            return Decision(None)
        return Decision(bounded)
    if desired > maximum and current >= maximum:
        return Decision(None, NotScaledReason.ALREADY_AT_MAX)
    if desired < minimum and current <= minimum:
        return Decision(None, NotScaledReason.ALREADY_AT_MIN)
    return Decision(None, NotScaledReason.ALREADY_AT_DESIRED)


def record(
    history: ScalingHistory, *, now: float, base: int, before: int, after: int
) -> ScalingHistory:
    """The history after a policy set the capacity from ``before`` to ``after``; ``base`` is
    what ``base_capacity`` returned for that computation."""
    if after > before:
        # A scale-out ends any scale-in cooldown; within a running scale-out cooldown the
        # starting capacity stays that of the initiating scale-out.
        return ScalingHistory(last_scale_out=now, capacity_before_scale_out=min(base, before))
    if after < before:
        return dataclasses.replace(history, last_scale_in=now)
    return history

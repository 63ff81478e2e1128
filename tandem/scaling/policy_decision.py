"""What one policy asks for when its alarm runs it: pure, from the target, the variant's
counts, the alarm and the metric's values (no I/O, no clock)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from .capacity import (
    AdjustmentType,
    Decision,
    adjusted_capacity,
    base_capacity,
    decide,
    select_step,
    target_tracking_capacity,
)
from .model import PolicyType, ScalableTarget, ScalingPolicy
from .policy_alarms import is_low_alarm

__all__ = ["PolicyOutcome", "policy_outcome"]

_AGGREGATE: dict[str, Callable[[Sequence[float]], float]] = {
    "Average": lambda v: sum(v) / len(v),
    "Minimum": min,
    "Maximum": max,
}


@dataclasses.dataclass(frozen=True)
class PolicyOutcome:
    decision: Decision
    # The capacity the computation started from (``capacity.record`` needs it).
    base: int


def policy_outcome(
    policy: ScalingPolicy,
    target: ScalableTarget,
    *,
    desired: int,
    active: int,
    alarm_name: str,
    threshold: float | None,
    values: Sequence[float],
    now: float,
    scale_in_agreed: bool = True,
) -> PolicyOutcome | None:
    """``desired``: the variant's DesiredInstanceCount now; ``active``: its instances in
    service; ``values``: the alarm's datapoints, oldest first. None when no step applies."""
    if policy.policy_type is PolicyType.TARGET_TRACKING:
        tracking = policy.target_tracking
        # The metric was measured over the instances serving then (InvocationsPerInstance
        # divides each request by the instances in service at that moment).
        wanted = target_tracking_capacity(max(active, 1), values[-1], tracking.target_value)
        decision = decide(
            current=desired,
            desired=wanted,
            minimum=target.min_capacity,
            maximum=target.max_capacity,
            now=now,
            history=target.history,
            scale_in_cooldown=tracking.scale_in_cooldown,
            scale_in_disabled=tracking.disable_scale_in or not scale_in_agreed,
            scale_out=not is_low_alarm(alarm_name),
        )
        return PolicyOutcome(decision, desired)
    steps = policy.step_scaling
    metric = _AGGREGATE.get(steps.aggregation, _AGGREGATE["Average"])(values)
    step = select_step(steps.steps, metric, float(threshold or 0.0))
    if step is None:
        return None
    scale_out = (
        None
        if steps.adjustment_type is AdjustmentType.EXACT_CAPACITY
        else step.scaling_adjustment > 0
    )
    base = base_capacity(desired, now, target.history, steps.cooldown) if scale_out else desired
    wanted = adjusted_capacity(
        base, steps.adjustment_type, step.scaling_adjustment, steps.min_adjustment_magnitude
    )
    decision = decide(
        current=desired,
        desired=wanted,
        minimum=target.min_capacity,
        maximum=target.max_capacity,
        now=now,
        history=target.history,
        scale_in_cooldown=steps.cooldown,
        scale_out=scale_out,
    )
    return PolicyOutcome(decision, base)

"""One policy's outcome when its alarm runs it, computed without a server."""

from __future__ import annotations

from typing import Any

from tandem.scaling.capacity import Decision, NotScaledReason, ScalingHistory
from tandem.scaling.model import PolicyType, ResourceRef, ScalableTarget, ScalingPolicy
from tandem.scaling.policy_decision import policy_outcome

REF = ResourceRef("ep", "AllTraffic")
HIGH = "TargetTracking-endpoint/ep/variant/AllTraffic-AlarmHigh-1"
LOW = "TargetTracking-endpoint/ep/variant/AllTraffic-AlarmLow-1"


def _target(lo: int = 1, hi: int = 10, history: ScalingHistory | None = None) -> ScalableTarget:
    return ScalableTarget(REF, lo, hi, 0.0, "arn", history=history or ScalingHistory())


def _tt(**config: Any) -> ScalingPolicy:
    return ScalingPolicy("tt", REF, PolicyType.TARGET_TRACKING, "arn:p", 0.0, {
        "TargetValue": 100.0,
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        **config,
    })  # fmt: skip


def _step(adjustment_type: str, steps: list[dict[str, Any]], **config: Any) -> ScalingPolicy:
    return ScalingPolicy("steps", REF, PolicyType.STEP, "arn:s", 0.0, {
        "AdjustmentType": adjustment_type, "StepAdjustments": steps, **config})  # fmt: skip


def _run(policy: ScalingPolicy, target: ScalableTarget, **kw: Any) -> Decision | None:
    args: dict[str, Any] = dict(desired=2, active=2, alarm_name=HIGH, threshold=100.0,
                                values=[250.0], now=1000.0)  # fmt: skip
    args.update(kw)
    outcome = policy_outcome(policy, target, **args)
    return None if outcome is None else outcome.decision


def test_target_tracking_uses_the_newest_value_over_the_instances_in_service() -> None:
    # 2 instances at 250/min each against a target of 100: 500 in all -> 5 instances.
    assert _run(_tt(), _target(), values=[90.0, 120.0, 250.0]) == Decision(5)
    # Only one of two desired instances serves yet: 250 on it -> 3 in all, not more than... 3.
    assert _run(_tt(), _target(), desired=2, active=1) == Decision(3)
    assert _run(_tt(), _target(hi=4)) == Decision(4)


def test_the_low_alarm_only_scales_in_and_only_when_allowed() -> None:
    assert _run(_tt(), _target(), alarm_name=LOW, desired=4, active=4, values=[30.0]) == (
        Decision(2)  # 120 in all at 100 each -> 2
    )
    assert _run(_tt(), _target(), alarm_name=LOW, values=[250.0]) == Decision(None)
    assert _run(_tt(DisableScaleIn=True), _target(), alarm_name=LOW, desired=4, active=4,
                values=[30.0]) == Decision(None)  # fmt: skip
    assert _run(_tt(), _target(), alarm_name=LOW, desired=4, active=4, values=[30.0],
                scale_in_agreed=False) == Decision(None)  # fmt: skip
    assert _run(_tt(), _target(), alarm_name=LOW, desired=1, active=1, values=[0.0]) == Decision(
        None, NotScaledReason.ALREADY_AT_MIN
    )


STEPS = [
    {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 50, "ScalingAdjustment": 1},
    {"MetricIntervalLowerBound": 50, "ScalingAdjustment": 3},
]


def test_step_policies_pick_their_step_and_aggregate_the_datapoints() -> None:
    policy = _step("ChangeInCapacity", STEPS)
    assert _run(policy, _target(), values=[120.0]) == Decision(3)  # +1
    assert _run(policy, _target(), values=[200.0]) == Decision(5)  # +3
    assert _run(policy, _target(), values=[50.0]) is None  # below the threshold: no step
    maximum = _step("ChangeInCapacity", STEPS, MetricAggregationType="Maximum")
    assert _run(maximum, _target(), values=[120.0, 200.0]) == Decision(5)
    assert _run(policy, _target(), values=[120.0, 200.0]) == Decision(5)  # average 160
    exact = _step("ExactCapacity", [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}])
    assert _run(exact, _target(), desired=4) == Decision(1)  # exact capacity may go down
    percent = _step(
        "PercentChangeInCapacity",
        [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 50}],
        MinAdjustmentMagnitude=2,
    )
    assert _run(percent, _target(), desired=2) == Decision(4)  # +1 lifted to +2  # fmt: skip


def test_a_step_scale_out_in_its_cooldown_counts_what_was_added() -> None:
    history = ScalingHistory(last_scale_out=900.0, capacity_before_scale_out=2)
    policy = _step("ChangeInCapacity", STEPS, Cooldown=300)
    # 2 -> 3 a moment ago; +1 again starts from 2: 3 is not more than 3.
    assert _run(policy, _target(history=history), desired=3, values=[120.0]) == Decision(
        None, NotScaledReason.ALREADY_AT_DESIRED
    )
    # +3 from 2 is 5: more, so it runs.
    assert _run(policy, _target(history=history), desired=3, values=[200.0]) == Decision(5)

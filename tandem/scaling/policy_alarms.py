"""The CloudWatch alarms a target-tracking policy creates and owns, as AWS names and sets them.

``TargetTracking-<ResourceId>-AlarmHigh-<uuid>``: the metric above the target for 3 of 3
one-minute datapoints asks for a scale-out. ``...-AlarmLow-<uuid>``: below 90 % of the target
for 15 of 15 minutes asks for a scale-in (not created when the policy disables scale-in: it
would have nothing to do). Both run the action ``<PolicyARN>:createdBy/<uuid>``, which AAS
re-invokes every minute while the alarm stays in ALARM.
"""

from __future__ import annotations

import uuid

from ..telemetry.alarms.model import AlarmInput
from .model import ScalingPolicy, TargetTracking

__all__ = ["OWNER", "HIGH", "LOW", "target_tracking_alarms", "is_low_alarm"]

# The owner tandem's alarm service records for these alarms: a plain PutMetricAlarm or
# DeleteAlarms cannot change them.
OWNER = "application-autoscaling"
HIGH, LOW = "AlarmHigh", "AlarmLow"
_LOW_FRACTION = 0.9


def is_low_alarm(alarm_name: str) -> bool:
    return f"-{LOW}-" in alarm_name


def target_tracking_alarms(
    policy: ScalingPolicy, config: TargetTracking, action_arn: str
) -> list[AlarmInput]:
    metric = config.metric
    base = dict(
        alarm_description=(
            f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {policy.arn}."
        ),
        alarm_actions=(action_arn,),
        metric_name=metric.metric_name,
        namespace=metric.namespace,
        statistic=metric.statistic,
        dimensions=metric.dimensions,
        period=60,
        unit=metric.unit,
    )
    prefix = f"TargetTracking-{policy.ref.resource_id}"
    alarms = [
        AlarmInput(
            alarm_name=f"{prefix}-{HIGH}-{uuid.uuid4()}",
            evaluation_periods=3,
            datapoints_to_alarm=3,
            comparison_operator="GreaterThanThreshold",
            threshold=config.target_value,
            **base,  # type: ignore[arg-type]
        )
    ]
    if not config.disable_scale_in:
        alarms.append(
            AlarmInput(
                alarm_name=f"{prefix}-{LOW}-{uuid.uuid4()}",
                evaluation_periods=15,
                datapoints_to_alarm=15,
                comparison_operator="LessThanThreshold",
                threshold=round(config.target_value * _LOW_FRACTION, 10),
                **base,  # type: ignore[arg-type]
            )
        )
    return alarms

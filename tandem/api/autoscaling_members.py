"""Application Auto Scaling's request members: each operation's top-level members and the
nested policy configurations, declared once (``members.Member``) and checked before the
core runs, so a wrong type, an unknown member or a value outside an enum is a
ValidationException naming the member."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .members import Member, parse_members

__all__ = ["SHAPES", "SUSPENDED_STATE", "check_nested", "check_policy_members"]

Str, Int, F, B, L, D = str, int, float, bool, list, dict

_NAMESPACES = (
    "ecs", "elasticmapreduce", "ec2", "appstream", "dynamodb", "rds", "sagemaker",
    "custom-resource", "comprehend", "lambda", "cassandra", "kafka", "elasticache", "neptune",
    "workspaces",
)  # fmt: skip
_DIMENSIONS = (
    "ecs:service:DesiredCount", "ec2:spot-fleet-request:TargetCapacity",
    "elasticmapreduce:instancegroup:InstanceCount", "appstream:fleet:DesiredCapacity",
    "dynamodb:table:ReadCapacityUnits", "dynamodb:table:WriteCapacityUnits",
    "dynamodb:index:ReadCapacityUnits", "dynamodb:index:WriteCapacityUnits",
    "rds:cluster:ReadReplicaCount", "sagemaker:variant:DesiredInstanceCount",
    "custom-resource:ResourceType:Property",
    "comprehend:document-classifier-endpoint:DesiredInferenceUnits",
    "comprehend:entity-recognizer-endpoint:DesiredInferenceUnits",
    "lambda:function:ProvisionedConcurrency", "cassandra:table:ReadCapacityUnits",
    "cassandra:table:WriteCapacityUnits", "kafka:broker-storage:VolumeSize",
    "elasticache:cache-cluster:Nodes", "elasticache:replication-group:NodeGroups",
    "elasticache:replication-group:Replicas", "neptune:cluster:ReadReplicaCount",
    "sagemaker:variant:DesiredProvisionedConcurrency",
    "sagemaker:inference-component:DesiredCopyCount",
    "workspaces:workspacespool:DesiredUserSessions",
)  # fmt: skip
_STATISTICS = ("Average", "Minimum", "Maximum", "SampleCount", "Sum")
_XML_STRING = r"[\u0020-\uD7FF\uE000-\uFFFD\r\n\t]*"

_NS = Member(Str, True, enum=_NAMESPACES)
_RESOURCE = Member(Str, True, min_len=1, max_len=1600, pattern=_XML_STRING)
_DIM = Member(Str, True, enum=_DIMENSIONS)
# Lengths and patterns differ per operation in the model (1-256 printable at PutScalingPolicy,
# up to 1600 of any XML character at DeleteScalingPolicy): the model rules check them.
_POLICY_NAME = Member(Str, True)
_TOKEN = Member(Str, max_len=2048)

_ARN = Member(Str, True)
SHAPES: dict[str, dict[str, Member]] = {
    "TagResource": {"ResourceARN": _ARN, "Tags": Member(D, True)},
    "UntagResource": {"ResourceARN": _ARN, "TagKeys": Member(L, True, items=Str)},
    "ListTagsForResource": {"ResourceARN": _ARN},
    "RegisterScalableTarget": {
        "ServiceNamespace": _NS,
        "ResourceId": _RESOURCE,
        "ScalableDimension": _DIM,
        "MinCapacity": Member(Int),
        "MaxCapacity": Member(Int),
        "RoleARN": Member(Str, min_len=1, max_len=1600),
        "SuspendedState": Member(D),
        "Tags": Member(D, max_len=200),
    },
    "DeregisterScalableTarget": {
        "ServiceNamespace": _NS,
        "ResourceId": _RESOURCE,
        "ScalableDimension": _DIM,
    },
    "DescribeScalableTargets": {
        "ServiceNamespace": _NS,
        "ResourceIds": Member(L, items=Str, max_len=50),
        "ScalableDimension": Member(Str, enum=_DIMENSIONS),
        "MaxResults": Member(Int, minimum=1, maximum=50),
        "NextToken": _TOKEN,
    },
    "PutScalingPolicy": {
        "PolicyName": _POLICY_NAME,
        "ServiceNamespace": _NS,
        "ResourceId": _RESOURCE,
        "ScalableDimension": _DIM,
        "PolicyType": Member(
            Str, enum=("StepScaling", "TargetTrackingScaling", "PredictiveScaling")
        ),
        "StepScalingPolicyConfiguration": Member(D),
        "TargetTrackingScalingPolicyConfiguration": Member(D),
        "PredictiveScalingPolicyConfiguration": Member(D),
    },
    "DescribeScalingPolicies": {
        "PolicyNames": Member(L, items=Str, max_len=50),
        "ServiceNamespace": _NS,
        "ResourceId": Member(Str, min_len=1, max_len=1600),
        "ScalableDimension": Member(Str, enum=_DIMENSIONS),
        "MaxResults": Member(Int, minimum=1, maximum=10),
        "NextToken": _TOKEN,
    },
    "DeleteScalingPolicy": {
        "PolicyName": _POLICY_NAME,
        "ServiceNamespace": _NS,
        "ResourceId": _RESOURCE,
        "ScalableDimension": _DIM,
    },
    "DescribeScalingActivities": {
        "ServiceNamespace": _NS,
        "ResourceId": Member(Str, min_len=1, max_len=1600),
        "ScalableDimension": Member(Str, enum=_DIMENSIONS),
        "MaxResults": Member(Int, minimum=1, maximum=50),
        "NextToken": _TOKEN,
        "IncludeNotScaledActivities": Member(B),
    },
}

SUSPENDED_STATE = {
    "DynamicScalingInSuspended": Member(B),
    "DynamicScalingOutSuspended": Member(B),
    "ScheduledScalingSuspended": Member(B),
}
_DIMENSION = {"Name": Member(Str, True), "Value": Member(Str, True)}
_TT_METRIC_STAT = {
    "Metric": Member(D, True),
    "Stat": Member(Str, True),
    "Unit": Member(Str),
    "Period": Member(Int),  # newer clients send it (high-resolution tracking)
}
_TT_METRIC = {
    "Dimensions": Member(L, items=D),
    "MetricName": Member(Str),
    "Namespace": Member(Str),
}
_TT_QUERY = {
    "Expression": Member(Str, min_len=1, max_len=2048),
    "Id": Member(Str, True, min_len=1, max_len=255),
    "Label": Member(Str),
    "MetricStat": Member(D),
    "ReturnData": Member(B),
}
_CUSTOM = {
    "MetricName": Member(Str),
    "Namespace": Member(Str),
    "Dimensions": Member(L, items=D),
    "Statistic": Member(Str, enum=_STATISTICS),
    "Unit": Member(Str),
    "Metrics": Member(L, items=D),
}
_TARGET_TRACKING = {
    "TargetValue": Member(F, True),
    "PredefinedMetricSpecification": Member(D),
    "CustomizedMetricSpecification": Member(D),
    "ScaleOutCooldown": Member(Int, minimum=0, maximum=31536000),
    "ScaleInCooldown": Member(Int, minimum=0, maximum=31536000),
    "DisableScaleIn": Member(B),
}
_PREDEFINED = {
    "PredefinedMetricType": Member(Str, True),
    "ResourceLabel": Member(Str, min_len=1, max_len=1023),
}
_STEP = {
    "AdjustmentType": Member(
        Str, enum=("ChangeInCapacity", "PercentChangeInCapacity", "ExactCapacity")
    ),
    "StepAdjustments": Member(L, items=D),
    "MinAdjustmentMagnitude": Member(Int),
    "Cooldown": Member(Int, minimum=0, maximum=31536000),
    "MetricAggregationType": Member(Str, enum=("Average", "Minimum", "Maximum")),
}
_STEP_ADJUSTMENT = {
    "MetricIntervalLowerBound": Member(F),
    "MetricIntervalUpperBound": Member(F),
    "ScalingAdjustment": Member(Int, True),
}


def check_nested(value: Any, shape: Mapping[str, Member], where: str) -> None:
    """A nested structure's members (absent is fine); ``where`` is its path in messages."""
    if value is not None:
        parse_members(value, shape, lower_first=True, prefix=where + ".")


def _each(values: Sequence[Any] | None, shape: Mapping[str, Member], where: str) -> None:
    for i, item in enumerate(values or ()):
        parse_members(item, shape, lower_first=True, prefix=f"{where}.{i + 1}.member.")


def check_policy_members(body: Mapping[str, Any]) -> None:
    """PutScalingPolicy's configurations, member by member, down to metric dimensions and
    step adjustments."""
    tt = body.get("TargetTrackingScalingPolicyConfiguration")
    where = "targetTrackingScalingPolicyConfiguration"
    check_nested(tt, _TARGET_TRACKING, where)
    if tt is not None:
        check_nested(
            tt.get("PredefinedMetricSpecification"),
            _PREDEFINED,
            f"{where}.predefinedMetricSpecification",
        )
        custom = tt.get("CustomizedMetricSpecification")
        cwhere = f"{where}.customizedMetricSpecification"
        check_nested(custom, _CUSTOM, cwhere)
        if custom is not None:
            _each(custom.get("Dimensions"), _DIMENSION, f"{cwhere}.dimensions")
            _each(custom.get("Metrics"), _TT_QUERY, f"{cwhere}.metrics")
            for i, query in enumerate(custom.get("Metrics") or ()):
                qwhere = f"{cwhere}.metrics.{i + 1}.member.metricStat"
                stat = query.get("MetricStat")
                check_nested(stat, _TT_METRIC_STAT, qwhere)
                if stat is not None:
                    check_nested(stat["Metric"], _TT_METRIC, f"{qwhere}.metric")
                    _each(
                        stat["Metric"].get("Dimensions"), _DIMENSION, f"{qwhere}.metric.dimensions"
                    )
    step = body.get("StepScalingPolicyConfiguration")
    swhere = "stepScalingPolicyConfiguration"
    check_nested(step, _STEP, swhere)
    if step is not None:
        _each(step.get("StepAdjustments"), _STEP_ADJUSTMENT, f"{swhere}.stepAdjustments")

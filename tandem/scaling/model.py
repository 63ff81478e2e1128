"""Application Auto Scaling's records for SageMaker variants: scalable targets, scaling
policies and scaling activities, with the semantic validation AWS applies to them.

Built from AAS-shaped mappings (the wire layer has already checked member types and
enums); stored as JSON documents. Names, ARNs, status codes and texts are AWS's.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping
from typing import Any

from ..telemetry.metrics.validation import UNITS
from .capacity import AdjustmentType, ScalingHistory, StepAdjustment, validate_steps
from .errors import ScalingValidation

__all__ = [
    "NAMESPACE",
    "DIMENSION",
    "INVOCATIONS_PER_INSTANCE",
    "PolicyType",
    "ActivityStatus",
    "ResourceRef",
    "parse_resource_id",
    "ScalableTarget",
    "TargetTracking",
    "StepScaling",
    "ScalingPolicy",
    "ScalingActivity",
    "parse_target_tracking",
    "parse_step_scaling",
]

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
INVOCATIONS_PER_INSTANCE = "SageMakerVariantInvocationsPerInstance"
DEFAULT_COOLDOWN = 300  # seconds, for SageMaker variants
_RESOURCE_RE = re.compile(r"endpoint/([^/]+)/variant/([^/]+)")
_STATISTICS = ("Average", "Minimum", "Maximum", "SampleCount", "Sum")


class PolicyType(enum.StrEnum):
    TARGET_TRACKING = "TargetTrackingScaling"
    STEP = "StepScaling"
    PREDICTIVE = "PredictiveScaling"


class ActivityStatus(enum.StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCESSFUL = "Successful"
    OVERRIDDEN = "Overridden"
    UNFULFILLED = "Unfulfilled"
    FAILED = "Failed"


@dataclasses.dataclass(frozen=True)
class ResourceRef:
    """``endpoint/<EndpointName>/variant/<VariantName>``."""

    endpoint: str
    variant: str

    @property
    def resource_id(self) -> str:
        return f"endpoint/{self.endpoint}/variant/{self.variant}"


def parse_resource_id(namespace: str, resource_id: str, dimension: str) -> ResourceRef:
    """The variant a (namespace, resource id, dimension) names; tandem scales SageMaker
    variants' instance counts only."""
    if namespace != NAMESPACE:
        raise ScalingValidation(
            f"Unsupported service namespace: {namespace}. This service scales only "
            f"{NAMESPACE} resources."
        )
    if dimension != DIMENSION:
        raise ScalingValidation(
            f"Unsupported scalable dimension: {dimension}. Supported scalable dimensions for "
            f"service namespace {namespace}: {DIMENSION}"
        )
    match = _RESOURCE_RE.fullmatch(resource_id)
    if match is None:
        raise ScalingValidation(
            f"Unsupported resource ID: {resource_id}. The resource ID for service namespace "
            f"{namespace} must have the form endpoint/<EndpointName>/variant/<VariantName>."
        )
    return ResourceRef(match.group(1), match.group(2))


@dataclasses.dataclass
class ScalableTarget:
    ref: ResourceRef
    min_capacity: int
    max_capacity: int
    creation_time: float
    arn: str
    suspended: dict[str, bool] = dataclasses.field(default_factory=dict)
    history: ScalingHistory = dataclasses.field(default_factory=ScalingHistory)

    def suspended_flag(self, name: str) -> bool:
        return bool(self.suspended.get(name, False))

    def to_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ScalableTarget:
        return cls(
            ResourceRef(**record["ref"]),
            record["min_capacity"],
            record["max_capacity"],
            record["creation_time"],
            record["arn"],
            dict(record.get("suspended") or {}),
            ScalingHistory(**record.get("history") or {}),
        )


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """The metric a target-tracking policy holds at its target (CloudWatch terms)."""

    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    unit: str | None = None


@dataclasses.dataclass(frozen=True)
class TargetTracking:
    target_value: float
    metric: MetricSpec
    predefined: bool
    scale_out_cooldown: int
    scale_in_cooldown: int
    disable_scale_in: bool


@dataclasses.dataclass(frozen=True)
class StepScaling:
    adjustment_type: AdjustmentType
    steps: tuple[StepAdjustment, ...]
    cooldown: int
    min_adjustment_magnitude: int | None
    aggregation: str


def _where(field: str) -> str:
    return f"targetTrackingScalingPolicyConfiguration.{field}"


def _cooldown(value: Any, field: str) -> int:
    if value is None:
        return DEFAULT_COOLDOWN
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 31536000:
        raise ScalingValidation(
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            "constraint: Member must have value between 0 and 31536000"
        )
    return value


def parse_target_tracking(config: Mapping[str, Any], ref: ResourceRef) -> TargetTracking:
    target = config.get("TargetValue")
    if not isinstance(target, int | float) or isinstance(target, bool):
        raise ScalingValidation("TargetTrackingScalingPolicyConfiguration.TargetValue is required")
    if not target > 0:
        raise ScalingValidation(
            f"The target value {target} is invalid: the target value must be greater than 0."
        )
    predefined = config.get("PredefinedMetricSpecification")
    custom = config.get("CustomizedMetricSpecification")
    if (predefined is None) == (custom is None):
        raise ScalingValidation(
            "Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification "
            "must be specified."
        )
    if predefined is not None:
        kind = predefined.get("PredefinedMetricType")
        if kind != INVOCATIONS_PER_INSTANCE:
            raise ScalingValidation(
                f"Unsupported predefined metric type: {kind}. Scalable dimension {DIMENSION} "
                f"supports the following predefined metric types: {INVOCATIONS_PER_INSTANCE}"
            )
        if predefined.get("ResourceLabel") is not None:
            raise ScalingValidation(
                f"ResourceLabel is not supported for predefined metric type {kind}."
            )
        metric = MetricSpec(
            "AWS/SageMaker",
            "InvocationsPerInstance",
            (("EndpointName", ref.endpoint), ("VariantName", ref.variant)),
            "Sum",
        )
    else:
        assert custom is not None  # exactly one of the two, checked above
        metric = _custom_metric(custom)
    disable = config.get("DisableScaleIn", False)
    return TargetTracking(
        float(target),
        metric,
        predefined is not None,
        _cooldown(config.get("ScaleOutCooldown"), _where("scaleOutCooldown")),
        _cooldown(config.get("ScaleInCooldown"), _where("scaleInCooldown")),
        bool(disable),
    )


def _custom_metric(custom: Mapping[str, Any]) -> MetricSpec:
    if custom.get("Metrics") is not None:
        metrics = custom["Metrics"]
        returned = [m for m in metrics if m.get("ReturnData", True)]
        if len(metrics) != 1 or len(returned) != 1 or "MetricStat" not in metrics[0]:
            raise ScalingValidation(
                "Metric math is not supported in CustomizedMetricSpecification.Metrics: give "
                "exactly one query with a MetricStat, or MetricName, Namespace and Statistic."
            )
        stat = metrics[0]["MetricStat"]
        metric = stat.get("Metric") or {}
        period = stat.get("Period")
        if period is not None and (not isinstance(period, int) or period <= 0 or period % 60):
            raise ScalingValidation(
                f"Invalid period {period}: the period must be a multiple of 60 seconds."
            )
        custom = {
            "MetricName": metric.get("MetricName"),
            "Namespace": metric.get("Namespace"),
            "Dimensions": metric.get("Dimensions"),
            "Statistic": stat.get("Stat"),
            "Unit": stat.get("Unit"),
        }
    for field in ("MetricName", "Namespace", "Statistic"):
        if not custom.get(field):
            raise ScalingValidation(f"CustomizedMetricSpecification.{field} is required.")
    if custom["Statistic"] not in _STATISTICS:
        raise ScalingValidation(
            f"Invalid statistic {custom['Statistic']}: the statistic must be one of "
            f"{', '.join(_STATISTICS)}."
        )
    if custom["Namespace"].startswith(":"):
        raise ScalingValidation(f"Invalid metric namespace {custom['Namespace']}.")
    unit = custom.get("Unit")
    if unit is not None and unit not in UNITS:
        raise ScalingValidation(
            f"Invalid unit {unit}: the unit must be one of {', '.join(sorted(UNITS))}."
        )
    dimensions = []
    for d in custom.get("Dimensions") or ():
        if not isinstance(d, Mapping) or not d.get("Name") or d.get("Value") is None:
            raise ScalingValidation("Each metric dimension needs a Name and a Value.")
        dimensions.append((str(d["Name"]), str(d["Value"])))
    return MetricSpec(
        custom["Namespace"],
        custom["MetricName"],
        tuple(dimensions),
        custom["Statistic"],
        unit,
    )


def parse_step_scaling(config: Mapping[str, Any]) -> StepScaling:
    kind = config.get("AdjustmentType")
    if kind is None:
        raise ScalingValidation("StepScalingPolicyConfiguration.AdjustmentType is required.")
    adjustment_type = AdjustmentType(kind)
    steps = []
    for raw in config.get("StepAdjustments") or ():
        adjustment = raw.get("ScalingAdjustment")
        if not isinstance(adjustment, int) or isinstance(adjustment, bool):
            raise ScalingValidation("Each step adjustment needs an integer ScalingAdjustment.")
        steps.append(
            StepAdjustment(
                adjustment,
                raw.get("MetricIntervalLowerBound"),
                raw.get("MetricIntervalUpperBound"),
            )
        )
    problem = validate_steps(steps)
    if problem:
        raise ScalingValidation(problem)
    magnitude = config.get("MinAdjustmentMagnitude")
    if magnitude is not None:
        if adjustment_type is not AdjustmentType.PERCENT_CHANGE_IN_CAPACITY:
            raise ScalingValidation(
                "MinAdjustmentMagnitude may only be specified with the adjustment type "
                "PercentChangeInCapacity."
            )
        if magnitude < 1:
            raise ScalingValidation("MinAdjustmentMagnitude must be at least 1.")
    return StepScaling(
        adjustment_type,
        tuple(steps),
        _cooldown(config.get("Cooldown"), "stepScalingPolicyConfiguration.cooldown"),
        magnitude,
        config.get("MetricAggregationType") or "Average",
    )


@dataclasses.dataclass
class ScalingPolicy:
    name: str
    ref: ResourceRef
    policy_type: PolicyType
    arn: str
    creation_time: float
    # The configuration as the client sent it (DescribeScalingPolicies returns it).
    configuration: dict[str, Any]
    alarms: list[dict[str, str]] = dataclasses.field(default_factory=list)
    # The prefix of the alarm action ARNs that invoke this policy (``<arn>:createdBy/<uuid>``
    # for target tracking; the policy ARN for step scaling).
    action_arn: str = ""

    @property
    def target_tracking(self) -> TargetTracking:
        return parse_target_tracking(self.configuration, self.ref)

    @property
    def step_scaling(self) -> StepScaling:
        return parse_step_scaling(self.configuration)

    def to_record(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["policy_type"] = self.policy_type.value
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ScalingPolicy:
        return cls(
            record["name"],
            ResourceRef(**record["ref"]),
            PolicyType(record["policy_type"]),
            record["arn"],
            record["creation_time"],
            dict(record["configuration"]),
            list(record.get("alarms") or []),
            record.get("action_arn", ""),
        )


@dataclasses.dataclass
class ScalingActivity:
    activity_id: str
    ref: ResourceRef
    description: str
    cause: str
    start_time: float
    status_code: ActivityStatus
    status_message: str | None = None
    end_time: float | None = None
    details: str | None = None
    not_scaled_reasons: list[dict[str, Any]] | None = None
    # The capacity this activity sets (None for a not-scaled activity).
    desired: int | None = None

    @property
    def scaled(self) -> bool:
        return self.not_scaled_reasons is None

    def to_record(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["status_code"] = self.status_code.value
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ScalingActivity:
        fields = dict(record)
        fields["ref"] = ResourceRef(**fields["ref"])
        fields["status_code"] = ActivityStatus(fields["status_code"])
        return cls(**fields)

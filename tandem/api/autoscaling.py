"""Application Auto Scaling (awsJson1_1, ``X-Amz-Target: AnyScaleFrontendService.<Op>``).

Thin: each operation's members are declared in ``autoscaling_members`` (nested
configurations too, so a wrong type, an unknown member or a value outside an enum is refused
before the core runs); each operation calls the scaling service and renders AWS's response
members; timestamps are epoch seconds.
Errors render as ``{"__type": <Code>, "message": ...}``, status 400: every bad parameter is
a ``ValidationException``, a bad NextToken ``InvalidNextTokenException``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..errors import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
    TandemError,
)
from ..scaling.model import (
    DIMENSION,
    NAMESPACE,
    ScalableTarget,
    ScalingActivity,
    ScalingPolicy,
)
from ..scaling.service import ScalingService
from ..tags import TagStore, TooManyTags
from .autoscaling_members import SHAPES, SUSPENDED_STATE, check_nested, check_policy_members
from .autoscaling_tags import ScalableTargetTags
from .errors import lookup
from .members import parse_members
from .model_rules import rules

__all__ = ["AutoScalingService", "SHAPES"]

_ERRORS: dict[type, tuple[str, int]] = {
    InvalidParameterValue: ("ValidationException", 400),
    InvalidParameterCombination: ("ValidationException", 400),
    MissingParameter: ("ValidationException", 400),
    InvalidNextToken: ("InvalidNextTokenException", 400),
    TooManyTags: ("TooManyTagsException", 400),
}


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _page(items: list[Any], body: Mapping[str, Any], default: int) -> tuple[list[Any], str | None]:
    start = 0
    token = body.get("NextToken")
    if token:
        try:
            text = base64.urlsafe_b64decode(token.encode()).decode()
            if not text.startswith("o:"):
                raise ValueError(text)
            start = int(text[2:])
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise InvalidNextToken("Invalid token.") from None
        if start < 0:
            raise InvalidNextToken("Invalid token.")
    limit = body.get("MaxResults", default)
    page = items[start : start + limit]
    return page, (_encode_token(start + limit) if start + limit < len(items) else None)


class AutoScalingService:
    target_prefix = "AnyScaleFrontendService"
    content_type = "application/x-amz-json-1.1"

    def __init__(self, scaling: ScalingService, *, tags: TagStore | None = None) -> None:
        self.scaling = scaling
        self.tagging = None if tags is None else ScalableTargetTags(tags, scaling)
        if self.tagging is not None:
            scaling.on_dropped.append(self.tagging.deleted)
        methods: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "RegisterScalableTarget": self.register_scalable_target,
            "DeregisterScalableTarget": self.deregister_scalable_target,
            "DescribeScalableTargets": self.describe_scalable_targets,
            "PutScalingPolicy": self.put_scaling_policy,
            "DescribeScalingPolicies": self.describe_scaling_policies,
            "DeleteScalingPolicy": self.delete_scaling_policy,
            "DescribeScalingActivities": self.describe_scaling_activities,
        }
        if self.tagging is not None:
            methods["TagResource"] = self.tagging.tag_resource
            methods["UntagResource"] = self.tagging.untag_resource
            methods["ListTagsForResource"] = self.tagging.list_tags_for_resource
        self.operations = {name: _validated(name, m) for name, m in methods.items()}

    @staticmethod
    def render_error(error: TandemError) -> tuple[int, dict[str, str], bytes]:
        code, status = lookup(error, _ERRORS)
        body = json.dumps({"__type": code, "message": error.message}).encode()
        return status, {"Content-Type": "application/x-amz-json-1.1"}, body

    # -- renderers -------------------------------------------------------------

    def _target(self, target: ScalableTarget) -> dict[str, Any]:
        return {
            "ServiceNamespace": NAMESPACE,
            "ResourceId": target.ref.resource_id,
            "ScalableDimension": DIMENSION,
            "MinCapacity": target.min_capacity,
            "MaxCapacity": target.max_capacity,
            "RoleARN": self.scaling.role_arn(),
            "CreationTime": target.creation_time,
            "SuspendedState": {
                name: target.suspended_flag(name)
                for name in (
                    "DynamicScalingInSuspended",
                    "DynamicScalingOutSuspended",
                    "ScheduledScalingSuspended",
                )
            },
            "ScalableTargetARN": target.arn,
        }

    def _policy(self, policy: ScalingPolicy) -> dict[str, Any]:
        return {
            "PolicyARN": policy.arn,
            "PolicyName": policy.name,
            "ServiceNamespace": NAMESPACE,
            "ResourceId": policy.ref.resource_id,
            "ScalableDimension": DIMENSION,
            "PolicyType": policy.policy_type.value,
            f"{policy.policy_type.value}PolicyConfiguration": policy.configuration,
            "Alarms": self.scaling.policy_alarms(policy),
            "CreationTime": policy.creation_time,
        }

    @staticmethod
    def _activity(activity: ScalingActivity) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ActivityId": activity.activity_id,
            "ServiceNamespace": NAMESPACE,
            "ResourceId": activity.ref.resource_id,
            "ScalableDimension": DIMENSION,
            "Description": activity.description,
            "Cause": activity.cause,
            "StartTime": activity.start_time,
            "StatusCode": activity.status_code.value,
        }
        if activity.end_time is not None:
            out["EndTime"] = activity.end_time
        if activity.status_message is not None:
            out["StatusMessage"] = activity.status_message
        if activity.details is not None:
            out["Details"] = activity.details
        if activity.not_scaled_reasons:
            out["NotScaledReasons"] = activity.not_scaled_reasons
        return out

    # -- operations --------------------------------------------------------------

    async def register_scalable_target(self, body: dict[str, Any]) -> dict[str, Any]:
        check_nested(body.get("SuspendedState"), SUSPENDED_STATE, "suspendedState")
        tagging = self.tagging
        new = tagging is not None and tagging.target_arn(body["ResourceId"]) is None
        if new and tagging is not None:
            tagging.check(body.get("Tags"))
        target = await self.scaling.register_scalable_target(
            service_namespace=body["ServiceNamespace"],
            resource_id=body["ResourceId"],
            scalable_dimension=body["ScalableDimension"],
            min_capacity=body.get("MinCapacity"),
            max_capacity=body.get("MaxCapacity"),
            suspended_state=body.get("SuspendedState"),
        )
        if new and tagging is not None:
            await tagging.created(target.arn, body.get("Tags"))
        return {"ScalableTargetARN": target.arn}

    async def deregister_scalable_target(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.scaling.deregister_scalable_target(
            service_namespace=body["ServiceNamespace"],
            resource_id=body["ResourceId"],
            scalable_dimension=body["ScalableDimension"],
        )
        return {}

    async def describe_scalable_targets(self, body: dict[str, Any]) -> dict[str, Any]:
        targets = self.scaling.describe_scalable_targets(
            service_namespace=body["ServiceNamespace"],
            resource_ids=body.get("ResourceIds"),
            scalable_dimension=body.get("ScalableDimension"),
        )
        page, token = _page(targets, body, 50)
        out: dict[str, Any] = {"ScalableTargets": [self._target(t) for t in page]}
        if token:
            out["NextToken"] = token
        return out

    async def put_scaling_policy(self, body: dict[str, Any]) -> dict[str, Any]:
        check_policy_members(body)
        policy = await self.scaling.put_scaling_policy(
            policy_name=body["PolicyName"],
            service_namespace=body["ServiceNamespace"],
            resource_id=body["ResourceId"],
            scalable_dimension=body["ScalableDimension"],
            policy_type=body.get("PolicyType"),
            step_scaling_policy_configuration=body.get("StepScalingPolicyConfiguration"),
            target_tracking_scaling_policy_configuration=body.get(
                "TargetTrackingScalingPolicyConfiguration"
            ),
            predictive_scaling_policy_configuration=body.get(
                "PredictiveScalingPolicyConfiguration"
            ),
        )
        return {"PolicyARN": policy.arn, "Alarms": policy.alarms}

    async def describe_scaling_policies(self, body: dict[str, Any]) -> dict[str, Any]:
        policies = self.scaling.describe_scaling_policies(
            service_namespace=body["ServiceNamespace"],
            policy_names=body.get("PolicyNames"),
            resource_id=body.get("ResourceId"),
            scalable_dimension=body.get("ScalableDimension"),
        )
        page, token = _page(policies, body, 10)
        out: dict[str, Any] = {"ScalingPolicies": [self._policy(p) for p in page]}
        if token:
            out["NextToken"] = token
        return out

    async def delete_scaling_policy(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.scaling.delete_scaling_policy(
            policy_name=body["PolicyName"],
            service_namespace=body["ServiceNamespace"],
            resource_id=body["ResourceId"],
            scalable_dimension=body["ScalableDimension"],
        )
        return {}

    async def describe_scaling_activities(self, body: dict[str, Any]) -> dict[str, Any]:
        activities = self.scaling.describe_scaling_activities(
            service_namespace=body["ServiceNamespace"],
            resource_id=body.get("ResourceId"),
            scalable_dimension=body.get("ScalableDimension"),
            include_not_scaled_activities=bool(body.get("IncludeNotScaledActivities")),
        )
        page, token = _page(activities, body, 50)
        out: dict[str, Any] = {"ScalingActivities": [self._activity(a) for a in page]}
        if token:
            out["NextToken"] = token
        return out


def _validated(
    operation: str, method: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
) -> Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]:
    """Members' types first, then the service model's constraints (AWS's texts), then the
    operation."""
    shape = SHAPES[operation]

    async def call(body: Mapping[str, Any]) -> dict[str, Any]:
        parse_members(body, shape, lower_first=True)
        rules("application-autoscaling").check(operation, body)
        return await method({k: v for k, v in body.items() if v is not None})

    return call

"""The Application Auto Scaling control plane for SageMaker variants.

RegisterScalableTarget / DeregisterScalableTarget / DescribeScalableTargets,
PutScalingPolicy / DeleteScalingPolicy / DescribeScalingPolicies and
DescribeScalingActivities, with AWS's validation and errors. A target-tracking policy
creates and owns its two alarms through the alarm service; the executor (``executor``)
acts when they fire. One register/put/delete per scalable target at a time: a second
one while the first is in flight gets ConcurrentUpdateException, as on AWS.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from ..clock import Clock, SystemClock
from ..errors import TandemError, ValidationException
from ..serving.model import Endpoint, EndpointStatus
from ..telemetry.alarms.model import AlarmInput
from .errors import ConcurrentUpdate, FailedResourceAccess, ObjectNotFound, ScalingValidation
from .model import (
    DIMENSION,
    NAMESPACE,
    PolicyType,
    ResourceRef,
    ScalableTarget,
    ScalingActivity,
    ScalingPolicy,
    parse_resource_id,
    parse_step_scaling,
    parse_target_tracking,
)
from .policy_alarms import OWNER, target_tracking_alarms
from .state import ScalingState, policy_key

__all__ = ["ScalingService", "Endpoints", "PolicyAlarms", "ROLE_NAME"]

ROLE_NAME = (
    "aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)


class Endpoints(Protocol):
    """What scaling needs of the endpoint manager (``serving.endpoints.EndpointManager``)."""

    async def describe_endpoint(self, name: str) -> Endpoint: ...

    async def update_weights_and_capacities(
        self, name: str, desired: list[Mapping[str, Any]]
    ) -> Endpoint: ...


class PolicyAlarms(Protocol):
    """What scaling needs of the alarm service (``telemetry.alarms``)."""

    async def put_metric_alarm(self, alarm: AlarmInput, *, owner: str | None = None) -> Any: ...

    async def delete_alarms(self, names: Sequence[str], *, owner: str | None = None) -> Any: ...

    def alarms(self) -> Sequence[Any]:
        """Every alarm (``alarm_name``, ``alarm_arn``, ``actions``), from memory."""
        ...


def _not_registered(ref_id: str) -> ObjectNotFound:
    return ObjectNotFound(
        f"No scalable target registered for service namespace: {NAMESPACE}, resource ID: "
        f"{ref_id}, scalable dimension: {DIMENSION}"
    )


class ScalingService:
    def __init__(
        self,
        state: ScalingState,
        endpoints: Endpoints,
        alarms: PolicyAlarms,
        *,
        region: str,
        account_id: str,
        clock: Clock | None = None,
        on_registered: Callable[[ScalableTarget], Awaitable[None]] | None = None,
    ) -> None:
        self.state = state
        self.endpoints = endpoints
        self.alarms = alarms
        self.region = region
        self.account_id = account_id
        self.clock = clock or SystemClock()
        # The executor's hook: bring the capacity inside new bounds.
        self.on_registered = on_registered
        # Called with each target once it is gone (deregistered, or its endpoint deleted):
        # what hangs off a target's ARN elsewhere (its tags) goes with it.
        self.on_dropped: list[Callable[[ScalableTarget], Awaitable[None]]] = []
        self._busy: set[str] = set()

    @contextlib.contextmanager
    def _exclusive(self, resource_id: str) -> Iterator[None]:
        if resource_id in self._busy:
            raise ConcurrentUpdate(
                f"Another update of the scalable target {resource_id} is in progress; "
                "retry when it has finished."
            )
        self._busy.add(resource_id)
        try:
            yield
        finally:
            self._busy.discard(resource_id)

    def _target(self, ref: ResourceRef) -> ScalableTarget:
        target = self.state.targets.get(ref.resource_id)
        if target is None:
            raise _not_registered(ref.resource_id)
        return target

    # -- scalable targets ----------------------------------------------------

    async def register_scalable_target(
        self,
        *,
        service_namespace: str,
        resource_id: str,
        scalable_dimension: str,
        min_capacity: int | None = None,
        max_capacity: int | None = None,
        suspended_state: Mapping[str, bool] | None = None,
        role_arn: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ScalableTarget:
        ref = parse_resource_id(service_namespace, resource_id, scalable_dimension)
        with self._exclusive(ref.resource_id):
            existing = self.state.targets.get(ref.resource_id)
            if existing is None:
                if min_capacity is None or max_capacity is None:
                    raise ScalingValidation(
                        "MinCapacity and MaxCapacity are required when registering a new "
                        "scalable target."
                    )
                await self._check_variant(ref)
                lo, hi = min_capacity, max_capacity
            else:
                lo = existing.min_capacity if min_capacity is None else min_capacity
                hi = existing.max_capacity if max_capacity is None else max_capacity
            if lo < 1:
                raise ScalingValidation(
                    f"Invalid MinCapacity {lo}: a SageMaker variant must keep at least 1 instance."
                )
            if lo > hi:
                raise ScalingValidation(
                    f"Minimum capacity ({lo}) cannot be greater than maximum capacity ({hi})."
                )
            if existing is None:
                suffix = (uuid.uuid4().hex + uuid.uuid4().hex)[:36]
                target = ScalableTarget(
                    ref,
                    lo,
                    hi,
                    self.clock.time(),
                    f"arn:aws:application-autoscaling:{self.region}:{self.account_id}:"
                    f"scalable-target/{suffix}",
                )
            else:
                target = existing
                target.min_capacity, target.max_capacity = lo, hi
            if suspended_state is not None:
                target.suspended.update({k: bool(v) for k, v in suspended_state.items()})
            self.state.save_target(target)
            await self.state.flush()
            if self.on_registered is not None and (
                min_capacity is not None or max_capacity is not None
            ):
                await self.on_registered(target)
            return target

    async def _check_variant(self, ref: ResourceRef) -> None:
        try:
            endpoint = await self.endpoints.describe_endpoint(ref.endpoint)
        except TandemError:
            raise ScalingValidation(
                f"Unable to register scalable target for resource {ref.resource_id}: the "
                f"endpoint {ref.endpoint} does not exist."
            ) from None
        if not any(v.name == ref.variant for v in endpoint.variants):
            raise ScalingValidation(
                f"Unable to register scalable target for resource {ref.resource_id}: the "
                f"endpoint {ref.endpoint} has no variant {ref.variant}."
            )
        if endpoint.status is not EndpointStatus.IN_SERVICE:
            raise ScalingValidation(
                f"The endpoint {ref.endpoint} is in status {endpoint.status.value}. The status "
                "should be in 'InService' to register it as a scalable target."
            )

    async def deregister_scalable_target(
        self, *, service_namespace: str, resource_id: str, scalable_dimension: str
    ) -> None:
        ref = parse_resource_id(service_namespace, resource_id, scalable_dimension)
        with self._exclusive(ref.resource_id):
            self._target(ref)
            await self._drop_target(ref.resource_id)

    async def _drop_target(self, resource_id: str) -> None:
        target = self.state.targets.get(resource_id)
        for policy in self.state.policies_of(resource_id):
            await self._delete_policy_alarms(policy)
            self.state.drop_policy(policy)
        self.state.drop_target(resource_id)
        await self.state.flush()
        if target is not None:
            for hook in self.on_dropped:
                await hook(target)

    async def forget_endpoint(self, endpoint_name: str) -> None:
        """DeleteEndpoint deregisters the endpoint's scalable targets silently, as on AWS."""
        for target in list(self.state.targets.values()):
            if target.ref.endpoint == endpoint_name and target.ref.resource_id not in self._busy:
                with self._exclusive(target.ref.resource_id):
                    await self._drop_target(target.ref.resource_id)

    def check_update(self, endpoint: str, current: Any, new: Any) -> None:
        """UpdateEndpoint may not remove a scalable variant or change its instance type until
        its target is deregistered, as on AWS."""
        old_types = {v.name: v.instance_type for v in current.variants}
        new_types = {v.name: v.instance_type for v in new.variants}
        for target in self.state.targets.values():
            ref = target.ref
            if ref.endpoint != endpoint:
                continue
            if ref.variant not in new_types:
                change = f"removes the variant {ref.variant}"
            elif new_types[ref.variant] != old_types.get(ref.variant, new_types[ref.variant]):
                change = f"changes the instance type of the variant {ref.variant}"
            else:
                continue
            raise ValidationException(
                f"The endpoint configuration {new.name} {change}, which is registered as a "
                f"scalable target ({ref.resource_id}). Deregister the scalable target with "
                "Application Auto Scaling before updating the endpoint."
            )

    def describe_scalable_targets(
        self,
        *,
        service_namespace: str,
        resource_ids: Sequence[str] | None = None,
        scalable_dimension: str | None = None,
    ) -> list[ScalableTarget]:
        if not _ours(service_namespace, scalable_dimension):
            return []
        targets = sorted(self.state.targets.values(), key=lambda t: t.creation_time)
        if resource_ids:
            wanted = set(resource_ids)
            targets = [t for t in targets if t.ref.resource_id in wanted]
        return targets

    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{ROLE_NAME}"

    # -- scaling policies ----------------------------------------------------

    async def put_scaling_policy(
        self,
        *,
        policy_name: str,
        service_namespace: str,
        resource_id: str,
        scalable_dimension: str,
        policy_type: str | None = None,
        step_scaling_policy_configuration: Mapping[str, Any] | None = None,
        target_tracking_scaling_policy_configuration: Mapping[str, Any] | None = None,
        predictive_scaling_policy_configuration: Mapping[str, Any] | None = None,
    ) -> ScalingPolicy:
        ref = parse_resource_id(service_namespace, resource_id, scalable_dimension)
        kind = PolicyType(policy_type or PolicyType.STEP.value)
        if kind is PolicyType.PREDICTIVE or predictive_scaling_policy_configuration is not None:
            raise ScalingValidation(
                f"Predictive scaling is not supported for scalable dimension {DIMENSION}."
            )
        if kind is PolicyType.TARGET_TRACKING:
            if target_tracking_scaling_policy_configuration is None:
                raise ScalingValidation(
                    "TargetTrackingScalingPolicyConfiguration is required for a policy of type "
                    "TargetTrackingScaling."
                )
            if step_scaling_policy_configuration is not None:
                raise ScalingValidation(
                    "StepScalingPolicyConfiguration is not allowed for a policy of type "
                    "TargetTrackingScaling."
                )
            configuration = dict(target_tracking_scaling_policy_configuration)
            tracking = parse_target_tracking(configuration, ref)
        else:
            if step_scaling_policy_configuration is None:
                raise ScalingValidation(
                    "StepScalingPolicyConfiguration is required for a policy of type StepScaling."
                )
            if target_tracking_scaling_policy_configuration is not None:
                raise ScalingValidation(
                    "TargetTrackingScalingPolicyConfiguration is not allowed for a policy of type "
                    "StepScaling."
                )
            configuration = dict(step_scaling_policy_configuration)
            parse_step_scaling(configuration)
        with self._exclusive(ref.resource_id):
            self._target(ref)
            key = policy_key(ref.resource_id, policy_name)
            old = self.state.policies.get(key)
            if old is not None and old.policy_type is not kind:
                raise ScalingValidation(
                    f"The policy {policy_name} is of type {old.policy_type.value}; its type "
                    "cannot be changed."
                )
            policy_arn = (
                old.arn
                if old is not None
                else f"arn:aws:autoscaling:{self.region}:{self.account_id}:scalingPolicy:"
                f"{uuid.uuid4()}:resource/{NAMESPACE}/{ref.resource_id}:policyName/{policy_name}"
            )
            policy = ScalingPolicy(
                policy_name,
                ref,
                kind,
                policy_arn,
                old.creation_time if old is not None else self.clock.time(),
                configuration,
                action_arn=policy_arn,
            )
            if kind is PolicyType.TARGET_TRACKING:
                policy.action_arn = f"{policy_arn}:createdBy/{uuid.uuid4()}"
                await self._create_policy_alarms(policy, tracking)
            if old is not None:
                await self._delete_policy_alarms(old)
            self.state.save_policy(policy)
            await self.state.flush()
            return policy

    async def _create_policy_alarms(self, policy: ScalingPolicy, tracking: Any) -> None:
        created: list[str] = []
        try:
            for alarm in target_tracking_alarms(policy, tracking, policy.action_arn):
                await self.alarms.put_metric_alarm(alarm, owner=OWNER)
                created.append(alarm.alarm_name)
                policy.alarms.append(
                    {
                        "AlarmName": alarm.alarm_name,
                        "AlarmARN": f"arn:aws:cloudwatch:{self.region}:{self.account_id}:alarm:"
                        f"{alarm.alarm_name}",
                    }
                )
        except TandemError as exc:
            if created:
                await self.alarms.delete_alarms(created, owner=OWNER)
            raise FailedResourceAccess(
                f"Failed to create the CloudWatch alarms of policy {policy.name}: {exc.message}"
            ) from None

    async def _delete_policy_alarms(self, policy: ScalingPolicy) -> None:
        if policy.policy_type is PolicyType.TARGET_TRACKING and policy.alarms:
            await self.alarms.delete_alarms([a["AlarmName"] for a in policy.alarms], owner=OWNER)

    async def delete_scaling_policy(
        self,
        *,
        policy_name: str,
        service_namespace: str,
        resource_id: str,
        scalable_dimension: str,
    ) -> None:
        ref = parse_resource_id(service_namespace, resource_id, scalable_dimension)
        with self._exclusive(ref.resource_id):
            policy = self.state.policies.get(policy_key(ref.resource_id, policy_name))
            if policy is None:
                raise ObjectNotFound(
                    f"No scaling policy found for service namespace: {NAMESPACE}, resource ID: "
                    f"{ref.resource_id}, scalable dimension: {DIMENSION}, policy name: "
                    f"{policy_name}"
                )
            await self._delete_policy_alarms(policy)
            self.state.drop_policy(policy)
            await self.state.flush()

    def describe_scaling_policies(
        self,
        *,
        service_namespace: str,
        policy_names: Sequence[str] | None = None,
        resource_id: str | None = None,
        scalable_dimension: str | None = None,
    ) -> list[ScalingPolicy]:
        if not _ours(service_namespace, scalable_dimension):
            return []
        policies = sorted(self.state.policies.values(), key=lambda p: p.creation_time)
        if resource_id is not None:
            policies = [p for p in policies if p.ref.resource_id == resource_id]
        if policy_names:
            names = set(policy_names)
            policies = [p for p in policies if p.name in names]
        return policies

    def policy_alarms(self, policy: ScalingPolicy) -> list[dict[str, str]]:
        """The alarms that run a policy: target tracking's own; for step scaling, every alarm
        with the policy ARN among its actions (as DescribeScalingPolicies lists them)."""
        if policy.policy_type is PolicyType.TARGET_TRACKING:
            return list(policy.alarms)
        return [
            {"AlarmName": a.alarm_name, "AlarmARN": a.alarm_arn}
            for a in self.alarms.alarms()
            if policy.arn in a.actions
        ]

    # -- activities ----------------------------------------------------------

    def describe_scaling_activities(
        self,
        *,
        service_namespace: str,
        resource_id: str | None = None,
        scalable_dimension: str | None = None,
        include_not_scaled_activities: bool = False,
    ) -> list[ScalingActivity]:
        """Newest first."""
        if not _ours(service_namespace, scalable_dimension):
            return []
        activities = [
            a
            for a in reversed(self.state.activities)
            if (resource_id is None or a.ref.resource_id == resource_id)
            and (include_not_scaled_activities or a.scaled)
        ]
        return activities


def _ours(namespace: str, dimension: str | None) -> bool:
    return namespace == NAMESPACE and dimension in (None, DIMENSION)

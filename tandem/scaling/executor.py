"""Alarm actions in, DesiredInstanceCount changes out, followed until SageMaker fulfils them.

The alarm service calls ``on_alarm`` for each action ARN of a scaling policy, on each state
change and again every minute while the alarm stays in ALARM (AWS re-invokes scaling
actions). The executor finds the policy, computes the capacity (``capacity``), applies
min/max, cooldowns, DisableScaleIn and SuspendedState, and sets the variant's
DesiredInstanceCount through the endpoint manager, the same path as
UpdateEndpointWeightsAndCapacities: new instances answer /ping before they take traffic and
removed ones are drained first. While the endpoint is updating, scaling is blocked: the
attempt is recorded as a not-scaled activity and retried at the next re-invocation.

A background loop follows InProgress activities to Successful (the variant runs the
desired count and the endpoint is InService), Overridden (a newer change replaced it) or
Failed, brings a target's capacity inside new bounds after RegisterScalableTarget, and
deregisters the targets of deleted endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ..clock import Clock, SystemClock
from ..errors import TandemError
from ..serving.model import Endpoint, EndpointStatus, VariantState
from ..telemetry.alarms.source import AlarmSource
from .capacity import Decision, NotScaledReason, record
from .model import ActivityStatus, PolicyType, ScalableTarget, ScalingActivity, ScalingPolicy
from .policy_alarms import is_low_alarm
from .policy_decision import policy_outcome
from .service import Endpoints
from .state import ScalingState

__all__ = ["ScalingExecutor", "ACTION_PREFIX"]

_log = logging.getLogger(__name__)

# Every scaling policy ARN (and target tracking's ``:createdBy/`` action ARNs) starts so.
ACTION_PREFIX = "arn:aws:autoscaling:"
_ENDPOINT_CHECK_INTERVAL = 10.0


def _in_progress(n: int) -> str:
    return (
        f"Successfully set desired instance count to {n}. "
        "Waiting for change to be fulfilled by sagemaker."
    )


def _fulfilled(n: int) -> str:
    return (
        f"Successfully set desired instance count to {n}. "
        "Change successfully fulfilled by sagemaker."
    )


class ScalingExecutor:
    def __init__(
        self,
        state: ScalingState,
        endpoints: Endpoints,
        *,
        source: AlarmSource | None = None,
        clock: Clock | None = None,
        poll_interval: float = 0.5,
        on_endpoint_gone: Callable[[str], Awaitable[None]] | None = None,
        alarm_state: Callable[[str], str | None] | None = None,
    ) -> None:
        self.state = state
        self.endpoints = endpoints
        self.source = source
        self.clock = clock or SystemClock()
        self.poll_interval = poll_interval
        self.on_endpoint_gone = on_endpoint_gone
        # An alarm's current state by name (the alarm service's memory), for policies that
        # must agree before a scale-in.
        self.alarm_state = alarm_state
        self._locks: dict[str, asyncio.Lock] = {}
        self._clamps: set[str] = set()  # targets whose capacity may be outside new bounds
        self._task: asyncio.Task[None] | None = None

    def _lock(self, resource_id: str) -> asyncio.Lock:
        return self._locks.setdefault(resource_id, asyncio.Lock())

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._follow(), name="scaling")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.state.flush()

    # -- alarm actions -----------------------------------------------------------

    async def on_alarm(self, alarm: Any, change: Any) -> None:
        """An alarm ran a scaling action (``change.action_arn``)."""
        policy = self._policy_for(change.action_arn)
        if policy is None:
            return  # the policy was deleted; a user's alarm may still name it
        target = self.state.targets.get(policy.ref.resource_id)
        if target is None:
            return
        values = await self._datapoints(alarm) or _recent_datapoints(change.reason_data)
        if not values:
            return
        async with self._lock(target.ref.resource_id):
            await self._run_policy(target, policy, alarm, change, values)

    async def _datapoints(self, alarm: Any) -> list[float]:
        """The alarm's metric over its evaluation periods up to the last closed minute, read
        now: a re-invocation while the alarm stays in ALARM sees fresh values (the alarm's
        reason data is that of its last transition)."""
        if self.source is None:
            return []
        period = alarm.evaluation_period
        end = int(self.clock.time() // 60) * 60
        start = end - alarm.evaluation_periods * period
        try:
            samples = await asyncio.to_thread(self.source.samples, alarm, start, end)
        except Exception:  # noqa: BLE001 - the reason data is the fallback
            _log.exception("reading the metric of alarm %s failed", alarm.alarm_name)
            return []
        return [s.value for s in samples if s is not None]

    def _policy_for(self, action_arn: str) -> ScalingPolicy | None:
        for policy in self.state.policies.values():
            if action_arn in (policy.action_arn, policy.arn):
                return policy
        return None

    async def _run_policy(
        self,
        target: ScalableTarget,
        policy: ScalingPolicy,
        alarm: Any,
        change: Any,
        values: list[float],
    ) -> None:
        endpoint = await self._endpoint(target)
        if endpoint is None:
            return
        variant = _variant(endpoint, target.ref.variant)
        if variant is None:
            return
        current = variant.desired_instance_count
        outcome = policy_outcome(
            policy,
            target,
            desired=current,
            active=variant.current_instance_count,
            alarm_name=alarm.alarm_name,
            threshold=alarm.threshold,
            values=values,
            now=self.clock.time(),
            scale_in_agreed=self._scale_in_agreed(policy),
        )
        if outcome is None:
            return
        cause = (
            f"monitor alarm {alarm.alarm_name} in state {change.new_state} triggered policy "
            f"{policy.name}"
        )
        await self._apply(target, endpoint, current, outcome.base, outcome.decision, cause)

    def _scale_in_agreed(self, policy: ScalingPolicy) -> bool:
        """With several target-tracking policies on a target, AWS scales in only when every
        one that may scale in asks for it: each one's AlarmLow must be in ALARM."""
        if self.alarm_state is None:
            return True
        for other in self.state.policies_of(policy.ref.resource_id):
            if other is policy or other.policy_type is not PolicyType.TARGET_TRACKING:
                continue
            if other.target_tracking.disable_scale_in:
                continue
            for alarm in other.alarms:
                if (
                    is_low_alarm(alarm["AlarmName"])
                    and self.alarm_state(alarm["AlarmName"]) != "ALARM"
                ):
                    return False
        return True

    async def _apply(
        self,
        target: ScalableTarget,
        endpoint: Endpoint,
        current: int,
        base: int,
        decision: Decision,
        cause: str,
    ) -> None:
        if decision.capacity is None:
            if decision.reason in (NotScaledReason.ALREADY_AT_MAX, NotScaledReason.ALREADY_AT_MIN):
                self._not_scaled(target, cause, decision.reason, current)
            return
        out = decision.capacity > current
        if target.suspended_flag(
            "DynamicScalingOutSuspended" if out else "DynamicScalingInSuspended"
        ):
            return
        if endpoint.status is not EndpointStatus.IN_SERVICE:
            self._not_scaled(target, cause, NotScaledReason.UNSCALABLE, current)
            return
        if await self._set_capacity(target, decision.capacity, cause):
            target.history = record(
                target.history,
                now=self.clock.time(),
                base=base,
                before=current,
                after=decision.capacity,
            )
            self.state.save_target(target)

    async def _set_capacity(self, target: ScalableTarget, count: int, cause: str) -> bool:
        """UpdateEndpointWeightsAndCapacities for the variant; records the activity."""
        activity = ScalingActivity(
            str(uuid.uuid4()),
            target.ref,
            f"Setting desired instance count to {count}.",
            cause,
            self.clock.time(),
            ActivityStatus.IN_PROGRESS,
            desired=count,
        )
        try:
            await self.endpoints.update_weights_and_capacities(
                target.ref.endpoint,
                [{"VariantName": target.ref.variant, "DesiredInstanceCount": count}],
            )
        except TandemError as exc:
            if "in-progress" in exc.message:
                self._not_scaled(target, cause, NotScaledReason.UNSCALABLE, None)
                return False
            activity.status_code = ActivityStatus.FAILED
            activity.end_time = self.clock.time()
            activity.status_message = (
                f"Failed to set desired instance count to {count}. Reason: {exc.message} "
                f"(Service: AmazonSageMaker; Status Code: {exc.status}; Error Code: {exc.code}; "
                f"Request ID: {uuid.uuid4()})."
            )
            self.state.save_activity(activity)
            return False
        activity.status_message = _in_progress(count)
        self.state.save_activity(activity)
        _log.info("%s: %s (%s)", target.ref.resource_id, activity.description, cause)
        return True

    def _not_scaled(
        self,
        target: ScalableTarget,
        cause: str,
        reason: NotScaledReason,
        current: int | None,
    ) -> None:
        """A not-scaled activity (DescribeScalingActivities shows it with
        IncludeNotScaledActivities); one per reason in a row, not one per minute."""
        for previous in reversed(self.state.activities):
            if previous.ref == target.ref:
                if previous.not_scaled_reasons and previous.not_scaled_reasons[0]["Code"] == reason:
                    return
                break
        detail: dict[str, Any] = {"Code": reason.value}
        if reason is not NotScaledReason.UNSCALABLE:
            detail.update(
                MaxCapacity=target.max_capacity,
                MinCapacity=target.min_capacity,
                CurrentCapacity=current,
            )
        now = self.clock.time()
        message = {
            NotScaledReason.ALREADY_AT_MAX: "the target is already at its maximum capacity",
            NotScaledReason.ALREADY_AT_MIN: "the target is already at its minimum capacity",
            NotScaledReason.UNSCALABLE: "the endpoint is being updated; scaling is retried at "
            "the next alarm invocation",
        }.get(reason, reason.value)
        self.state.save_activity(
            ScalingActivity(
                str(uuid.uuid4()),
                target.ref,
                "Attempting to scale due to alarm triggered",
                cause,
                now,
                ActivityStatus.FAILED,
                status_message=f"Failed to scale: {message}.",
                end_time=now,
                not_scaled_reasons=[detail],
            )
        )

    # -- registration --------------------------------------------------------------

    async def on_registered(self, target: ScalableTarget) -> None:
        """RegisterScalableTarget with new bounds moves the capacity inside them at once (or,
        while the endpoint is busy, as soon as it is InService)."""
        self._clamps.add(target.ref.resource_id)
        await self._clamp(target.ref.resource_id)

    async def _clamp(self, resource_id: str) -> None:
        target = self.state.targets.get(resource_id)
        if target is None:
            self._clamps.discard(resource_id)
            return
        async with self._lock(resource_id):
            endpoint = await self._endpoint(target)
            variant = None if endpoint is None else _variant(endpoint, target.ref.variant)
            if endpoint is None or variant is None:
                self._clamps.discard(resource_id)
                return
            current = variant.desired_instance_count
            bounded = min(max(current, target.min_capacity), target.max_capacity)
            if bounded == current:
                self._clamps.discard(resource_id)
                return
            if endpoint.status is not EndpointStatus.IN_SERVICE:
                return  # retried by the follow loop
            cause = (
                f"minimum capacity was set to {target.min_capacity}"
                if bounded > current
                else f"maximum capacity was set to {target.max_capacity}"
            )
            if await self._set_capacity(target, bounded, cause):
                self._clamps.discard(resource_id)

    # -- following activities --------------------------------------------------------

    async def _endpoint(self, target: ScalableTarget) -> Endpoint | None:
        try:
            return await self.endpoints.describe_endpoint(target.ref.endpoint)
        except TandemError:
            return None

    async def _follow(self) -> None:
        last_check = 0.0
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self._settle()
                for resource_id in list(self._clamps):
                    await self._clamp(resource_id)
                now = self.clock.monotonic()
                if now - last_check >= _ENDPOINT_CHECK_INTERVAL:
                    last_check = now
                    await self._forget_deleted_endpoints()
                    self.state.expire(self.clock.time())
            except Exception:  # noqa: BLE001 - retried next tick, logged
                _log.exception("following scaling activities failed")

    async def _settle(self) -> None:
        for activity in [
            a for a in self.state.activities if a.status_code is ActivityStatus.IN_PROGRESS
        ]:
            endpoint = None
            with contextlib.suppress(TandemError):
                endpoint = await self.endpoints.describe_endpoint(activity.ref.endpoint)
            variant = None if endpoint is None else _variant(endpoint, activity.ref.variant)
            if endpoint is None or variant is None or endpoint.status is EndpointStatus.FAILED:
                self._finish(
                    activity,
                    ActivityStatus.FAILED,
                    f"Failed to set desired instance count to {activity.desired}. Reason: the "
                    "endpoint or its variant no longer exists or has failed.",
                )
            elif variant.desired_instance_count != activity.desired:
                self._finish(
                    activity,
                    ActivityStatus.OVERRIDDEN,
                    f"The desired instance count {activity.desired} was replaced by "
                    f"{variant.desired_instance_count} before it was fulfilled.",
                )
            elif (
                endpoint.status is EndpointStatus.IN_SERVICE
                and variant.current_instance_count == activity.desired
            ):
                self._finish(activity, ActivityStatus.SUCCESSFUL, _fulfilled(activity.desired or 0))

    def _finish(self, activity: ScalingActivity, status: ActivityStatus, message: str) -> None:
        activity.status_code = status
        activity.status_message = message
        activity.end_time = self.clock.time()
        self.state.save_activity(activity)
        _log.info("%s: %s", activity.ref.resource_id, message)

    async def _forget_deleted_endpoints(self) -> None:
        if self.on_endpoint_gone is None:
            return
        for name in {t.ref.endpoint for t in self.state.targets.values()}:
            try:
                await self.endpoints.describe_endpoint(name)
            except TandemError:
                await self.on_endpoint_gone(name)


def _variant(endpoint: Endpoint, name: str) -> VariantState | None:
    return next((v for v in endpoint.variants if v.name == name), None)


def _recent_datapoints(reason_data: str | None) -> list[float]:
    """The alarm's evaluated values, oldest first (StateReasonData's ``recentDatapoints``)."""
    if not reason_data:
        return []
    try:
        data = json.loads(reason_data)
    except ValueError:
        return []
    values = data.get("recentDatapoints") if isinstance(data, dict) else None
    if not isinstance(values, list):
        return []
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]

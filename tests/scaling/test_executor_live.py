"""The scaling executor on a real server: step scaling from a user's alarm (its action is
the policy ARN), cooldowns, SuspendedState, not-scaled activities at the maximum and while
the endpoint is updating, and DeleteEndpoint deregistering the endpoint's targets.

The user's alarms are made with boto3 (PutMetricAlarm with the policy ARN as its action) and
driven with SetAlarmState, whose action runs the policy as an evaluation would; the alarm's
metric has no data, so the policy uses the state's reason data."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tandem.clock import OffsetClock
from tests.e2e.support import deploy, stage_container
from tests.server_thread import ServerThread

pytestmark = pytest.mark.slow

NS, DIM = "sagemaker", "sagemaker:variant:DesiredInstanceCount"


def wait_for(what: str, predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


class Live:
    def __init__(self, thread: ServerThread, clock: OffsetClock) -> None:
        self.thread, self.clock = thread, clock
        self.server = thread.server
        kw = dict(
            endpoint_url=thread.url, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
        )  # fmt: skip
        self.sagemaker = boto3.client("sagemaker", **kw)  # type: ignore[call-overload]
        self.aas = boto3.client("application-autoscaling", **kw)  # type: ignore[call-overload]
        self.cloudwatch = boto3.client("cloudwatch", **kw)  # type: ignore[call-overload]

    def endpoint(self, name: str, **kw: Any) -> str:
        deploy(self.sagemaker, name, [stage_container("one")], **kw)
        rid = f"endpoint/{name}/variant/AllTraffic"
        return rid

    def register(self, rid: str, **kw: Any) -> None:
        self.aas.register_scalable_target(
            ServiceNamespace=NS, ResourceId=rid, ScalableDimension=DIM, **kw
        )

    def step_policy(self, rid: str, steps: list[dict], **config: Any) -> str:  # type: ignore[type-arg]
        return self.aas.put_scaling_policy(
            PolicyName="steps", ServiceNamespace=NS, ResourceId=rid, ScalableDimension=DIM,
            PolicyType="StepScaling",
            StepScalingPolicyConfiguration={"AdjustmentType": "ChangeInCapacity",
                                            "StepAdjustments": steps, **config},
        )["PolicyARN"]  # fmt: skip

    def user_alarm(self, name: str, policy_arn: str, threshold: float = 10.0) -> None:
        self.cloudwatch.put_metric_alarm(
            AlarmName=name, EvaluationPeriods=1, ComparisonOperator="GreaterThanThreshold",
            Threshold=threshold, MetricName="Backlog", Namespace="Custom/Queue",
            Statistic="Average", Period=60, AlarmActions=[policy_arn],
        )  # fmt: skip

    def fire(self, name: str, value: float, reset: bool = True) -> None:
        """(OK, then) ALARM with ``value`` as the newest datapoint; returns once the policy
        ran."""
        data = json.dumps({"version": "1.0", "recentDatapoints": [value], "threshold": 10.0})
        if reset:
            self.cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="reset")
        before = self._actions(name)
        self.cloudwatch.set_alarm_state(
            AlarmName=name, StateValue="ALARM", StateReason="test", StateReasonData=data
        )
        wait_for("the action to run", lambda: self._actions(name) > before)

    def _actions(self, name: str) -> int:
        return len(self.cloudwatch.describe_alarm_history(
            AlarmName=name, HistoryItemType="Action")["AlarmHistoryItems"])  # fmt: skip

    def counts(self, name: str) -> tuple[int, int, str]:
        d = self.sagemaker.describe_endpoint(EndpointName=name)
        (v,) = d["ProductionVariants"]
        return v["DesiredInstanceCount"], v["CurrentInstanceCount"], d["EndpointStatus"]

    def activities(self, rid: str, not_scaled: bool = False) -> list[dict]:  # type: ignore[type-arg]
        return self.aas.describe_scaling_activities(
            ServiceNamespace=NS, ResourceId=rid, IncludeNotScaledActivities=not_scaled
        )["ScalingActivities"]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    clock = OffsetClock()
    thread = ServerThread(
        tmp_path, clock=clock, ping_interval=0.3, ping_timeout=1.0, usage_interval=1.0,
        metrics_flush_interval=0.5, logs_flush_interval=0.2, stop_grace_period=2.0,
        health_check_timeout=15.0, invocation_timeout=5.0,
    ).start()  # fmt: skip
    yield Live(thread, clock)
    thread.stop()


STEPS = [
    {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 20, "ScalingAdjustment": 1},
    {"MetricIntervalLowerBound": 20, "ScalingAdjustment": 2},
]


def test_step_scaling_cooldown_and_maximum(live: Live) -> None:
    rid = live.endpoint("stepped")
    live.register(rid, MinCapacity=1, MaxCapacity=2)
    arn = live.step_policy(rid, STEPS, Cooldown=300)
    live.user_alarm("backlog-high", arn)
    # DescribeScalingPolicies lists the alarms that name a step policy.
    (policy,) = live.aas.describe_scaling_policies(ServiceNamespace=NS)["ScalingPolicies"]
    assert policy["Alarms"] == [{
        "AlarmName": "backlog-high",
        "AlarmARN": "arn:aws:cloudwatch:us-east-1:000000000000:alarm:backlog-high",
    }]  # fmt: skip

    live.fire("backlog-high", 15.0)  # 5 above the threshold: +1
    wait_for("two instances", lambda: live.counts("stepped") == (2, 2, "InService"))
    (out,) = live.activities(rid)
    assert out["Description"] == "Setting desired instance count to 2."
    assert out["Cause"] == "monitor alarm backlog-high in state ALARM triggered policy steps"
    wait_for("fulfilled", lambda: live.activities(rid)[0]["StatusCode"] == "Successful")

    # Within the cooldown a +1 counts from the capacity before the scale-out (1 + 1 = 2):
    # nothing more. A +2 would ask for 3 but the maximum is 2: a not-scaled activity.
    live.fire("backlog-high", 15.0)
    assert len(live.activities(rid)) == 1
    assert live.activities(rid, not_scaled=True) == live.activities(rid)
    live.clock.offset += 301  # past the cooldown: +1 from 2 asks for 3, over the maximum
    live.fire("backlog-high", 15.0)
    (not_scaled, _) = live.activities(rid, not_scaled=True)
    assert not_scaled["StatusCode"] == "Failed"
    assert not_scaled["NotScaledReasons"] == [
        {"Code": "AlreadyAtMaxCapacity", "MaxCapacity": 2, "MinCapacity": 1, "CurrentCapacity": 2}
    ]
    assert len(live.activities(rid)) == 1  # not listed without IncludeNotScaledActivities
    assert live.counts("stepped")[0] == 2


def test_suspended_scale_out_and_a_deleted_policy_do_nothing(live: Live) -> None:
    rid = live.endpoint("paused")
    live.register(rid, MinCapacity=1, MaxCapacity=3,
                  SuspendedState={"DynamicScalingOutSuspended": True})  # fmt: skip
    (target,) = live.aas.describe_scalable_targets(ServiceNamespace=NS)["ScalableTargets"]
    assert target["SuspendedState"]["DynamicScalingOutSuspended"] is True
    arn = live.step_policy(rid, STEPS)
    live.user_alarm("paused-high", arn)
    live.fire("paused-high", 50.0)
    assert live.activities(rid, not_scaled=True) == []
    assert live.counts("paused")[0] == 1
    # Resumed: the same alarm now scales (+2 for 20 or more above the threshold).
    live.register(rid, SuspendedState={"DynamicScalingOutSuspended": False})
    live.fire("paused-high", 50.0)
    wait_for("three instances", lambda: live.counts("paused") == (3, 3, "InService"))
    # A deleted policy leaves the user's alarm naming it: its action changes nothing.
    live.aas.delete_scaling_policy(
        PolicyName="steps", ServiceNamespace=NS, ResourceId=rid, ScalableDimension=DIM
    )
    live.fire("paused-high", 50.0)
    assert len(live.activities(rid, not_scaled=True)) == 1


def test_scaling_waits_while_the_endpoint_updates(live: Live, tmp_path: Path) -> None:
    rid = live.endpoint("updating")
    live.register(rid, MinCapacity=1, MaxCapacity=3)
    arn = live.step_policy(rid, STEPS)
    live.user_alarm("updating-high", arn)
    # An update whose new fleet never answers /ping keeps the endpoint Updating.
    sick = tmp_path / "sick"
    sick.write_text("")
    live.sagemaker.create_model(
        ModelName="sick", PrimaryContainer=stage_container("two", PING_FAIL_FILE=str(sick))
    )
    live.sagemaker.create_endpoint_config(EndpointConfigName="sick", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "sick", "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])  # fmt: skip
    live.sagemaker.update_endpoint(EndpointName="updating", EndpointConfigName="sick")
    assert live.counts("updating")[2] == "Updating"
    live.fire("updating-high", 15.0)
    (blocked,) = live.activities(rid, not_scaled=True)
    assert blocked["NotScaledReasons"] == [{"Code": "TargetServicePutResourceAsUnscalable"}]
    assert live.activities(rid) == []
    # The update rolls back once the new fleet fails its health check; the next invocation
    # scales.
    wait_for("the rollback", lambda: live.counts("updating")[2] == "InService", timeout=90)
    live.fire("updating-high", 15.0)
    wait_for("two instances", lambda: live.counts("updating") == (2, 2, "InService"))
    wait_for("fulfilled", lambda: [a["StatusCode"] for a in live.activities(rid)] == ["Successful"])


def test_delete_endpoint_deregisters_its_targets_and_alarms(live: Live) -> None:
    rid = live.endpoint("doomed")
    live.register(rid, MinCapacity=1, MaxCapacity=2)
    put = live.aas.put_scaling_policy(
        PolicyName="ipi", ServiceNamespace=NS, ResourceId=rid, ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={"TargetValue": 100.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}},
    )  # fmt: skip
    live.sagemaker.delete_endpoint(EndpointName="doomed")
    wait_for(
        "the target deregistered",
        lambda: live.aas.describe_scalable_targets(ServiceNamespace=NS)["ScalableTargets"] == [],
        timeout=60,
    )
    assert live.aas.describe_scaling_policies(ServiceNamespace=NS)["ScalingPolicies"] == []
    for alarm in put["Alarms"]:
        assert live.server.alarms.get(alarm["AlarmName"]) is None


def test_several_target_tracking_policies_scale_in_only_together(live: Live) -> None:
    rid = live.endpoint("pair", instances=2)
    live.register(rid, MinCapacity=1, MaxCapacity=3)
    lows = {}
    for name in ("first", "second"):
        put = live.aas.put_scaling_policy(
            PolicyName=name, ServiceNamespace=NS, ResourceId=rid, ScalableDimension=DIM,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={"TargetValue": 100.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}},
        )  # fmt: skip
        (lows[name],) = [a["AlarmName"] for a in put["Alarms"] if "-AlarmLow-" in a["AlarmName"]]
    # Early in a minute, so no evaluation resets the states set here before the test ends.
    passes = live.server.alarms.passes
    live.clock.skip_minute(into=3.0)
    wait_for("the minute's evaluation", lambda: live.server.alarms.passes > passes)

    live.fire(lows["first"], 0.0)  # "first" asks to scale in; "second" does not agree yet
    assert live.activities(rid, not_scaled=True) == []
    assert live.counts("pair")[0] == 2
    live.fire(lows["second"], 0.0, reset=False)  # now both low alarms are in ALARM
    wait_for("one instance", lambda: live.counts("pair") == (1, 1, "InService"))
    (activity,) = live.activities(rid)
    assert (
        activity["Cause"]
        == f"monitor alarm {lows['second']} in state ALARM triggered policy second"
    )


def test_lower_maximum_scales_in_and_concurrent_updates_are_refused(live: Live) -> None:
    rid = live.endpoint("shrunk", instances=2)
    live.register(rid, MinCapacity=1, MaxCapacity=1)
    wait_for("one instance", lambda: live.counts("shrunk") == (1, 1, "InService"))
    (activity,) = live.activities(rid)
    assert activity["Cause"] == "maximum capacity was set to 1"
    assert activity["Description"] == "Setting desired instance count to 1."

    # Two registrations of the same target at once: the second meets the first in flight.
    service = live.server.autoscaler.service

    async def both() -> list[object]:
        calls = [
            service.register_scalable_target(
                service_namespace=NS, resource_id=rid, scalable_dimension=DIM, max_capacity=m
            )
            for m in (2, 3)
        ]
        return await asyncio.gather(*calls, return_exceptions=True)

    first, second = asyncio.run_coroutine_threadsafe(both(), live.thread.loop).result(30)
    assert not isinstance(first, BaseException)
    assert type(second).__name__ == "ConcurrentUpdate"
    assert second.code == "ConcurrentUpdateException"  # type: ignore[union-attr]
    (target,) = live.aas.describe_scalable_targets(ServiceNamespace=NS)["ScalableTargets"]
    assert target["MaxCapacity"] == 2


def test_update_endpoint_may_not_drop_or_retype_a_scaled_variant(live: Live) -> None:
    rid = live.endpoint("guarded")
    live.register(rid, MinCapacity=1, MaxCapacity=2)
    live.sagemaker.create_model(ModelName="other", PrimaryContainer=stage_container("two"))
    for config, variant, instance_type in (
        ("renamed", "Other", "ml.m5.large"),
        ("retyped", "AllTraffic", "ml.c5.xlarge"),
        ("same", "AllTraffic", "ml.m5.large"),
    ):
        live.sagemaker.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
            "VariantName": variant, "ModelName": "other", "InitialInstanceCount": 1,
            "InstanceType": instance_type}])  # fmt: skip
    refused = {
        "renamed": "removes the variant AllTraffic",
        "retyped": "changes the instance type of the variant AllTraffic",
    }
    for config, text in refused.items():
        with pytest.raises(live.sagemaker.exceptions.ClientError) as excinfo:
            live.sagemaker.update_endpoint(EndpointName="guarded", EndpointConfigName=config)
        error = excinfo.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert text in error["Message"] and "Deregister the scalable target" in error["Message"]
    assert live.counts("guarded")[2] == "InService"
    # A model change keeps the variant and its instance type: allowed.
    live.sagemaker.update_endpoint(EndpointName="guarded", EndpointConfigName="same")
    wait_for("the update", lambda: live.counts("guarded")[2] == "InService", timeout=90)
    # Deregistered, the variant may go.
    live.aas.deregister_scalable_target(ServiceNamespace=NS, ResourceId=rid, ScalableDimension=DIM)
    live.sagemaker.update_endpoint(EndpointName="guarded", EndpointConfigName="renamed")

"""Target tracking on a real endpoint under a load generator: the instance count rises after
three busy minutes, falls after fifteen quiet ones, and not one request fails across both
changes; DescribeScalingActivities tells both with AWS's causes; the policy's alarms are
the alarm service's, owned.

Minutes are skipped, not waited for: the server runs on ``tandem.clock.OffsetClock``, real
time plus an offset the test moves to the next minute once that minute's traffic is in.
Everything else (processes, sockets, /ping, drains, flushes, the evaluator's polling) runs
in real time; the evaluator sees each skipped minute close and evaluates it as it would.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tandem.clock import OffsetClock
from tandem.telemetry.alarms import AlarmState
from tests.e2e.support import deploy, stage_container
from tests.server_thread import ServerThread

pytestmark = pytest.mark.slow

NS, DIM = "sagemaker", "sagemaker:variant:DesiredInstanceCount"
RID = "endpoint/busy/variant/AllTraffic"
TARGET = 20.0  # invocations per instance per minute


def wait_for(what: str, predicate: Callable[[], object], timeout: float = 60.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Load:
    """Threads invoking the endpoint until stopped, counting outcomes; ``pause`` between
    requests makes a trickle."""

    def __init__(self, url: str, threads: int, pause: float = 0.0) -> None:
        self.url, self.pause = url, pause
        self.outcomes: Counter[str] = Counter()
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def _run(self) -> None:
        runtime = boto3.client(
            "sagemaker-runtime", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30),
        )  # fmt: skip
        while not self._stop.is_set():
            try:
                response = runtime.invoke_endpoint(
                    EndpointName="busy", ContentType="application/json",
                    Body=b'{"instances": [[1]], "sleep": 0.02}',
                )  # fmt: skip
                response["Body"].read()
                outcome = "ok"
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                outcome = "failed"
                with self._lock:
                    self.failures.append(repr(exc))
            with self._lock:
                self.outcomes[outcome] += 1
            if self.pause:
                self._stop.wait(self.pause)

    @property
    def ok(self) -> int:
        with self._lock:
            return self.outcomes["ok"]

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerThread, OffsetClock]]:
    clock = OffsetClock()
    thread = ServerThread(
        tmp_path, clock=clock, ping_interval=0.3, ping_timeout=1.0, usage_interval=1.0,
        metrics_flush_interval=0.5, logs_flush_interval=0.2, stop_grace_period=2.0,
        health_check_timeout=20.0, invocation_timeout=5.0,
    ).start()  # fmt: skip
    yield thread, clock
    thread.stop()


def _client(url: str, service: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip


def test_target_tracking_scales_out_under_load_and_back_in_without_a_failed_request(
    server: tuple[ServerThread, OffsetClock],
) -> None:
    thread, clock = server
    alarms = thread.server.alarms
    sagemaker = _client(thread.url, "sagemaker")
    aas = _client(thread.url, "application-autoscaling")
    deploy(sagemaker, "busy", [stage_container("one")])
    aas.register_scalable_target(
        ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM, MinCapacity=1, MaxCapacity=2
    )
    put = aas.put_scaling_policy(
        PolicyName="ipi", ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": TARGET,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleOutCooldown": 60, "ScaleInCooldown": 60,
        },
    )  # fmt: skip
    names = {a["AlarmName"].split("-")[-6]: a["AlarmName"] for a in put["Alarms"]}
    high, low = names["AlarmHigh"], names["AlarmLow"]
    for name in (high, low):
        alarm = alarms.get(name)
        assert alarm is not None and alarm.owner == "application-autoscaling"

    def next_minute() -> None:
        """Close the current minute and wait until the evaluator has evaluated it."""
        passes = alarms.passes
        clock.skip_minute()
        wait_for("an evaluation pass", lambda: alarms.passes > passes)

    def instances() -> tuple[int, int, str]:
        d = sagemaker.describe_endpoint(EndpointName="busy")
        (v,) = d["ProductionVariants"]
        return v["DesiredInstanceCount"], v["CurrentInstanceCount"], d["EndpointStatus"]

    # Busy: well over the target per instance, minute after minute, until AlarmHigh fires.
    clock.skip_minute()
    load_started = clock.time()
    heavy = Load(thread.url, threads=3).start()
    busy_minutes = 0
    try:
        # Counted by the alarm's state, which the evaluation pass sets; the scaling action it
        # starts lands a moment later (DesiredInstanceCount), and under load after the check.
        while alarms.get(high).state_value is not AlarmState.ALARM:
            start = heavy.ok
            wait_for("a busy minute", lambda: heavy.ok - start >= 3 * TARGET, timeout=60)  # noqa: B023
            next_minute()
            busy_minutes += 1
            assert busy_minutes <= 5, "no scale-out after five busy minutes"
        # CloudWatch needs 3 of 3 breaching minutes; the action runs at once.
        assert busy_minutes == 3
        wait_for("the new instance InService", lambda: instances() == (2, 2, "InService"))
        scaled_out_by = clock.time()
    finally:
        heavy.stop()
    assert heavy.outcomes["ok"] > 0
    assert heavy.failures == []

    # Quiet: a trickle far under the target. Scale-in needs 15 of 15 low minutes, counted
    # from the first minute without heavy load (the heavy load ran into the current one).
    trickle = Load(thread.url, threads=1, pause=0.3).start()
    quiet_minutes = 0
    try:
        next_minute()
        while alarms.get(low).state_value is not AlarmState.ALARM:
            next_minute()
            quiet_minutes += 1
            assert quiet_minutes <= 18, "no scale-in after eighteen quiet minutes"
        assert quiet_minutes == 15
        wait_for("the scale-in done", lambda: instances() == (1, 1, "InService"))
        # A few more requests on the remaining instance after the drain.
        after = trickle.ok
        wait_for("requests after scale-in", lambda: trickle.ok >= after + 3)
    finally:
        trickle.stop()
    assert trickle.failures == []
    assert trickle.outcomes["ok"] > 0

    activities = aas.describe_scaling_activities(ServiceNamespace=NS, ResourceId=RID)[
        "ScalingActivities"
    ]
    assert [a["Description"] for a in activities] == [
        "Setting desired instance count to 1.",
        "Setting desired instance count to 2.",
    ]
    assert [a["Cause"] for a in activities] == [
        f"monitor alarm {low} in state ALARM triggered policy ipi",
        f"monitor alarm {high} in state ALARM triggered policy ipi",
    ]
    assert [a["StatusCode"] for a in activities] == ["Successful", "Successful"]
    assert activities[1]["StatusMessage"] == (
        "Successfully set desired instance count to 2. Change successfully fulfilled by sagemaker."
    )
    # The policy's alarms, through CloudWatch's own API: both listed, each with the state
    # change to ALARM and the successful scaling action in its history.
    cloudwatch = _client(thread.url, "cloudwatch")
    listed = cloudwatch.describe_alarms(AlarmNames=[high, low])["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in listed) == sorted([high, low])
    for name in (high, low):
        history = cloudwatch.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
        summaries = [h["HistorySummary"] for h in history]
        assert any(s.endswith("to ALARM") for s in summaries), summaries
        assert any(
            s.startswith(f"Successfully executed action {put['PolicyARN']}:createdBy/")
            for s in summaries
        ), summaries
    scale_in, scale_out = (a["StartTime"].timestamp() for a in activities)
    # Out within the alarm's three minutes (plus the evaluation delay) of sustained load...
    assert load_started + 3 * 60 <= scale_out <= load_started + 4 * 60
    assert scale_out <= scaled_out_by
    # ...in only after fifteen quiet minutes, once the scale-out cooldown is long over.
    assert scale_in - scale_out >= 15 * 60

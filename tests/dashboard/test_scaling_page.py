"""The endpoint page's autoscaling section in a real browser: each scaling activity is a
marker on the page's time axis and a row with its cause; text from the server (a policy
name holding HTML) is shown as text."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard.conftest import _missing
from tests.e2e.support import client, deploy, stage_container
from tests.server_process import FAST_FLAGS, ServerProcess

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("scaling.cjs")
NS, DIM = "sagemaker", "sagemaker:variant:DesiredInstanceCount"
RID = "endpoint/scaled/variant/AllTraffic"
POLICY = '<img src=x onerror="window.__xss=1">steps'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    proc = ServerProcess(tmp_path_factory.mktemp("tandem-scaling-page"), extra=FAST_FLAGS).start()
    yield proc
    proc.stop()


def _wait(predicate, what: str, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return value


def test_scaling_activities_on_the_endpoint_page(server: ServerProcess, tmp_path: Path) -> None:
    sm, aas, cw = (
        client(server, s) for s in ("sagemaker", "application-autoscaling", "cloudwatch")
    )
    deploy(sm, "scaled", [stage_container("one")])
    aas.register_scalable_target(ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM,
                                 MinCapacity=1, MaxCapacity=2)  # fmt: skip
    arn = aas.put_scaling_policy(
        PolicyName=POLICY, ServiceNamespace=NS, ResourceId=RID, ScalableDimension=DIM,
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [
            {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]},
    )["PolicyARN"]  # fmt: skip
    cw.put_metric_alarm(
        AlarmName="backlog", MetricName="Backlog", Namespace="Custom/Queue", Statistic="Average",
        Period=60, EvaluationPeriods=1, Threshold=10.0, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[arn],
    )  # fmt: skip
    cw.set_alarm_state(AlarmName="backlog", StateValue="ALARM", StateReason="test",
                       StateReasonData=json.dumps({"recentDatapoints": [50.0]}))  # fmt: skip

    def done() -> list[dict]:  # type: ignore[type-arg]
        items = aas.describe_scaling_activities(ServiceNamespace=NS)["ScalingActivities"]
        return items if items and items[0]["StatusCode"] == "Successful" else []

    (activity,) = _wait(done, "the scale-out fulfilled")
    shot = Path(os.environ.get("TANDEM_SCREENSHOTS") or tmp_path) / "endpoint-scaling.png"
    proc = subprocess.run(["node", str(SCRIPT), server.url, "scaled", str(shot)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["errors"] == []
    assert seen["limits"] == "AllTraffic: 1–2 instances"
    assert [m["status"] for m in seen["marks"]] == ["Successful"]
    assert 0 <= seen["marks"][0]["left"] <= 100
    ((started, status, description, cause, message),) = seen["rows"]
    assert (status, description) == ("Successful", "Setting desired instance count to 2.")
    assert cause == f"monitor alarm backlog in state ALARM triggered policy {POLICY}"
    assert message == activity["StatusMessage"]
    assert started.count(":") == 2
    assert seen["injected"] == [None, 0]
    assert shot.stat().st_size > 0

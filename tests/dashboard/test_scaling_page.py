"""The endpoint page's autoscaling section in a real browser: each scaling activity is a
marker on the page's time axis and a row with its cause; text from the server (a policy
name holding HTML) is shown as text."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.browser import chromium, missing
from tests.e2e.support import client, deploy, stage_container
from tests.server_process import FAST_FLAGS, ServerProcess

pytestmark = pytest.mark.slow

QUIET = """localStorage.setItem("tandem.dashboard", JSON.stringify({ range: 3600, refresh: 0 }));"""
NS, DIM = "sagemaker", "sagemaker:variant:DesiredInstanceCount"
RID = "endpoint/scaled/variant/AllTraffic"
POLICY = '<img src=x onerror="window.__xss=1">steps'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    proc = ServerProcess(tmp_path_factory.mktemp("tandem-scaling-page"), extra=FAST_FLAGS).start()
    yield proc
    proc.stop()


def _scaling_section(base: str, endpoint: str, shot: Path) -> dict[str, Any]:
    """What the endpoint page's autoscaling section shows, read in Debian's Chromium."""
    out: dict[str, Any] = {"errors": []}
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        context.add_init_script(script=QUIET)
        page = context.new_page()
        page.on("pageerror", lambda e: out["errors"].append(f"pageerror: {e.message}"))
        page.goto(f"{base}/dashboard/#/endpoints/{endpoint}")
        page.locator('[data-testid="scaling-activities"]').wait_for(timeout=30_000)
        out["limits"] = page.locator('[data-testid="scaling"] p.muted').first.text_content()
        out["marks"] = page.eval_on_selector_all(
            '[data-testid="scaling-axis"] .scaling-mark',
            "(els) => els.map((e) => ({ status: e.dataset.status,"
            " left: parseFloat(e.style.left) }))",
        )
        out["rows"] = page.eval_on_selector_all(
            '[data-testid="scaling-activities"] tbody tr',
            "(rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent))",
        )
        page.locator('[data-testid="scaling"]').screenshot(path=shot)
        out["injected"] = page.evaluate("""() => [window.__xss ?? null, document.querySelectorAll(
            '[data-testid="scaling"] img, [data-testid="scaling"] script').length]""")
        context.close()
    return out


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
    seen = _scaling_section(server.url, "scaled", shot)
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

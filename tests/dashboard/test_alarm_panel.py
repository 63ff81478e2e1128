"""The endpoint page's alarm panel in a real browser: the endpoint's alarms (and no other),
their states and reasons as text, and their states on the time axis."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.support import client, deploy, stage_container
from tests.server_process import FAST_FLAGS, ServerProcess

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("alarms.cjs")
EVIL = 'x<img src=x onerror="window.__xss=1">'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("node") is None
        or not Path("/usr/bin/chromium").exists()
        or not (REPO / "frontend" / "node_modules" / "playwright-core").exists(),
        reason="node, Debian's chromium and frontend/node_modules are needed",
    ),
]


def test_endpoint_page_shows_its_alarms_states_on_the_time_axis(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", extra=list(FAST_FLAGS)).start()
    try:
        deploy(client(server, "sagemaker"), "watched", [stage_container("only")])
        cw = client(server, "cloudwatch")
        dims = [{"Name": "EndpointName", "Value": "watched"},
                {"Name": "VariantName", "Value": "AllTraffic"}]  # fmt: skip

        def put(name: str, dimensions: list[dict[str, str]]) -> None:
            cw.put_metric_alarm(
                AlarmName=name, Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors",
                Dimensions=dimensions, Statistic="Sum", Period=60, EvaluationPeriods=1,
                Threshold=1.0, ComparisonOperator="GreaterThanOrEqualToThreshold")  # fmt: skip

        put("watched-5xx", dims)
        put(EVIL, dims)
        put("elsewhere-5xx", [{"Name": "EndpointName", "Value": "elsewhere"}])
        time.sleep(2)  # a visible INSUFFICIENT_DATA stretch before the change
        cw.set_alarm_state(AlarmName="watched-5xx", StateValue="ALARM", StateReason="<b>drill</b>")
        cw.set_alarm_state(AlarmName=EVIL, StateValue="OK", StateReason="quiet")
        done = subprocess.run(
            ["node", str(SCRIPT), server.url, "watched", str(tmp_path / "alarms.png")],
            capture_output=True, text=True, timeout=150, check=False,
        )  # fmt: skip
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr[-4000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["errors"] == []
    rows = {r["name"]: r for r in seen["rows"]}
    assert sorted(rows) == sorted(["watched-5xx", EVIL])  # not the other endpoint's alarm
    assert rows["watched-5xx"]["cells"] == ["watched-5xx", "ALARM", "Invocation5XXErrors",
                                            "<b>drill</b>"]  # fmt: skip
    assert "alarm-alarm" in rows["watched-5xx"]["badge"]
    assert rows[EVIL]["cells"][:2] == [EVIL, "OK"]
    assert seen["injected"] is None and seen["boldInPanel"] == 0  # text, never markup
    timeline = {t["name"]: t["segments"] for t in seen["timeline"]}
    states = [s["state"] for s in timeline["watched-5xx"]]
    assert states == ["INSUFFICIENT_DATA", "ALARM"]
    first, last = timeline["watched-5xx"]
    assert 0 < first["left"] and first["left"] + first["width"] == pytest.approx(last["left"])
    assert [s["state"] for s in timeline[EVIL]] == ["INSUFFICIENT_DATA", "OK"]
    assert (tmp_path / "alarms.png").stat().st_size > 0

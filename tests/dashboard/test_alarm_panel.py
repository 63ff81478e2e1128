"""The endpoint page's alarm panel in a real browser: the endpoint's alarms (and no other),
their states and reasons as text, and their states on the time axis."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.browser import chromium, missing
from tests.e2e.support import client, deploy, stage_container
from tests.server_process import FAST_FLAGS, ServerProcess

EVIL = 'x<img src=x onerror="window.__xss=1">'
QUIET = """localStorage.setItem("tandem.dashboard", JSON.stringify({ range: 900, refresh: 0 }));"""

pytestmark = pytest.mark.slow


def _alarm_panel(base: str, endpoint: str, shot: Path) -> dict[str, Any]:
    """What the endpoint page's alarm panel shows, read in Debian's Chromium."""
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 1200})
        context.add_init_script(script=QUIET)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(e.message))
        page.goto(f"{base}/#/endpoints/{endpoint}")
        panel = page.locator("[data-testid=endpoint-alarms]")
        panel.wait_for(timeout=60_000)
        rows = panel.locator("tbody tr").evaluate_all("""(trs) => trs.map((tr) => ({
          name: tr.dataset.alarm, cells: [...tr.cells].map((td) => td.textContent),
          badge: tr.querySelector(".status")?.className || "" }))""")
        timeline = panel.locator(".timeline-row").evaluate_all("""(els) => els.map((row) => ({
          name: row.dataset.name,
          segments: [...row.querySelectorAll(".timeline-seg")].map((s) => ({
            state: s.dataset.state, left: parseFloat(s.style.left),
            width: parseFloat(s.style.width) })) }))""")
        injected = page.evaluate("() => window.__xss || null")
        bold = panel.locator("b").count()
        panel.screenshot(path=shot)
        context.close()
    return {"rows": rows, "timeline": timeline, "injected": injected, "boldInPanel": bold,
            "errors": errors}


def _clear_of_the_next_evaluation(room: float = 45.0) -> None:
    """Each minute's evaluation (1.5 s past the minute with FAST_FLAGS' 0.5 s flush) replaces
    a SetAlarmState, as CloudWatch's does: go on only when the next one is ``room`` s away."""
    into = time.time() % 60
    until_next = (1.5 - into) % 60
    if until_next < room:
        time.sleep(until_next + 3.0)  # past that evaluation's pass


def test_endpoint_page_shows_its_alarms_states_on_the_time_axis(tmp_path: Path) -> None:
    reason = missing()
    if reason:
        pytest.skip(reason)
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
        _clear_of_the_next_evaluation()
        cw.set_alarm_state(AlarmName="watched-5xx", StateValue="ALARM", StateReason="<b>drill</b>")
        cw.set_alarm_state(AlarmName=EVIL, StateValue="OK", StateReason="quiet")
        seen = _alarm_panel(server.url, "watched", tmp_path / "alarms.png")
    finally:
        server.stop()
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

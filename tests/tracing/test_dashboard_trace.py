"""The dashboard follows a log line to its trace and back, in Chromium (Python's playwright
driving /usr/bin/chromium; no browser download)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import client, deploy
from tests.server_process import ServerProcess

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
HANDLER = Path(__file__).resolve().parent / "handler"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
TRACE_A = "7af92f3577b34da6a3ce929d0e0e4736"
TRACE_B = "8bf92f3577b34da6a3ce929d0e0e4736"
GROUP = "/aws/sagemaker/Endpoints/dash"


def _handler(name: str) -> dict:  # type: ignore[type-arg]
    return {"ContainerHostname": name, "Image": IMAGE,
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                            "SAGEMAKER_SUBMIT_DIRECTORY": str(HANDLER)}}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def _invoke(server: ServerProcess, trace_id: str) -> None:
    runtime = client(server, "sagemaker-runtime")

    def add(request, **_: object) -> None:  # type: ignore[no-untyped-def]
        request.headers["traceparent"] = f"00-{trace_id}-00f067aa0ba902b7-01"

    runtime.meta.events.register("before-sign.sagemaker-runtime.InvokeEndpoint", add)
    response = runtime.invoke_endpoint(EndpointName="dash", ContentType="application/json",
                                       Body=json.dumps({"instances": [[1]]}))
    assert json.loads(response["Body"].read()) == {"instances": [[100]]}


def test_follows_a_log_line_to_its_trace_and_back_in_chromium(
        traced_server: ServerProcess, browser) -> None:  # type: ignore[no-untyped-def]
    deploy(client(traced_server, "sagemaker"), "dash", [_handler("pre"), _handler("model")])
    _invoke(traced_server, TRACE_A)
    _invoke(traced_server, TRACE_B)
    logs = client(traced_server, "logs")
    deadline = time.monotonic() + 30
    while len(logs.filter_log_events(logGroupName=GROUP, filterPattern="trace_id")["events"]) < 4:
        assert time.monotonic() < deadline, "the traced log lines never arrived"
        time.sleep(0.2)

    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{traced_server.url}/dashboard/#/logs?group={GROUP}")
        link = page.locator(f'[data-testid="trace-link"]:text-is("{TRACE_A}")').first
        link.wait_for(timeout=30_000)
        row = link.locator("xpath=ancestor::div[contains(@class,'log-row')]")
        assert "predicting 1 rows" in row.inner_text()
        link.click()

        # Arrow functions, not expressions: the page's CSP forbids eval, which playwright uses
        # to poll an expression.
        page.wait_for_function(f"() => document.body.dataset.traceLoaded === '{TRACE_A}'",
                               timeout=30_000)
        assert f"#/traces/{TRACE_A}" in page.url
        spans = page.locator('[data-testid="trace-span"]')
        assert spans.count() == 3  # the request's SERVER span, a CLIENT span per container
        containers = [spans.nth(i).locator('[data-testid="span-container"]').inner_text()
                      for i in range(3)]
        assert containers == ["", "pre", "model"]
        durations = [float(spans.nth(i).locator('[data-testid="span-duration"]').inner_text()
                           .replace(",", "")) for i in range(3)]
        assert all(d > 0 for d in durations) and durations[0] >= durations[1] + durations[2]
        assert "dash" in page.locator("dl.facts").inner_text()

        page.locator('[data-testid="trace-logs-link"]').click()
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"log-list\"] .log-row').length"
            " === 2 && "
            f"document.querySelector('[data-testid=\"filter-pattern\"]').value === '\"{TRACE_A}\"'",
            timeout=30_000)
        rows = page.locator('[data-testid="log-list"] .log-row')
        texts = [rows.nth(i).inner_text() for i in range(2)]
        assert all(TRACE_A in t and "predicting 1 rows" in t for t in texts)
        assert sorted(t.split("/")[-1].split()[0] for t in texts) == ["model", "pre"]
        assert not any(TRACE_B in t for t in texts)
        assert errors == []
    finally:
        page.close()
